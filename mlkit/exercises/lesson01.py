"""Lesson 01 exercises: write expectations, split without leakage, release and restore data.

Four exercises on the real SMS data, each checked by running the learner's code on fresh
inputs (new deliveries, a new DVC repository), never by reading it. The quiz is
``quizzes/01_data.toml``. Used by ``solutions/01_data.ipynb`` and its learner copy
``exercises/01_data.ipynb``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.core import Mistake, Question

LESSON = "01_data"
DATA_FILE = "data/messages.csv"


# --- shared fixtures (real data) --------------------------------------------------------------
def _delivery(n: int, seed: int):
    """A clean delivery of ``n`` messages: id, text, label, n_chars."""
    df = fixtures.sms().sample(n, random_state=seed).reset_index(names="id")
    df["n_chars"] = df["text"].str.len()
    return df[["id", "text", "label", "n_chars"]]


def deliveries(seed: int = 0):
    """(clean, bad): two deliveries of 1,000 messages. The bad one has a few empty texts
    and a few labels written "Spam" (a partner's export changed its format)."""
    clean = _delivery(1000, seed)
    return clean, _break(_delivery(1000, seed + 1), seed)


def _empty_texts(df, seed):
    bad = df.copy()
    rows = bad.sample(frac=0.03, random_state=seed).index
    bad.loc[rows, "text"], bad.loc[rows, "n_chars"] = "", 0
    return bad


def _capital_labels(df, seed):
    bad = df.copy()
    rows = bad[bad.label == "spam"].sample(frac=0.3, random_state=seed).index
    bad.loc[rows, "label"] = "Spam"
    return bad


def _break(df, seed):
    return _capital_labels(_empty_texts(df, seed), seed)


# --- q1: expectations that pass the clean batch and catch the bad one ---------------------------
def _suite_from(expectations: Any):
    import great_expectations as gx
    from great_expectations.expectations.expectation import Expectation

    if isinstance(expectations, gx.ExpectationSuite):
        expectations = list(expectations.expectations)
    if not isinstance(expectations, (list, tuple)) or not expectations:
        raise Mistake("my_expectations() should return a non-empty list of GX expectations, e.g. "
                      "[gxe.ExpectColumnValuesToNotBeNull(column='text')].")
    wrong = [type(e).__name__ for e in expectations if not isinstance(e, Expectation)]
    if wrong:
        raise Mistake("Items of the list must be GX expectations (gxe.Expect...(...)); "
                      f"found {', '.join(wrong)}.")
    return gx.ExpectationSuite(name="learner_suite", expectations=[e.copy() for e in expectations])


def _check_q1(my_expectations) -> str:
    from mlkit.data import validation

    clean, _ = deliveries()
    for k, batch in enumerate([clean, _delivery(1000, 11), _delivery(600, 12)]):
        result = validation.validate(batch, _suite_from(my_expectations()))
        if not result.success:
            failed = ", ".join(validation.failures(result)["expectation"])
            which = "the clean delivery" if k == 0 else "another clean delivery (different messages)"
            raise Mistake(f"Too strict: {failed} fails on {which}. Expectations must hold for every good "
                          "batch, not only this one: avoid exact counts or means; use ranges.")
    for name, fault in [("empty texts", _empty_texts), ("labels written 'Spam'", _capital_labels)]:
        result = validation.validate(fault(_delivery(1000, 21), 3), _suite_from(my_expectations()))
        if result.success:
            raise Mistake(f"Your suite lets a delivery with {name} through. Which expectation would "
                          "fail on it? Look at the bad batch: bad[bad.text == ''] and bad.label.unique().")
    return "The suite passes every clean delivery and catches both faults of the bad one."


q1 = Question(
    LESSON, "q1", "Write expectations that pass the clean batch and catch the bad one",
    answer="my_expectations", check=_check_q1,
    hints=[
        "Compare the two batches: bad.label.value_counts() and (bad.text.str.len() == 0).sum().",
        "One expectation for the label's allowed values, one for the text's length (at least 1 character).",
        "gxe.ExpectColumnValuesToBeInSet(column='label', value_set=[...]) and "
        "gxe.ExpectColumnValueLengthsToBeBetween(column='text', min_value=1).",
    ],
)


# --- q2: split without leakage -----------------------------------------------------------------
def _with_variants(df):
    """The SMS data plus 40 copies that differ only in case and spacing."""
    import pandas as pd

    extra = fixtures.sms_deduped().sample(40, random_state=5).copy()
    extra["text"] = "  " + extra["text"].str.upper() + " "
    return pd.concat([df, extra], ignore_index=True)


def _check_q2(split_without_leakage) -> str:
    from mlkit.data import prep

    df = _with_variants(fixtures.sms())
    out = split_without_leakage(df.copy(), test_size=0.25, seed=0)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise Mistake(f"split_without_leakage should return (train, test); it returned {type(out).__name__}.")
    train, test = out
    key = prep.normalize_text
    exact = int(test.text.isin(set(train.text)).sum())
    if exact:
        raise Mistake(f"{exact} test texts are also in train, word for word. Remove the copies *before* "
                      "splitting (deduplicating each side afterwards cannot remove copies across sides).")
    near = prep.overlap(train, test)
    if near:
        raise Mistake(f"{near} test texts have a copy in train that differs only in case or spaces. "
                      "Deduplicate on a normalised text (lower case, stripped), not on the raw text.")
    n_unique = int((~key(df.text).duplicated()).sum())
    if len(train) + len(test) < n_unique:
        raise Mistake(f"train + test hold {len(train) + len(test)} messages but there are {n_unique} "
                      "distinct ones: keep one copy of each text (drop_duplicates keeps the first one; "
                      "keep=False drops them all).")
    if len(train) + len(test) > n_unique:
        raise Mistake(f"train + test hold {len(train) + len(test)} rows, more than the {n_unique} "
                      "distinct texts.")
    share = len(test) / n_unique
    if abs(share - 0.25) > 0.01:
        raise Mistake(f"The test set holds {share:.1%} of the messages; test_size=0.25 asks for 25%.")
    gap = abs(train.label.eq("spam").mean() - test.label.eq("spam").mean())
    if gap > 0.01:
        raise Mistake(f"The spam share differs by {gap:.1%} between train and test: stratify on the label.")
    again, other = split_without_leakage(df.copy(), 0.25, 0)[1], split_without_leakage(df.copy(), 0.25, 1)[1]
    if set(again.text) != set(test.text):
        raise Mistake("Two calls with the same seed give different test sets: pass seed as random_state.")
    if set(other.text) == set(test.text):
        raise Mistake("seed=1 gives the same test set as seed=0: use the seed argument.")
    return f"{len(train)} train and {len(test)} test messages, no text on both sides."


q2 = Question(
    LESSON, "q2", "Split without leakage", answer="split_without_leakage", check=_check_q2,
    hints=[
        "Copies must be removed before the split, on a key that ignores case and outer spaces.",
        "key = df.text.str.lower().str.strip(); df = df[~key.duplicated()]; then train_test_split(...).",
        "train_test_split(df, test_size=test_size, random_state=seed, stratify=df.label).",
    ],
)


# --- q3 and q4: release and restore with DVC ---------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    from mlkit.data import versioning

    return versioning.sh(["git", *args], repo, echo=False)


def exercise_repo(path: str | Path, seed: int = 0) -> Path:
    """A fresh git + DVC repository with a local remote and an untracked ``data/messages.csv``
    (release 1's content). Any old one at ``path`` is deleted."""
    from mlkit.data import versioning

    path = Path(path)
    repo = versioning.init_repo(path / "repo", path / "remote", echo=False)
    write_messages(repo, 1, seed)
    return repo


def write_messages(repo: Path, release: int, seed: int = 0) -> str:
    """Write release 1 (800 messages) or 2 (1,200) of data/messages.csv; return its MD5."""
    from mlkit.data import versioning

    target = Path(repo) / DATA_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    _delivery(800 if release == 1 else 1200, seed).to_csv(target, index=False)
    return versioning.file_md5(target)


def _dvc_md5_at(repo: Path, tag: str) -> str | None:
    import yaml

    try:
        text = _git(repo, "show", f"{tag}:{DATA_FILE}.dvc")
    except Exception:  # noqa: BLE001 - missing tag or file
        return None
    return str(yaml.safe_load(text)["outs"][0]["md5"])


def _check_release_once(release, repo: Path, tag: str, md5: str) -> None:
    from mlkit.data import versioning

    release(repo, tag)
    tracked = _git(repo, "ls-files").split()
    if DATA_FILE in tracked:
        raise Mistake(f"{DATA_FILE} itself is in git. Git should hold only {DATA_FILE}.dvc; "
                      "`dvc add` writes a .gitignore so that the data stays out.")
    if not (repo / f"{DATA_FILE}.dvc").exists():
        raise Mistake(f"There is no {DATA_FILE}.dvc: start with `dvc add {DATA_FILE}`.")
    if tag not in _git(repo, "tag").split():
        raise Mistake(f"No git tag {tag!r}: a release needs a name to come back to (`git tag {tag}`).")
    recorded = _dvc_md5_at(repo, tag)
    if recorded is None:
        raise Mistake(f"The commit tagged {tag!r} has no {DATA_FILE}.dvc: `git add` and `git commit` it "
                      "before tagging.")
    if recorded != md5:
        raise Mistake(f"The .dvc file committed under {tag!r} records {recorded[:8]}..., but the data's "
                      f"MD5 is {md5[:8]}...: run `dvc add` again after the data changed, then commit.")
    if versioning.remote_status(repo, f"{DATA_FILE}.dvc"):  # ask DVC, not the remote's folder layout
        raise Mistake("The remote does not hold the data: a colleague could not `dvc pull` it. "
                      "Finish with `dvc push`.")


def _check_q3(release) -> str:
    with fixtures.scratch("mlkit-ex01-") as tmp:
        repo = exercise_repo(tmp)
        _check_release_once(release, repo, "v1", write_messages(repo, 1))
        _check_release_once(release, repo, "v2", write_messages(repo, 2))
    return "Two releases: each tagged in git, each with its data in the DVC remote."


q3 = Question(
    LESSON, "q3", "Release a data version with DVC", answer="release", check=_check_q3,
    hints=[
        "Five commands, in this order: dvc add, git add, git commit, git tag, dvc push.",
        "versioning.sh(f'dvc add {DATA_FILE}', repo), then git add the .dvc file and data/.gitignore.",
    ],
)


def reference_release(repo: Path, tag: str) -> None:
    """The reference answer to q3 (used to prepare q4's repository)."""
    from mlkit.data import versioning

    for cmd in (["dvc", "add", DATA_FILE], ["git", "add", f"{DATA_FILE}.dvc", "data/.gitignore"],
                ["git", "commit", "-q", "-m", f"Release {tag}"], ["git", "tag", tag], ["dvc", "push", "-q"]):
        versioning.sh(cmd, repo, echo=False)


def _check_q4(restore) -> str:
    from mlkit.data import versioning

    with fixtures.scratch("mlkit-ex01-") as tmp:
        repo = exercise_repo(tmp)
        v1 = write_messages(repo, 1)
        reference_release(repo, "v1")
        v2 = write_messages(repo, 2)
        reference_release(repo, "v2")
        data = repo / DATA_FILE
        restore(repo, "v1")
        got = versioning.file_md5(data)
        dvc_md5 = versioning.dvc_hash(repo / f"{DATA_FILE}.dvc")
        if got == v2 and dvc_md5 == v1:
            raise Mistake("The .dvc file is back at v1 but the data is still v2: after git brings back the "
                          ".dvc file, `dvc checkout` makes the data match it.")
        if got == v2:
            raise Mistake("The data is still release 2. `dvc checkout` alone only matches the data to the "
                          "current .dvc file: first bring back the .dvc file of the tag with "
                          "`git checkout v1 -- data/messages.csv.dvc`.")
        if got != v1:
            raise Mistake(f"After restore(repo, 'v1') the data's MD5 is {got[:8]}..., "
                          f"not release 1's {v1[:8]}....")
        restore(repo, "v2")
        if versioning.file_md5(data) != v2:
            raise Mistake("restore(repo, 'v2') did not bring release 2 back: use the tag argument.")
        shutil.rmtree(repo / ".dvc" / "cache")  # a fresh clone: nothing cached locally
        data.unlink()
        try:
            restore(repo, "v1")
        except subprocess.SubprocessError:
            pass
        except Exception as exc:
            if "Mistake" in type(exc).__name__:
                raise
        if not data.exists() or versioning.file_md5(data) != v1:
            raise Mistake("It works while the data is in the local cache, but not in a fresh clone (empty "
                          "cache): `dvc pull` fetches from the remote, then checks out.")
    return "Release 1 restored with its exact hash, even from an empty cache."


q4 = Question(
    LESSON, "q4", "Restore an earlier data version with DVC", answer="restore", check=_check_q4,
    hints=[
        "Two steps: git brings back the small .dvc file of the tag; DVC makes the data match it.",
        "git checkout TAG -- data/messages.csv.dvc, then dvc checkout "
        "(or dvc pull when the cache may be empty).",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4]

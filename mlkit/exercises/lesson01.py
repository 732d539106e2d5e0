"""Lesson 01 exercises: write expectations, split without leakage, release and restore data, join a
feature as of each label's time.

Five exercises on real data (the SMS messages, the bike rentals), each checked by running the learner's code on fresh
inputs (new deliveries, a new DVC repository), never by reading it. Each check is an ``ask``
(runs the learner's code, records what it returned or what it left in the repository) and a
``judge`` (decides from that record); ``hidden`` draws the inputs a grader adds. The quiz is
``quizzes/01_data.toml``. Used by ``solutions/01_data.ipynb`` and its learner copy
``exercises/01_data.ipynb``.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

from mlkit.exercises import fixtures
from mlkit.exercises.answers import Returned, call, kind
from mlkit.exercises.question import Mistake, Question

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
_Q1_EXAMPLE = {"clean": [[1000, 0], [1000, 11], [600, 12]], "faulty": [1000, 21], "fault_seed": 3}
_NESTED = re.compile(r"\([^)]*[+*][^)]*\)\s*[+*{]")  # (a+)+ and the like: exponential backtracking


def _describe_expectations(value: Any) -> Any:
    """What my_expectations() returned, as data: each GX expectation's configuration (its type
    and arguments); anything else by its type's name."""
    import great_expectations as gx
    from great_expectations.expectations.expectation import Expectation

    items = list(value.expectations) if isinstance(value, gx.ExpectationSuite) else value
    if not isinstance(items, (list, tuple)):
        return {"kind": kind(items)}
    return {"items": [{"gx": e.configuration.to_json_dict()} if isinstance(e, Expectation)
                      else {"other": type(e).__name__} for e in items]}


def _ask_q1(case: dict, my_expectations) -> dict:
    got = call(my_expectations)
    return {"suite": Returned(_describe_expectations(got.value)) if got.ok else got}


def _suite_from(described: Any):
    """The learner's expectations rebuilt as a GX suite from their configurations."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    items = described.get("items") if isinstance(described, dict) else None
    if not items:
        raise Mistake("my_expectations() should return a non-empty list of GX expectations, e.g. "
                      "[gxe.ExpectColumnValuesToNotBeNull(column='text')].")
    wrong = [str(i.get("other")) for i in items if not isinstance(i, dict) or "gx" not in i]
    if wrong:
        raise Mistake(f"Items of the list must be GX expectations (gxe.Expect...(...)); found {', '.join(wrong)}.")
    rebuilt = []
    for item in items:
        config = item["gx"] if isinstance(item["gx"], dict) else {}
        for value in (config.get("kwargs") or {}).values():
            if isinstance(value, str) and (len(value) > 500 or _NESTED.search(value)):
                raise Mistake(f"The pattern {value[:60]!r} can take exponential time on some texts (a repeated "
                              "group that repeats): simplify it.")
        try:
            rebuilt.append(ExpectationConfiguration(type=str(config.get("type")),
                                                    kwargs=dict(config.get("kwargs") or {})).to_domain_obj())
        except Exception as exc:  # noqa: BLE001 - GX refuses the configuration: say which
            raise Mistake(f"GX cannot rebuild the expectation {config.get('type')!r}: {str(exc)[:200]}") from None
    return gx.ExpectationSuite(name="learner_suite", expectations=rebuilt)


def _judge_q1(got: dict, case: dict) -> str:
    from mlkit.data import validation

    described = got["suite"].value
    for k, (n, seed) in enumerate(case["clean"]):
        result = validation.validate(_delivery(n, seed), _suite_from(described))
        if not result.success:
            failed = ", ".join(validation.failures(result)["expectation"])
            which = "the clean delivery" if k == 0 else "another clean delivery (different messages)"
            raise Mistake(f"Too strict: {failed} fails on {which}. Expectations must hold for every good "
                          "batch, not only this one: avoid exact counts or means; use ranges.")
    n, seed = case["faulty"]
    for name, fault in [("empty texts", _empty_texts), ("labels written 'Spam'", _capital_labels)]:
        result = validation.validate(fault(_delivery(n, seed), case["fault_seed"]), _suite_from(described))
        if result.success:
            raise Mistake(f"Your suite lets a delivery with {name} through. Which expectation would "
                          "fail on it? Look at the bad batch: bad[bad.text == ''] and bad.label.unique().")
    return "The suite passes every clean delivery and catches both faults of the bad one."


def _hidden_q1(rng: random.Random) -> dict:
    return {"clean": [[rng.randint(300, 1500), rng.randrange(10**6)] for _ in range(3)],
            "faulty": [rng.randint(400, 1500), rng.randrange(10**6)], "fault_seed": rng.randrange(10**6)}


q1 = Question(
    LESSON, "q1", "Write expectations that pass the clean batch and catch the bad one",
    answer="my_expectations", ask=_ask_q1, judge=_judge_q1, examples=[_Q1_EXAMPLE], hidden=_hidden_q1,
    hints=[
        "Compare the two batches: bad.label.value_counts() and (bad.text.str.len() == 0).sum().",
        "One expectation for the label's allowed values, one for the text's length (at least 1 character).",
        "gxe.ExpectColumnValuesToBeInSet(column='label', value_set=[...]) and "
        "gxe.ExpectColumnValueLengthsToBeBetween(column='text', min_value=1).",
    ],
)


# --- q2: split without leakage -----------------------------------------------------------------
@fixtures.by_case
def _q2_frame(case: dict):
    """The SMS data (or, hidden, part of it) plus 40 copies that differ only in case and spacing."""
    import pandas as pd

    df = fixtures.sms()
    if "frac" in case:
        df = df.sample(frac=case["frac"], random_state=case["seed"])
    extra = fixtures.sms_deduped().sample(40, random_state=case.get("variants", 5)).copy()
    extra["text"] = "  " + extra["text"].str.upper() + " "
    return pd.concat([df, extra], ignore_index=True)


def _ask_q2(case: dict, split_without_leakage) -> dict:
    df, size, seed = _q2_frame(case), case.get("test_size", 0.25), case.get("seed_arg", 0)
    return {"split": call(split_without_leakage, df.copy(), test_size=size, seed=seed),
            "again": call(split_without_leakage, df.copy(), size, seed),
            "other": call(split_without_leakage, df.copy(), size, seed + 1)}


def _pair(value: Any) -> tuple[Any, Any]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise Mistake(f"split_without_leakage should return (train, test); it returned {kind(value)}.")
    return value[0], value[1]


def _judge_q2(got: dict, case: dict) -> str:
    from mlkit.data import prep

    df, size = _q2_frame(case), case.get("test_size", 0.25)
    train, test = _pair(got["split"].value)
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
    if abs(share - size) > 0.01:
        raise Mistake(f"The test set holds {share:.1%} of the messages; test_size={size:g} asks for {size:.0%}.")
    gap = abs(train.label.eq("spam").mean() - test.label.eq("spam").mean())
    if gap > 0.01:
        raise Mistake(f"The spam share differs by {gap:.1%} between train and test: stratify on the label.")
    again, other = _pair(got["again"].value)[1], _pair(got["other"].value)[1]
    if set(again.text) != set(test.text):
        raise Mistake("Two calls with the same seed give different test sets: pass seed as random_state.")
    if set(other.text) == set(test.text):
        raise Mistake(f"seed={case.get('seed_arg', 0) + 1} gives the same test set as seed={case.get('seed_arg', 0)}: "
                      "use the seed argument.")
    return f"{len(train)} train and {len(test)} test messages, no text on both sides."


def _hidden_q2(rng: random.Random) -> dict:
    return {"frac": round(rng.uniform(0.5, 0.9), 3), "seed": rng.randrange(10**6), "variants": rng.randrange(10**6),
            "test_size": rng.choice([0.2, 0.3, 0.35]), "seed_arg": rng.randrange(1000)}


q2 = Question(
    LESSON, "q2", "Split without leakage", answer="split_without_leakage",
    ask=_ask_q2, judge=_judge_q2, hidden=_hidden_q2,
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


def _observe_release(repo: Path, tag: str, md5: str) -> dict:
    """What a release left in the repository: git's files and tags, the hash the tag records,
    the data's hash, and whether the remote holds it."""
    from mlkit.data import versioning

    observed = {"tracked": _git(repo, "ls-files").split(), "dvc_file": (repo / f"{DATA_FILE}.dvc").exists(),
                "tags": _git(repo, "tag").split(), "recorded": _dvc_md5_at(repo, tag), "md5": md5}
    if observed["recorded"] is not None:
        observed["unpushed"] = bool(versioning.remote_status(repo, f"{DATA_FILE}.dvc"))
    return observed


def _ask_q3(case: dict, release) -> dict:
    steps = []
    with fixtures.scratch("mlkit-ex01-") as tmp:
        repo = exercise_repo(tmp, case.get("seed", 0))
        for number, tag in enumerate(case.get("tags", ["v1", "v2"]), 1):
            md5 = write_messages(repo, number, case.get("seed", 0))
            outcome = call(release, repo, tag)
            steps.append({"tag": tag, "call": outcome, **(_observe_release(repo, tag, md5) if outcome.ok else {})})
            if not outcome.ok:
                break
    return {"steps": steps}


def _judge_q3(got: dict, case: dict) -> str:
    for step in got["steps"]:
        tag = step["tag"]
        step["call"].value  # noqa: B018 - an error raised by release() is the answer
        if DATA_FILE in step["tracked"]:
            raise Mistake(f"{DATA_FILE} itself is in git. Git should hold only {DATA_FILE}.dvc; "
                          "`dvc add` writes a .gitignore so that the data stays out.")
        if not step["dvc_file"]:
            raise Mistake(f"There is no {DATA_FILE}.dvc: start with `dvc add {DATA_FILE}`.")
        if tag not in step["tags"]:
            raise Mistake(f"No git tag {tag!r}: a release needs a name to come back to (`git tag {tag}`).")
        recorded, md5 = step["recorded"], step["md5"]
        if recorded is None:
            raise Mistake(f"The commit tagged {tag!r} has no {DATA_FILE}.dvc: `git add` and `git commit` it "
                          "before tagging.")
        if recorded != md5:
            raise Mistake(f"The .dvc file committed under {tag!r} records {recorded[:8]}..., but the data's "
                          f"MD5 is {md5[:8]}...: run `dvc add` again after the data changed, then commit.")
        if step.get("unpushed", True):  # ask DVC, not the remote's folder layout
            raise Mistake("The remote does not hold the data: a colleague could not `dvc pull` it. "
                          "Finish with `dvc push`.")
    return "Two releases: each tagged in git, each with its data in the DVC remote."


def _hidden_tags(rng: random.Random) -> list[str]:
    first = rng.choice(["r", "rel-", "data-v", "release-"]) + str(rng.randint(2, 9))
    return [first, first[:-1] + str(int(first[-1]) + 1)]


def _hidden_q3(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "tags": _hidden_tags(rng)}


q3 = Question(
    LESSON, "q3", "Release a data version with DVC", answer="release",
    ask=_ask_q3, judge=_judge_q3, hidden=_hidden_q3,
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


def _data_md5(repo: Path) -> str | None:
    from mlkit.data import versioning

    data = repo / DATA_FILE
    return versioning.file_md5(data) if data.exists() else None


def _ask_q4(case: dict, restore) -> dict:
    from mlkit.data import versioning

    first, second = case.get("tags", ["v1", "v2"])
    seed = case.get("seed", 0)
    out: dict[str, Any] = {"tags": [first, second]}
    with fixtures.scratch("mlkit-ex01-") as tmp:
        repo = exercise_repo(tmp, seed)
        out["v1"] = write_messages(repo, 1, seed)
        reference_release(repo, first)
        out["v2"] = write_messages(repo, 2, seed)
        reference_release(repo, second)
        out["back"] = call(restore, repo, first)
        if not out["back"].ok:
            return out
        out["back_md5"], out["back_dvc"] = _data_md5(repo), versioning.dvc_hash(repo / f"{DATA_FILE}.dvc")
        out["forward"] = call(restore, repo, second)
        out["forward_md5"] = _data_md5(repo)
        shutil.rmtree(repo / ".dvc" / "cache")  # a fresh clone: nothing cached locally
        (repo / DATA_FILE).unlink(missing_ok=True)
        call(restore, repo, first)  # an error here (a failed dvc checkout) is judged by the data it left
        out["fresh_md5"] = _data_md5(repo)
    return out


def _judge_q4(got: dict, case: dict) -> str:
    first, second = got["tags"]
    v1, v2 = got["v1"], got["v2"]
    got["back"].value  # noqa: B018 - an error raised by restore() is the answer
    data_md5, dvc_md5 = got["back_md5"], got["back_dvc"]
    if data_md5 == v2 and dvc_md5 == v1:
        raise Mistake(f"The .dvc file is back at {first} but the data is still {second}: after git brings back the "
                      ".dvc file, `dvc checkout` makes the data match it.")
    if data_md5 == v2:
        raise Mistake(f"The data is still release 2. `dvc checkout` alone only matches the data to the "
                      f"current .dvc file: first bring back the .dvc file of the tag with "
                      f"`git checkout {first} -- data/messages.csv.dvc`.")
    if data_md5 != v1:
        raise Mistake(f"After restore(repo, {first!r}) the data's MD5 is {str(data_md5)[:8]}..., "
                      f"not release 1's {v1[:8]}....")
    got["forward"].value  # noqa: B018
    if got["forward_md5"] != v2:
        raise Mistake(f"restore(repo, {second!r}) did not bring release 2 back: use the tag argument.")
    if got["fresh_md5"] != v1:
        raise Mistake("It works while the data is in the local cache, but not in a fresh clone (empty "
                      "cache): `dvc pull` fetches from the remote, then checks out.")
    return "Release 1 restored with its exact hash, even from an empty cache."


def _hidden_q4(rng: random.Random) -> dict:
    return {"seed": rng.randrange(10**6), "tags": _hidden_tags(rng)}


q4 = Question(
    LESSON, "q4", "Restore an earlier data version with DVC", answer="restore",
    ask=_ask_q4, judge=_judge_q4, hidden=_hidden_q4,
    hints=[
        "Two steps: git brings back the small .dvc file of the tag; DVC makes the data match it.",
        "git checkout TAG -- data/messages.csv.dvc, then dvc checkout "
        "(or dvc pull when the cache may be empty).",
    ],
)


# --- q5: join labels to a feature as of their time ----------------------------------------------
RIDER_TYPES = ("casual", "registered")  # two entities of the bike data: its two kinds of riders


@fixtures.by_case
def _q5_tables(case: dict):
    """(labels, offline, answers): the riders of each kind per hour (the bike data's ``casual`` and
    ``registered`` columns, one entity each); the offline table of ``riders_last_3h`` computed by
    lesson 01's one definition; ``n`` labels drawn at random (requests, on the hour or some minutes
    past it, with the riders of their hour), sorted by time; and the values that the right join and
    its typical mistakes give each label (read-only)."""
    import duckdb
    import numpy as np
    import pandas as pd

    from mlkit.course import datasets
    from mlkit.data import features

    bikes = datasets.load_bike_sharing()
    long = pd.concat([bikes[["datetime", e]].rename(columns={e: "bikers"}).assign(entity=e) for e in RIDER_TYPES])
    log = features.ride_log(long)
    n, seed = case.get("n", 400), case.get("seed", 0)
    labels = log.sample(n, random_state=seed).astype({"datetime": "datetime64[ns]"})
    rng = np.random.default_rng(seed)  # half the requests arrive on the hour, half at some minute past it
    labels["datetime"] += pd.to_timedelta(rng.integers(1, 60, n) * (rng.random(n) < 0.5), unit="min")
    labels = labels.sort_values(["datetime", "entity"], ignore_index=True)
    with duckdb.connect() as con:
        con.register("log", log)
        offline = features.offline_table(con).astype({"hour": "datetime64[ns]", "available_at": "datetime64[ns]"})
        variants = {"right": features.ASOF_JOIN, "naive": features.NAIVE_JOIN,
                    "strict": _variant(features.ASOF_JOIN, ">= f.available_at", "> f.available_at"),
                    "later": _variant(features.ASOF_JOIN, ">= f.available_at", "<= f.available_at"),
                    "no entity": _variant(features.ASOF_JOIN, "l.entity = f.entity AND ", "")}
        answers = {name: _in_order(labels, features.join(con, labels, sql)) for name, sql in variants.items()}
    return labels, offline, answers


def _in_order(labels, joined):
    """The joined riders_last_3h, in the order of ``labels``."""
    joined = joined.astype({"datetime": "datetime64[ns]"})[["entity", "datetime", "riders_last_3h"]]
    return labels[["entity", "datetime"]].merge(joined, on=["entity", "datetime"], how="left").riders_last_3h.to_numpy()


def feature_tables() -> tuple[Any, Any]:
    """(labels, offline) of exercise 5's example: copies to look at and try things on."""
    labels, offline, _ = _q5_tables({})
    return labels.copy(), offline.copy()


def _variant(sql: str, old: str, new: str) -> str:
    if old not in sql:
        raise AssertionError(f"lesson01 q5: {old!r} is no longer in the join's SQL; update the check.")
    return sql.replace(old, new)


def _plain_join(value: Any) -> Any:
    """A returned frame as data the record can hold: its time as text, its other columns as they are."""
    import pandas as pd

    if not isinstance(value, pd.DataFrame) or value.size > 50_000:
        return value
    return value.assign(**{c: value[c].astype(str) for c in value.columns if pd.api.types.is_datetime64_any_dtype(value[c])})


def _ask_q5(case: dict, point_in_time) -> dict:
    labels, offline, _ = _q5_tables(case)
    got = call(point_in_time, labels.copy(), offline.copy())
    return {"joined": Returned(_plain_join(got.value)) if got.ok else got}


def _judge_q5(got: dict, case: dict) -> str:
    import numpy as np
    import pandas as pd

    labels, _, answers = _q5_tables(case)
    joined = got["joined"].value
    if not isinstance(joined, pd.DataFrame):
        raise Mistake(f"point_in_time should return a DataFrame (the labels with a riders_last_3h column); "
                      f"it returned {kind(joined)}.")
    missing = [c for c in ("entity", "datetime", "riders_last_3h") if c not in joined.columns]
    if missing:
        raise Mistake(f"The result lacks the column(s) {missing}: keep the labels' entity and datetime, "
                      "and add the feature's riders_last_3h.")
    if len(joined) != len(labels):
        raise Mistake(f"{len(joined)} rows for {len(labels)} labels: a point-in-time join keeps every label "
                      "once (a left join: a label with no value yet gets NaN).")
    keys = pd.DataFrame({"entity": joined["entity"].astype(str),
                         "datetime": pd.to_datetime(joined["datetime"].astype(str), errors="coerce")})
    mine = keys.assign(value=pd.to_numeric(joined["riders_last_3h"], errors="coerce").to_numpy())
    if keys.isna().any().any() or mine.duplicated(["entity", "datetime"]).any():
        raise Mistake("Each label (entity, datetime) should appear once in the result, with its own time stamp.")
    order = labels[["entity", "datetime"]].merge(mine, on=["entity", "datetime"], how="left")
    values = order["value"].to_numpy(float)

    def same(name: str) -> bool:
        return bool(np.allclose(values, answers[name], equal_nan=True))

    if same("right"):
        return f"All {len(labels)} labels got the newest value known at their time, from their own entity."
    if same("naive"):
        raise Mistake("You matched the label's time to the feature's hour: that window ends with the label's own "
                      "hour, so the answer leaks into the input. Join on available_at <= the label's time.")
    if same("strict"):
        raise Mistake("Your values are one hour old: a value that became available exactly at the label's time "
                      "was known then. Use available_at <= datetime (allow exact matches).")
    if same("later"):
        raise Mistake("Your values became known only after the label's time (a forward match): a request "
                      "cannot read the future. Take the newest row with available_at <= datetime (backward).")
    if same("no entity"):
        raise Mistake("Some labels got the other kind of rider's value: join within the same entity "
                      "(ASOF ... ON l.entity = f.entity AND ..., or merge_asof(..., by='entity')).")
    wrong = ~np.isclose(values, answers["right"], equal_nan=True)
    i = int(np.flatnonzero(wrong)[0])
    raise Mistake(f"{int(wrong.sum())} of {len(labels)} labels got another value than the newest one known at "
                  f"their time; e.g. {labels.entity[i]} at {labels.datetime[i]}: yours {values[i]:.2f}, "
                  f"expected {answers['right'][i]:.2f}. Look at the offline rows of that entity around that time.")


def _hidden_q5(rng: random.Random) -> dict:
    return {"n": rng.randrange(200, 800), "seed": rng.randrange(10**6)}


q5 = Question(
    LESSON, "q5", "Join labels to a feature as of their time", answer="point_in_time",
    ask=_ask_q5, judge=_judge_q5, hidden=_hidden_q5,
    hints=[
        "For each label, the newest offline row of the same entity whose available_at is at or before "
        "the label's datetime.",
        "pandas: pd.merge_asof(labels, offline, left_on='datetime', right_on='available_at', by='entity') "
        "(both sorted by time). DuckDB: the lesson's features.ASOF_JOIN.",
    ],
)


# --- the exercises, in the order learners meet them ----------------------------------------------
QUESTIONS = [q1, q2, q3, q4, q5]

"""Lesson 01, preparation: clean, de-duplicate, engineer features, split without leakage.

The SMS data holds the classic trap: the same text appears several times (329 copies of an
earlier message: 328 exact, 1 differing only in case or spacing).
A random split then puts copies on both sides, and the test score measures memory, not
generalisation. :func:`leakage_experiment` measures by how much; :func:`split` fixes it.

:func:`dedupe` and :func:`split` are the course's ONE definition of "duplicate" and of the
train/test split; :func:`release_frame` applies both to make the frame that lesson 01
releases as ``data@v1`` and that every later lesson trains and evaluates on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlkit.data import textstats

if TYPE_CHECKING:
    import pandas as pd

TEST_SIZE = 0.25  # the share of messages held out for testing, in every lesson
SPLIT_SEED = 0  # the seed of the released split (data@v1)
RELEASE_COLUMNS = ["id", "text", "label", "split"]
FEATURES = list(textstats.FIELDS)  # n_chars, n_words, n_digits, upper_share, has_url, has_phone


def normalize_text(text: pd.Series) -> pd.Series:
    """The key used to spot copies: lower case, outer spaces stripped, inner runs of space collapsed."""
    return text.astype(str).str.lower().str.strip().str.replace(r"\s+", " ", regex=True)


def clean(df: pd.DataFrame) -> pd.DataFrame:
    """Strip texts, lower-case labels, drop rows without text or with an unknown label."""
    out = df.copy()
    out["text"] = out["text"].astype("string").str.strip()
    out["label"] = out["label"].astype("string").str.strip().str.lower()
    keep = out["text"].notna() & (out["text"].str.len() > 0) & out["label"].isin(["ham", "spam"])
    return out[keep].reset_index(drop=True)


def dedupe(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep the first row of each normalised text; return the rows kept and the count removed."""
    dup = normalize_text(df["text"]).duplicated()
    return df[~dup].reset_index(drop=True), int(dup.sum())


def add_features(df: pd.DataFrame) -> pd.DataFrame:
    """The :data:`FEATURES` of each text, and the 0/1 target ``is_spam`` (lesson 01).

    Each row is :func:`mlkit.data.textstats.summary` of its text (the statistics the model
    server logs too), with ``has_url`` and ``has_phone`` as 0/1.
    """
    import pandas as pd

    stats = pd.DataFrame([textstats.summary(t) for t in df["text"].astype(str)], columns=FEATURES, index=df.index)
    out = df.copy()
    for col in FEATURES:
        out[col] = stats[col].astype(int) if col in ("has_url", "has_phone") else stats[col]
    out["is_spam"] = (df["label"] == "spam").astype(int)
    return out


def split(df: pd.DataFrame, test_size: float = TEST_SIZE, seed: int = SPLIT_SEED, dedup: bool = True
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified train/test split; with ``dedup`` copies are removed first so no text is on both sides."""
    from sklearn.model_selection import train_test_split

    data = dedupe(df)[0] if dedup else df
    return train_test_split(data, test_size=test_size, random_state=seed, stratify=data["label"])


def release_frame(df: pd.DataFrame, test_size: float = TEST_SIZE, seed: int = SPLIT_SEED) -> pd.DataFrame:
    """The frame a data release holds (lesson 01 releases it, lessons 02-06 read it).

    :func:`clean`, then :func:`dedupe`, then :func:`split`, recorded in a ``split``
    column ("train"/"test"): columns ``id, text, label, split``, one row per distinct
    message, sorted by ``id`` (added as the row number when missing). Deterministic, so the
    same messages always give the same file and the same DVC hash.
    """
    import pandas as pd

    data = df if "id" in df.columns else df.assign(id=range(len(df)))
    data = dedupe(clean(data.sort_values("id", kind="stable")))[0]
    _, test = split(data, test_size=test_size, seed=seed, dedup=False)
    out = pd.DataFrame({"id": data["id"].astype("int64"), "text": data["text"].astype(str),
                        "label": data["label"].astype(str), "split": "train"})
    out.loc[test.index, "split"] = "test"
    return out.reset_index(drop=True)[RELEASE_COLUMNS]


def overlap(train: pd.DataFrame, test: pd.DataFrame) -> int:
    """How many test rows have a (normalised) copy in train: 0 for a split without leakage."""
    return int(normalize_text(test["text"]).isin(set(normalize_text(train["text"]))).sum())


def _fit_score(train: pd.DataFrame, test: pd.DataFrame) -> tuple[float, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    vec = TfidfVectorizer(sublinear_tf=True)
    model = LogisticRegression(max_iter=1000).fit(vec.fit_transform(train["text"]), train["label"] == "spam")
    y_pred = model.predict(vec.transform(test["text"]))
    y_true = (test["label"] == "spam").to_numpy()
    seen = normalize_text(test["text"]).isin(set(normalize_text(train["text"]))).to_numpy()
    f1_seen = f1_score(y_true[seen], y_pred[seen]) if seen.any() and y_true[seen].any() else float("nan")
    return float(f1_score(y_true, y_pred)), float(f1_seen)


def leakage_experiment(df: pd.DataFrame, seeds: list[int] | range = range(5), test_size: float = 0.25,
                       progress: bool = True) -> pd.DataFrame:
    """TF-IDF + logistic regression scored on a naive split and on a de-duplicated split (lesson 01).

    Returns one row per seed: ``overlap_share`` (test rows with a copy in train),
    ``f1_naive``, ``f1_on_copies`` (naive split, only the copied test rows) and ``f1_dedup``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    for seed in tqdm(list(seeds), desc="splits", disable=not progress):
        train, test = split(df, test_size, seed, dedup=False)
        f1_naive, f1_copies = _fit_score(train, test)
        share = overlap(train, test) / len(test)
        f1_dedup, _ = _fit_score(*split(df, test_size, seed, dedup=True))
        rows.append({"seed": seed, "overlap_share": share, "f1_naive": f1_naive,
                     "f1_on_copies": f1_copies, "f1_dedup": f1_dedup})
    return pd.DataFrame(rows).set_index("seed")

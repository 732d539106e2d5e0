"""Real data sets that ship with the course, loaded offline as pandas DataFrames.

Each file in ``mlkit/course/datasets/`` is a compact gzip copy with a SHA-256 checksum in
``mlkit/course/datasets/CHECKSUMS``; provenance and licences are in ``mlkit/course/datasets/README.md``;
``scripts/extract_data.py`` rebuilds them from their source packages. Nothing is
downloaded at run time.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mlkit.course.errors import DataFileError

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent
_FIX = "Restore it with `git checkout -- mlkit/course/datasets` or rebuild it with `python scripts/extract_data.py`."


@cache
def expected_checksums() -> dict[str, str]:
    sums = DATA_DIR / "CHECKSUMS"
    if not sums.exists():
        raise DataFileError(f"The checksum list {sums} is missing. {_FIX}")
    pairs = (line.split() for line in sums.read_text().splitlines() if line.strip())
    return {name: digest for digest, name in pairs}


def data_file(name: str) -> Path:
    """The path of a shipped data file, after checking that it exists and is intact."""
    expected = expected_checksums().get(name)
    path = DATA_DIR / name
    if expected is None:
        raise DataFileError(f"{name!r} is not a shipped data file; known: {', '.join(expected_checksums())}.")
    if not path.exists():
        raise DataFileError(f"Data file {path} is missing. {_FIX}")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise DataFileError(
            f"Data file {path} is corrupted or was changed (sha256 {actual[:12]}..., "
            f"expected {expected[:12]}...). {_FIX}"
        )
    return path


def verify() -> dict[str, str]:
    """Check every shipped file; return {name: "ok"} or raise DataFileError for the first bad one."""
    return {name: (data_file(name) and "ok") for name in expected_checksums()}


def _read(name: str, **kwargs) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(data_file(name), **kwargs)


def load_sms_spam() -> pd.DataFrame:
    """UCI SMS Spam Collection (4,862 messages, 13% spam): columns ``text``, ``label``
    ("ham" or "spam"). It holds duplicate texts on purpose: lesson 01 deals with them."""
    return _read("sms_spam.csv.gz", dtype={"text": str, "label": str}, keep_default_na=False)


def load_adult() -> pd.DataFrame:
    """UCI Adult census income (32,561 rows): demographic columns including ``sex`` and
    ``race``, and the label ``income`` ("<=50K" or ">50K"). Missing values are NaN."""
    return _read("adult.csv.gz", na_values=["?"])


def load_bike_sharing() -> pd.DataFrame:
    """Capital Bikeshare hourly rentals in 2011 (8,645 rows): ``datetime``, weather
    (``temp``, ``hum``, ``windspeed``, normalised), calendar columns and the count ``bikers``."""
    return _read("bike_sharing_2011.csv.gz", parse_dates=["datetime"])


def load_mnist_sample() -> pd.DataFrame:
    """5,000 MNIST handwritten digits (500 per class): ``label`` and 784 pixel columns
    ``px0``..``px783`` (0-255, 28x28 row-major)."""
    return _read("mnist_5k.csv.gz", dtype="uint8")


def load_digits() -> pd.DataFrame:
    """scikit-learn's 1,797 8x8 digit images: ``label`` and 64 pixel columns (0-16)."""
    from sklearn.datasets import load_digits as _load

    bunch = _load(as_frame=True)
    df = bunch.frame.rename(columns={"target": "label"})
    return df[["label", *bunch.feature_names]]

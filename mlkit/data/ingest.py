"""Lesson 01, collection: read raw data from a file, a database and an HTTP API, then merge.

The three "upstream systems" are real and local: a file drop (CSV and Parquet), a SQLite
database and the paginated JSON API of :mod:`mlkit.data.source_api`, served on 127.0.0.1.
:func:`build_systems` fills them from the SMS spam data, each with its own schema, as
real systems would; :func:`fetch_api` pulls every page with timeouts and retries
(the retry policy is `tenacity`'s, in :func:`get_json`);
:func:`merge_sources` makes one raw table with ingestion metadata.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlkit.course.errors import MlkitError

if TYPE_CHECKING:
    import pandas as pd

    from mlkit.course.processes import BackgroundServer

RAW_COLUMNS = ["id", "text", "label", "source", "ingested_at", "n_chars"]
SOURCES = ("file", "sqlite", "api")
RETRY_STATUS = {429, 500, 502, 503, 504}


class IngestError(MlkitError, RuntimeError):
    """A source could not be read (after retries, where they apply)."""


def release_ids(n_rows: int, release: int) -> range:
    """The message ids that exist upstream at a data release: 70% at release 1, all at 2."""
    if release not in (1, 2):
        raise IngestError(f"release must be 1 or 2, not {release!r}")
    return range(int(n_rows * 0.7) if release == 1 else n_rows)


def build_systems(df: pd.DataFrame, folder: str | os.PathLike, release: int = 1) -> dict[str, Path]:
    """Fill the three upstream systems with the messages of a release (lesson 01).

    Each message goes to one system by ``id % 3``; each system has its own schema:
    the file drop ``export.csv``/``export.parquet`` (id, text, label), the SQLite table
    ``messages`` in ``crm.sqlite`` (id, body, category) and the API's store
    ``api_store.jsonl`` (msg_id, message, is_spam). Rebuilt from scratch on each call.

    Returns:
        {"csv", "parquet", "sqlite", "api_store"}: the paths written.
    """

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = df[["text", "label"]].reset_index(drop=True)
    data.insert(0, "id", range(len(data)))
    data = data.iloc[list(release_ids(len(data), release))]
    part = data["id"] % 3
    paths = {"csv": folder / "export.csv", "parquet": folder / "export.parquet",
             "sqlite": folder / "crm.sqlite", "api_store": folder / "api_store.jsonl"}

    files = data[part == 0]
    files.to_csv(paths["csv"], index=False)
    files.to_parquet(paths["parquet"], index=False)

    paths["sqlite"].unlink(missing_ok=True)
    con = sqlite3.connect(paths["sqlite"])
    try:
        with con:  # one transaction
            con.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT NOT NULL, category TEXT)")
            rows = data[part == 1][["id", "text", "label"]].itertuples(index=False, name=None)
            con.executemany("INSERT INTO messages VALUES (?, ?, ?)", list(rows))
    finally:
        con.close()

    api = data[part == 2]
    tmp = paths["api_store"].with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in api.itertuples(index=False):
            record = {"msg_id": int(row.id), "message": row.text, "is_spam": row.label == "spam"}
            fh.write(json.dumps(record) + "\n")
    os.replace(tmp, paths["api_store"])  # atomic: the API never reads a half-written store
    return paths


def read_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or Parquet file (by its suffix); text stays text ("NA" is not missing)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise IngestError(f"Source file {path} does not exist.")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, keep_default_na=False, dtype={"text": str, "label": str})
    raise IngestError(f"Unknown file type {path.suffix!r}: use .csv or .parquet.")


def read_sqlite(path: str | os.PathLike, query: str, params: tuple = ()) -> pd.DataFrame:
    """Run a read-only SQL query on a SQLite database and return the rows."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise IngestError(f"Database {path} does not exist.")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return pd.read_sql_query(query, con, params=params)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise IngestError(f"Query failed on {path.name}: {exc}") from None
    finally:
        con.close()


def start_api(store: str | os.PathLike, *, fail_every: int = 0, slow_every: int = 0,
              slow_s: float = 2.0, log_file: str | os.PathLike | None = None) -> BackgroundServer:
    """Start the messages API of :mod:`mlkit.data.source_api` on a free port of 127.0.0.1."""
    from mlkit.course.processes import BackgroundServer

    env = {"MLKIT_API_STORE": str(Path(store).resolve()), "MLKIT_API_FAIL_EVERY": str(fail_every),
           "MLKIT_API_SLOW_EVERY": str(slow_every), "MLKIT_API_SLOW_S": str(slow_s)}
    return BackgroundServer.python(
        "-m", "uvicorn", "mlkit.data.source_api:app", "--host", "127.0.0.1", "--port", "{port}",
        "--log-level", "warning", name="messages API", health_path="/health", env=env, log_file=log_file,
    ).start()


@dataclass
class FetchStats:
    """What it took to pull every page from the API."""

    pages: int = 0
    rows: int = 0
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    server_errors: int = 0
    waited_s: float = 0.0  # backoff planned between attempts
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class _Retryable(Exception):
    """An HTTP answer worth retrying (429 or 5xx): raised inside an attempt, seen by tenacity."""


def _describe(exc: BaseException | None) -> str:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.TransportError):
        return f"connection error ({type(exc).__name__})"
    return str(exc)


def get_json(client, url: str, params: dict, *, retries: int, backoff: float, stats: FetchStats) -> dict:
    """GET one URL (lesson 01); retry timeouts, connection errors and 429/5xx with exponential backoff.

    The retry policy is `tenacity`'s: at most ``retries + 1`` attempts, waiting
    ``backoff * 2**(n-1)`` seconds before retry n; a client error (4xx) is not retried.
    ``stats`` counts requests, retries, timeouts and server errors.
    """
    import httpx
    from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    def attempt() -> dict:
        stats.requests += 1
        try:
            resp = client.get(url, params=params)
        except httpx.TimeoutException:
            stats.timeouts += 1
            raise
        if resp.status_code in RETRY_STATUS:
            stats.server_errors += 1
            raise _Retryable(f"HTTP {resp.status_code}")
        if resp.status_code >= 400:  # a client error: retrying will not help
            raise IngestError(f"GET {resp.url} answered HTTP {resp.status_code}: {resp.text[:200]}")
        return resp.json()

    def count_retry(state) -> None:
        stats.retries += 1
        stats.waited_s += state.next_action.sleep

    policy = Retrying(stop=stop_after_attempt(retries + 1), wait=wait_exponential(multiplier=backoff, min=0),
                      retry=retry_if_exception_type((httpx.TransportError, _Retryable)), before_sleep=count_retry)
    try:
        return policy(attempt)
    except RetryError as err:
        last = _describe(err.last_attempt.exception())
        raise IngestError(f"GET {url} {params} failed after {retries + 1} attempts (last: {last}).") from None


def fetch_api(base_url: str, *, page_size: int = 500, timeout: float = 1.0, retries: int = 3,
              backoff: float = 0.05, max_pages: int = 10_000) -> tuple[pd.DataFrame, FetchStats]:
    """Pull every page of ``/messages`` (lesson 01), following ``next_page``.

    Each request has a ``timeout`` in seconds; timeouts, connection errors and HTTP
    429/5xx are retried up to ``retries`` times with exponential backoff. A page that
    still fails raises :class:`IngestError` (no silent partial data).

    Returns:
        The rows as a DataFrame, and the FetchStats (requests, retries, timeouts...).
    """
    import httpx
    import pandas as pd

    stats, items, page = FetchStats(), [], 1
    start = time.perf_counter()
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        while page is not None and stats.pages < max_pages:
            body = get_json(client, "/messages", {"page": page, "page_size": page_size},
                            retries=retries, backoff=backoff, stats=stats)
            items.extend(body["items"])
            stats.pages += 1
            page = body.get("next_page")
    stats.rows, stats.seconds = len(items), time.perf_counter() - start
    return pd.DataFrame(items), stats


def merge_sources(frames: dict[str, pd.DataFrame], ingested_at: datetime | None = None) -> pd.DataFrame:
    """One raw table from per-source frames that already share ``id, text, label``.

    Adds the ingestion metadata: ``source`` (the dict key), ``ingested_at`` (UTC) and
    ``n_chars`` (the message length, cheap to record and handy to watch). Sorted by id.
    """
    import pandas as pd

    when = pd.Timestamp(ingested_at or datetime.now(UTC))
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    parts = []
    for source, frame in frames.items():
        missing = {"id", "text", "label"} - set(frame.columns)
        if missing:
            raise IngestError(f"Source {source!r} lacks columns {sorted(missing)}; map its schema first.")
        part = frame[["id", "text", "label"]].copy()
        part["source"] = source
        parts.append(part)
    if not parts:
        raise IngestError("No sources to merge.")
    raw = pd.concat(parts, ignore_index=True)
    raw["id"] = raw["id"].astype("int64")
    raw["ingested_at"] = when
    raw["n_chars"] = raw["text"].str.len().astype("Int64")
    return raw.sort_values("id", kind="stable").reset_index(drop=True)[RAW_COLUMNS]


def land(frames: dict[str, pd.DataFrame], folder: str | os.PathLike) -> dict[str, Path]:
    """Write each source's extract, as received, to ``folder/<source>.parquet`` (the landing zone)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for source, frame in frames.items():
        paths[source] = folder / f"{source}.parquet"
        frame.reset_index(drop=True).to_parquet(paths[source], index=False)
    return paths


def read_landing(folder: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """The landed extracts back as {source: frame} (the DVC pipeline's ingest stage)."""
    import pandas as pd

    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        raise IngestError(f"No landed extracts (*.parquet) in {folder}.")
    return {p.stem: pd.read_parquet(p) for p in files}


SQL_QUERY = "SELECT id, body AS text, category AS label FROM messages ORDER BY id"


def api_to_common(api_df: pd.DataFrame) -> pd.DataFrame:
    """Map the API's schema (msg_id, message, is_spam) to the common one (id, text, label)."""
    out = api_df.rename(columns={"msg_id": "id", "message": "text"})
    out["label"] = out.pop("is_spam").map({True: "spam", False: "ham"})
    return out[["id", "text", "label"]]


def extract_all(systems: dict[str, Path], api_url: str, **fetch_kwargs) -> dict[str, pd.DataFrame]:
    """The three reads of lesson 01 in one call: {"file", "sqlite", "api"} in the common schema."""
    api_df, _ = fetch_api(api_url, **fetch_kwargs)
    return {"file": read_file(systems["parquet"]), "sqlite": read_sqlite(systems["sqlite"], SQL_QUERY),
            "api": api_to_common(api_df)}

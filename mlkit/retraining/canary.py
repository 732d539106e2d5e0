"""Lesson 06: the canary of a retrain, through lesson 04's model server and router.

:func:`router_canary` starts lesson 04's model server (:mod:`mlkit.deployment.server`, its bike
adapter) twice, for the registered champion and challenger versions of the bike model, and
lesson 04's router (:mod:`mlkit.deployment.router`) in front of them with the champion
primary. It gives the challenger a share of the users (``POST /admin/canary``), sends recent
rows to ``/predict`` with ``X-User`` headers, reads ``/admin/status`` and raises
:class:`mlkit.retraining.pipeline.RetrainError` when the challenger errs, is slower than the
SLO or answers impossible (negative) counts. Every process is stopped, pass or fail.

``fault`` breaks the challenger's server on purpose, with the server's own fault injection
(:data:`FAULTS`): ``errors`` (a fifth of its requests answer 500), ``slow`` (300 ms more per
request) or ``negative`` (every count shifted below zero), for lesson 06's failed canary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlkit.training.bike import INPUTS, TARGET

if TYPE_CHECKING:
    import pandas as pd

FAULTS: dict[str, dict[str, float]] = {  # the server settings that break the challenger (launch.start_server)
    "errors": {"fault_error_rate": 0.2},
    "slow": {"fault_latency_ms": 300.0},
    "negative": {"fault_bad_output_rate": 1.0},
}


def _send(url: str, records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """POST each row to ``url``/predict as user ``user-i``; the predictions each backend answered."""
    from mlkit.course import http

    answered: dict[str, list[float]] = {}
    for i, row in enumerate(records):
        try:
            response = http.request("POST", url.rstrip("/") + "/predict", json=row, headers={"x-user": f"user-{i}"},
                                    timeout=30)
        except http.HttpError:
            continue  # the router counts what failed; a lost connection is not the challenger's answer
        if response.status_code == 200:
            answered.setdefault(response.headers.get("x-backend", "?"), []).append(response.json()[TARGET])
    return answered


def router_canary(champion_uri: str, challenger_uri: str, rows: pd.DataFrame, weight: float = 0.25, *,
                  tracking_uri: str | None = None, slo_p99_ms: float = 250.0, max_error_rate: float = 0.0,
                  min_requests: int = 10, fault: str | None = None,
                  log_dir: str | Path | None = None) -> dict[str, Any]:
    """A canary through lesson 04's server and router (lesson 06): ``weight`` of the users of ``rows``
    go to the challenger.

    ``champion_uri`` and ``challenger_uri`` are registry URIs of the bike model
    (``models:/bike-demand@champion``, ``models:/bike-demand/7``) in the store at ``tracking_uri``
    (default: ``$MLFLOW_TRACKING_URI``). Raises ``RetrainError`` when the challenger's error rate
    exceeds ``max_error_rate``, its p99 latency (as the router measured it) exceeds
    ``slo_p99_ms``, it answers a negative count, or it got fewer than ``min_requests`` requests.
    ``fault`` (one of :data:`FAULTS`) breaks the challenger's server on purpose. Returns
    per-backend requests, errors, p99 and the seconds taken.
    """
    import json

    from mlkit.course import http
    from mlkit.course.processes import stop_all
    from mlkit.deployment import launch
    from mlkit.retraining.pipeline import RetrainError

    if fault is not None and fault not in FAULTS:
        raise ValueError(f"fault must be one of {sorted(FAULTS)} or None, not {fault!r}.")
    missing = [c for c in INPUTS if c not in rows.columns]
    if missing or not len(rows):
        raise ValueError(f"rows must be a non-empty frame with the columns {list(INPUTS)}; missing {missing}.")
    t0 = time.perf_counter()
    records = json.loads(rows[list(INPUTS)].to_json(orient="records"))
    common = {"kind": "bike", "tracking_uri": tracking_uri, "log_dir": log_dir, "start": False}
    servers = {"champion": launch.start_server(champion_uri, name="champion", **common),
               "challenger": launch.start_server(challenger_uri, name="challenger", **(FAULTS[fault] if fault else {}),
                                                 **common)}
    router = launch.start_router({n: s.url for n, s in servers.items()}, "champion", name="canary router",
                                 log_dir=log_dir, start=False)
    procs = [*servers.values(), router]
    try:
        launch.start_all(procs)
        started = time.perf_counter()
        http.call(router.url, "/admin/canary", {"backend": "challenger", "weight": weight})
        answered = _send(router.url, records)
        backends = http.call(router.url, "/admin/status")["backends"]
        summary = {"weight": weight, "start_s": round(started - t0, 2),
                   **{n: {"requests": b["requests"], "errors": b["errors"], "p99_ms": b["p99_ms"],
                          "negative": sum(p < 0 for p in answered.get(n, []))} for n, b in backends.items()}}
        problems = _problems(summary["challenger"], slo_p99_ms, max_error_rate, min_requests)
        if problems:
            http.call(router.url, "/admin/rollback", {})  # every user back on the champion
            raise RetrainError(f"canary through the router: the challenger {'; '.join(problems)} "
                               f"(champion: {summary['champion']['errors']} errors in "
                               f"{summary['champion']['requests']} requests)")
    finally:
        stop_all(procs)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def _problems(c: dict[str, Any], slo_p99_ms: float, max_error_rate: float, min_requests: int) -> list[str]:
    out = []
    if c["requests"] < min_requests:
        out.append(f"got only {c['requests']} requests (fewer than {min_requests}): too few to judge")
    if c["requests"] and c["errors"] / c["requests"] > max_error_rate:
        out.append(f"failed {c['errors']} of {c['requests']} requests")
    if c["p99_ms"] is not None and c["p99_ms"] > slo_p99_ms:
        out.append(f"p99 {c['p99_ms']:.0f} ms is over the SLO of {slo_p99_ms:.0f} ms")
    if c["negative"]:
        out.append(f"answered {c['negative']} negative counts")
    return out


def describe(summary: dict[str, Any]) -> str:
    """One line per backend: requests, errors and p99 as the router saw them (none where nothing was
    timed: answers checked in-process, or a backend that got no request)."""
    def p99(ms: float | None) -> str:
        return "no latency measured" if ms is None else f"p99 {ms:.1f} ms"

    return "\n".join(f"{n:>10}: {b['requests']:>4} requests, {b['errors']} errors, {p99(b.get('p99_ms'))}"
                     for n, b in summary.items() if isinstance(b, dict))


def prediction_check(model: Any, rows: pd.DataFrame) -> dict[str, Any]:
    """A canary without servers (lesson 06's fast backfill): the challenger's answers for ``rows``,
    judged by the same rules as :func:`router_canary` (no impossible negative or non-finite counts);
    raises ``RetrainError`` when they fail, else returns a summary."""
    import numpy as np

    from mlkit.retraining.pipeline import RetrainError

    t0 = time.perf_counter()
    predicted = np.asarray(model.predict(rows), float)
    summary = {"challenger": {"requests": len(predicted), "errors": int((~np.isfinite(predicted)).sum()),
                              "p99_ms": None, "negative": int((predicted < 0).sum())}}
    problems = _problems(summary["challenger"], float("inf"), 0.0, 1)
    if problems:
        raise RetrainError(f"canary on the recent rows: the challenger {'; '.join(problems)}")
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary

"""A real Prometheus (and optionally Alertmanager) on 127.0.0.1, run from a notebook (lesson 05).

Prometheus is an ordinary program: a YAML config names what to scrape and which rule
files to evaluate; it keeps its time series in a folder (here in the lesson's workspace)
and answers PromQL over an HTTP API. These helpers write the config, start the binaries
through :class:`mlkit.course.processes.BackgroundServer` (stopped with the kernel), and
call the API. Where Prometheus is not installed, :func:`available` says so and the lesson
computes the same numbers in Python (``scrape`` and ``alerts``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlkit.course.errors import MlkitError
from mlkit.course.processes import BackgroundServer

INSTALL_HINT = "sudo apt-get install -y prometheus prometheus-alertmanager"
BINARIES = {"prometheus": "prometheus", "promtool": "promtool", "alertmanager": "prometheus-alertmanager"}


def binary(name: str) -> str | None:
    """The path of ``prometheus``, ``promtool`` or ``alertmanager`` (Debian calls it
    ``prometheus-alertmanager``), or None when it is not installed."""
    exe = BINARIES.get(name, name)
    return shutil.which(exe) or (shutil.which("alertmanager") if name == "alertmanager" else None)


def available() -> bool:
    """Whether Prometheus and promtool are installed (lesson 05 falls back to Python if not)."""
    return binary("prometheus") is not None and binary("promtool") is not None


def missing_message() -> str:
    """The one line a learner without Prometheus reads."""
    return f"Prometheus is not installed, so this run computes the same numbers in Python. To install it: {INSTALL_HINT}"


def write_config(folder: str | os.PathLike, targets: Mapping[str, str], *, rule_files: Sequence[str] = (),
                 scrape_interval: str = "1s", alertmanager: str | None = None) -> Path:
    """Write ``prometheus.yml`` into ``folder``: one scrape job per ``{job: "127.0.0.1:port"}``,
    the rule files, and the Alertmanager to send alerts to (``"127.0.0.1:port"``), if any."""
    import yaml

    config: dict[str, Any] = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(Path(r).resolve()) for r in rule_files],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                           for job, target in targets.items()],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    path = Path(folder) / "prometheus.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def add_target(prometheus: BackgroundServer, config: str | os.PathLike, job: str, target: str,
               timeout: float = 15.0) -> bool:
    """Add scrape job ``job`` (``"127.0.0.1:port"``) to a running Prometheus: rewrite its config and
    send SIGHUP, which makes Prometheus reload it. Returns whether the new target is up within
    ``timeout`` seconds (``timeout=0``: does not wait, returns False)."""
    import signal

    import yaml

    path = Path(config)
    data = yaml.safe_load(path.read_text())
    data["scrape_configs"] = [c for c in data["scrape_configs"] if c["job_name"] != job]
    data["scrape_configs"].append({"job_name": job, "static_configs": [{"targets": [target]}]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    os.killpg(os.getpgid(prometheus.pid), signal.SIGHUP)  # its process group: Prometheus, under the launcher's guard
    return timeout > 0 and bool(wait_until(lambda: value(prometheus.url, f'up{{job="{job}"}}') == 1, timeout=timeout))


def check_rules(path: str | os.PathLike) -> str:
    """Run ``promtool check rules`` on a rule file; return its report, raise if it fails."""
    tool = binary("promtool")
    if tool is None:
        raise MlkitError(f"promtool is not installed. {INSTALL_HINT}")
    done = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    out = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise MlkitError(f"promtool rejected {path}:\n{out}")
    return out


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)  # a rerun starts from empty series
    folder.mkdir(parents=True)
    return folder


def start(config: str | os.PathLike, data_dir: str | os.PathLike, *, retention: str = "1h") -> BackgroundServer:
    """Start Prometheus on a free port of 127.0.0.1 with its time series in ``data_dir``
    (emptied first); returns the started server (``.url``, ``.stop()``)."""
    exe = binary("prometheus")
    if exe is None:
        raise MlkitError(missing_message())
    data = _fresh(Path(data_dir))
    cmd = [exe, f"--config.file={config}", f"--storage.tsdb.path={data}",
           "--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.retention.time={retention}",
           "--log.level=warn", "--enable-feature=exemplar-storage"]  # keeps the request ids (lesson 05, tracing)
    return BackgroundServer(cmd, name="Prometheus", health_path="/-/ready", startup_timeout=30,
                            log_file=data.parent / "prometheus.log").start()


def start_alertmanager(folder: str | os.PathLike, webhook_url: str) -> BackgroundServer:
    """Start Alertmanager on 127.0.0.1 (no clustering), routing every alert to ``webhook_url``
    at once (group_wait 1 s): the lesson's local receiver."""
    import yaml

    exe = binary("alertmanager")
    if exe is None:
        raise MlkitError(f"Alertmanager is not installed. {INSTALL_HINT}")
    folder = _fresh(Path(folder))
    config = {
        "route": {"receiver": "lesson", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "lesson", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [exe, f"--config.file={path}", f"--storage.path={folder / 'data'}",
           "--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    return BackgroundServer(cmd, name="Alertmanager", health_path="/-/ready", startup_timeout=30,
                            log_file=folder / "alertmanager.log").start()


def api(url: str, path: str, **params: str) -> Any:
    """GET ``url + path`` of Prometheus' HTTP API; return its ``data`` (raise on an error)."""
    from mlkit.course import http

    response = http.request("GET", url + path, params=params or None)
    try:
        body = response.json()
    except ValueError:
        body = {"errorType": f"HTTP {response.status_code}", "error": response.text[:200]}
    if body.get("status") != "success":
        raise MlkitError(f"Prometheus answered {body.get('errorType')}: {body.get('error')} (for {params or path})")
    return body["data"]


def query(url: str, promql: str) -> list[dict[str, Any]]:
    """An instant PromQL query: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
    return api(url, "/api/v1/query", query=promql)["result"]


def value(url: str, promql: str) -> float:
    """The single number a PromQL query gives (NaN when it returns nothing)."""
    result = query(url, promql)
    return float(result[0]["value"][1]) if result else float("nan")


def series(url: str, promql: str, start: float, end: float, step: float = 1.0) -> dict[str, Any]:
    """A range query: ``{label of each series: pandas Series of its values indexed by unix time}``;
    a series is named by its ``job`` label, else by all its labels."""
    import pandas as pd

    found = api(url, "/api/v1/query_range", query=promql, start=str(start), end=str(end), step=str(step))["result"]
    return {r["metric"].get("job") or str(r["metric"]): pd.Series([float(v) for _, v in r["values"]],
                                                                   index=[float(t) for t, _ in r["values"]])
            for r in found}


def exemplars(url: str, promql: str, start: float, end: float) -> list[dict[str, Any]]:
    """The exemplars Prometheus stored for the series of ``promql`` between ``start`` and ``end``
    (unix seconds): ``[{"labels": {...}, "value": float, "t": float, "series": {...}}, ...]``."""
    found = api(url, "/api/v1/query_exemplars", query=promql, start=str(start), end=str(end))
    return [{"labels": e["labels"], "value": float(e["value"]), "t": float(e["timestamp"]), "series": s["seriesLabels"]}
            for s in found for e in s.get("exemplars", [])]


def alerts(url: str) -> list[dict[str, Any]]:
    """The alerts Prometheus holds now (``/api/v1/alerts``): name, state, labels, since."""
    return [{"alert": a["labels"].get("alertname"), "state": a["state"], "since": a.get("activeAt"),
             "labels": a["labels"]} for a in api(url, "/api/v1/alerts")["alerts"]]


def firing(url: str) -> set[str]:
    """The names of the alerts that are firing now."""
    return {a["alert"] for a in alerts(url) if a["state"] == "firing"}


def wait_until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.5) -> Any:
    """Call ``check()`` until it returns something truthy (returned) or ``timeout`` passes
    (then the last result is returned): Prometheus scrapes and evaluates once a second."""
    from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

    return Retrying(retry=retry_if_result(lambda result: not result), stop=stop_after_delay(timeout),
                    wait=wait_fixed(every), retry_error_callback=lambda state: state.outcome.result())(check)

"""The load generator of lesson 04 (aiohttp): concurrency, rate and duration as settings.

``run(url, concurrency=8, duration=3)`` sends SMS messages to ``url + "/predict"`` from
``concurrency`` workers and returns a :class:`LoadResult`: per model version (read from the
``x-model-version`` header) the requests, errors, p50/p95/p99 latency and throughput, and the
client's own CPU use, so that a saturated client is not mistaken for a slow server.
``start(...)`` does the same in the background (a thread with its own event loop) and
calls ``on_progress(result)`` about every 0.25 s: the rollout panel draws live stats with it.
With ``bodies`` it sends those request bodies in turn instead (batches for ``/predict/batch``),
and ``on_answer(i, sample, body)`` sees each answer: lesson 04's business canary reads the
labels it served that way (:mod:`mlkit.deployment.business`).

Latency is measured from the moment a request is sent. With ``rate`` set, requests are
scheduled at fixed times; a request that waits for a free worker is sent late, and the
wait is not counted (the usual "coordinated omission" caveat of closed-loop load tests).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlkit.deployment import rollout

TARGETS_MS = {"p99 (course text: real-time predictions)": 100.0, "p99 (course text: latency dashboard)": 50.0}


@dataclass
class Sample:
    """One request: when it was sent (s since start), its latency (ms), status, model version, user."""

    t: float
    ms: float
    status: int
    version: str
    user: str


@dataclass
class LoadResult:
    """What a load run saw. ``sent`` requests were sent; ``answered`` got a 2xx answer."""

    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the load generator's own thread
    done: bool = False
    error: str | None = None

    @property
    def sent(self) -> int:
        return len(self.samples)

    @property
    def answered(self) -> int:
        return sum(200 <= s.status < 300 for s in self.samples)

    @property
    def responded(self) -> int:
        """Requests a model server answered, whatever the status (a router's 502 or no answer at all does not count)."""
        return sum(s.status not in (502, 599) for s in self.samples)

    @property
    def failed(self) -> int:
        return self.sent - self.answered

    @property
    def client_cpu(self) -> float:
        """The load generator's CPU use as a share of one core (near 1.0: the client is the bottleneck)."""
        return self.cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def throughput(self) -> float:
        return self.answered / self.wall_s if self.wall_s else 0.0

    def percentile(self, q: float, version: str | None = None) -> float:
        """Latency percentile (ms) of the answered requests (of one version, if given)."""
        return rollout.percentile([s.ms for s in self.samples if 200 <= s.status < 300
                                   and (version is None or s.version == version)], q)

    def by_version(self) -> dict[str, dict[str, float]]:
        """Per model version: requests, errors, error_rate, p50/p95/p99 (ms), req/s."""
        groups: dict[str, list[Sample]] = {}
        for s in self.samples:
            groups.setdefault(s.version or "(no answer)", []).append(s)
        out = {}
        for version, group in sorted(groups.items()):
            ok = [s.ms for s in group if 200 <= s.status < 300]
            errors = len(group) - len(ok)
            out[version] = {"requests": len(group), "errors": errors, "error_rate": errors / len(group),
                            "p50_ms": rollout.percentile(ok, 50), "p95_ms": rollout.percentile(ok, 95),
                            "p99_ms": rollout.percentile(ok, 99),
                            "req_per_s": len(ok) / self.wall_s if self.wall_s else 0.0}
        return out

    def table(self) -> Any:
        """:meth:`by_version` as a pandas DataFrame (one row per version, plus "all")."""
        import pandas as pd

        rows = self.by_version()
        ok = [s.ms for s in self.samples if 200 <= s.status < 300]
        rows["all"] = {"requests": self.sent, "errors": self.failed,
                       "error_rate": self.failed / self.sent if self.sent else 0.0,
                       "p50_ms": rollout.percentile(ok, 50), "p95_ms": rollout.percentile(ok, 95),
                       "p99_ms": rollout.percentile(ok, 99), "req_per_s": self.throughput}
        df = pd.DataFrame.from_dict(rows, orient="index")
        df.index.name = "version"
        return df.astype({"requests": int, "errors": int}).round(3)

    def summary(self) -> str:
        return (f"{self.sent} sent, {self.answered} answered in {self.wall_s:.1f} s: {self.throughput:,.0f} req/s, "
                f"p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms; "
                f"load generator CPU {self.client_cpu:.0%} of a core")


Answer = Callable[[int, Sample, bytes], None]  # (request number, its sample, the response body)


async def _run(url: str, messages: Sequence[str], *, concurrency: int, duration: float | None,
               requests: int | None, rate: float | None, users: int, path: str, result: LoadResult,
               on_progress: Callable[[LoadResult], None] | None, stop: threading.Event,
               bodies: Sequence[bytes] | None = None, on_answer: Answer | None = None) -> None:
    import aiohttp
    import orjson

    bodies = list(bodies) if bodies else [orjson.dumps({"text": m}) for m in messages]
    counter = 0
    t0 = time.perf_counter()
    cpu0 = time.thread_time()
    deadline = t0 + duration if duration else float("inf")
    target = url.rstrip("/") + path

    def next_index() -> int | None:
        nonlocal counter
        if stop.is_set() or (requests is not None and counter >= requests) or time.perf_counter() >= deadline:
            return None
        counter += 1
        return counter - 1

    async def worker(session: aiohttp.ClientSession) -> None:
        while (i := next_index()) is not None:
            if rate:
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            user = f"user-{i % users}"
            start = time.perf_counter()
            try:
                async with session.post(target, data=bodies[i % len(bodies)],
                                        headers={"content-type": "application/json", "x-user": user}) as r:
                    data = await r.read()
                    status, version = r.status, r.headers.get("x-model-version", "")
            except (TimeoutError, aiohttp.ClientError, OSError):
                status, version, data = 599, "", b""
            end = time.perf_counter()
            sample = Sample(start - t0, (end - start) * 1000, status, version, user)
            result.samples.append(sample)
            if on_answer:
                on_answer(i, sample, data)

    async def progress() -> None:
        while True:
            await asyncio.sleep(0.25)
            result.wall_s = time.perf_counter() - t0
            result.cpu_s = time.thread_time() - cpu0
            if on_progress:
                on_progress(result)

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        ticker = asyncio.create_task(progress())
        try:
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        finally:
            ticker.cancel()
            result.wall_s = time.perf_counter() - t0
            result.cpu_s = time.thread_time() - cpu0


class LoadRun:
    """A load run in a background thread: ``.result`` grows while it runs; ``.wait()`` returns it."""

    def __init__(self, url: str, messages: Sequence[str], on_progress: Callable[[LoadResult], None] | None = None,
                 **settings: Any) -> None:
        if not messages and not settings.get("bodies"):
            raise ValueError("messages is empty: pass the texts to send, e.g. the test split's messages")
        if settings.get("duration") is None and settings.get("requests") is None:
            raise ValueError("set duration (seconds) or requests (a count), or both")
        self.result = LoadResult()
        self._stop = threading.Event()
        self._on_progress = on_progress

        def target() -> None:
            try:
                asyncio.run(_run(url, list(messages), result=self.result, on_progress=on_progress,
                                 stop=self._stop, **settings))
            except Exception as exc:  # noqa: BLE001 - kept for wait() and shown by the panel
                self.result.error = f"{type(exc).__name__}: {exc}"
            finally:
                self.result.done = True
                if on_progress:
                    on_progress(self.result)

        self.thread = threading.Thread(target=target, name="mlkit-loadgen", daemon=True)
        self.thread.start()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> LoadResult:
        self._stop.set()
        return self.wait()

    def wait(self, timeout: float | None = None) -> LoadResult:
        self.thread.join(timeout)
        if self.result.error:
            raise RuntimeError(f"the load run failed: {self.result.error}")
        return self.result


def start(url: str, messages: Sequence[str], *, concurrency: int = 8, duration: float | None = None,
          requests: int | None = None, rate: float | None = None, users: int = 1000, path: str = "/predict",
          on_progress: Callable[[LoadResult], None] | None = None, bodies: Sequence[bytes] | None = None,
          on_answer: Answer | None = None) -> LoadRun:
    """Start sending load in the background; see :func:`run` for the settings, and the module's
    docstring for ``bodies`` (request bodies to send in turn instead of ``{"text": message}``)
    and ``on_answer(i, sample, body)`` (called with each answer, in the load generator's thread)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate is requests per second and must be positive, got {rate}")
    return LoadRun(url, messages, on_progress, concurrency=concurrency, duration=duration, requests=requests,
                   rate=rate, users=users, path=path, bodies=bodies, on_answer=on_answer)


def run(url: str, messages: Sequence[str], *, concurrency: int = 8, duration: float | None = None,
        requests: int | None = None, rate: float | None = None, users: int = 1000,
        path: str = "/predict", bodies: Sequence[bytes] | None = None,
        on_answer: Answer | None = None) -> LoadResult:
    """Send load to ``url`` and wait for the result (lesson 04).

    Args:
        url: the server or router, e.g. ``server.url``.
        messages: texts to send, in turn.
        concurrency: requests in flight at once (workers).
        duration: seconds to keep sending (None: until ``requests`` are sent).
        requests: how many to send (None: until ``duration`` is over).
        rate: requests per second over all workers (None: as fast as answers come).
        users: distinct user keys (``X-User: user-<i mod users>``) for sticky routing.
        path: the endpoint.
        bodies: request bodies to send in turn instead of ``{"text": message}`` (e.g. batches).
        on_answer: called as ``on_answer(i, sample, body)`` with each answer (i: the request's number).
    """
    return start(url, messages, concurrency=concurrency, duration=duration, requests=requests, rate=rate,
                 users=users, path=path, bodies=bodies, on_answer=on_answer).wait()


# ---------------------------------------------------------------------- liveness under heavy load
SCRIPTS = "Καλημέρα κόσμε · Привет, мир · 你好，世界 · مرحبا بالعالم · नमस्ते दुनिया · "  # non-ASCII text, 1-3 bytes a character


def largest_batch(max_batch: int, max_chars: int) -> bytes:
    """The largest batch the spam server's schema allows: ``max_batch`` messages of ``max_chars``
    non-ASCII characters each (as UTF-8 JSON), each message different."""
    import orjson

    text = SCRIPTS * (max_chars // len(SCRIPTS) + 2)
    return orjson.dumps({"messages": [(f"{i} " + text)[:max_chars] for i in range(max_batch)]})


@dataclass
class LivenessResult:
    """What :func:`liveness_under_load` saw: the probe's latencies (ms), the batches answered."""

    probe_ms: list[float]
    batches: int
    failed: int
    wall_s: float

    def percentile(self, q: float) -> float:
        return rollout.percentile(self.probe_ms, q)

    def summary(self) -> str:
        return (f"liveness p50 {self.percentile(50):.1f} ms, p99 {self.percentile(99):.1f} ms, "
                f"max {max(self.probe_ms):.1f} ms ({len(self.probe_ms)} probes) while {self.batches} batches "
                f"were scored in {self.wall_s:.1f} s ({self.failed} failed)")


def liveness_under_load(url: str, body: bytes, *, concurrency: int = 4, duration: float = 3.0,
                        every_ms: float = 10.0, path: str = "/predict/batch") -> LivenessResult:
    """Keep ``concurrency`` copies of ``body`` in flight to ``url + path`` for ``duration`` seconds
    while another thread asks ``/health/live`` every ``every_ms``; return the probe's latencies
    (what a Kubernetes liveness probe would see) and how many batches were answered. With
    ``concurrency=0`` it only probes: the noise floor of the machine."""
    import http.client
    from urllib.parse import urlsplit

    import aiohttp

    stop = threading.Event()
    done = {"batches": 0, "failed": 0}

    async def send() -> None:
        async def worker(session: aiohttp.ClientSession) -> None:
            while not stop.is_set():
                try:
                    async with session.post(url.rstrip("/") + path, data=body,
                                            headers={"content-type": "application/json"}) as r:
                        await r.read()
                        done["batches" if r.status == 200 else "failed"] += 1
                except (TimeoutError, aiohttp.ClientError, OSError):
                    done["failed"] += 1

        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))

    sender = threading.Thread(target=lambda: asyncio.run(send()), name="mlkit-liveness-load", daemon=True)
    parts = urlsplit(url)
    probe = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies: list[float] = []
    t0 = time.perf_counter()
    sender.start()
    try:
        time.sleep(min(0.5, duration / 4))  # let the batches arrive first
        while time.perf_counter() - t0 < duration:
            start = time.perf_counter()
            probe.request("GET", "/health/live")
            probe.getresponse().read()
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(max(0.0, every_ms / 1000 - (time.perf_counter() - start)))
    finally:
        stop.set()
        sender.join(120)
        probe.close()
    return LivenessResult(latencies, done["batches"], done["failed"], time.perf_counter() - t0)

"""Training beside serving (lesson 05, section 9): the phase comparison, CPU and memory from two
scrapes, holding a process back thread by thread, and the trainer's pause, resume and one thread."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mlkit.deployment import rollout
from mlkit.deployment.loadgen import LoadResult, Sample
from mlkit.monitoring import colocation, scrape


def _load(latencies_ms, failed=0, wall_s=2.0) -> LoadResult:
    samples = [Sample(i * 0.01, ms, 200, "1", "u") for i, ms in enumerate(latencies_ms)]
    samples += [Sample(0.0, 1.0, 500, "1", "u")] * failed
    return LoadResult(samples=samples, wall_s=wall_s, done=True)


def _snap(cpu_s: float, rss_bytes: float, at: float, steps: float | None = None) -> scrape.Snapshot:
    text = f"process_cpu_seconds_total {cpu_s}\nprocess_resident_memory_bytes {rss_bytes}\n"
    if steps is not None:
        text += f"mlkit_trainer_steps_total {steps}\n"
    return scrape.parse(text, at=at)


def test_usage_is_cpu_seconds_per_second_and_memory_in_mb():
    cores, mb = colocation.usage(_snap(1.0, 100e6, at=10.0), _snap(2.5, 250e6, at=13.0))
    assert cores == pytest.approx(0.5) and mb == pytest.approx(250)


def test_compare_puts_each_phase_on_a_row_with_the_clients_percentiles():
    alone = colocation.Phase("serving alone", _load([1.0] * 98 + [2.0, 3.0]), cpu={"model server": 0.1},
                             rss_mb={"model server": 500.0})
    beside = colocation.Phase("training beside", _load([1.0] * 90 + [40.0] * 10, failed=2),
                              cpu={"model server": 0.1, "trainer": 1.8}, rss_mb={"model server": 500.0, "trainer": 300.0},
                              steps_per_s=50.0, others_cpu=0.3)
    table = colocation.compare([alone, beside])
    assert list(table.index) == ["serving alone", "training beside"]
    assert table.loc["serving alone", "p99_ms"] == pytest.approx(rollout.percentile([1.0] * 98 + [2.0, 3.0], 99))
    assert table.loc["training beside", "p99_ms"] == pytest.approx(40.0)
    assert table.loc["training beside", "errors"] == 2 and table.loc["training beside", "requests"] == 102
    assert table.loc["training beside", "trainer CPU"] == 1.8 and table.loc["training beside", "trainer steps/s"] == 50
    assert table.loc["training beside", "other programs CPU"] == 0.3
    assert table["trainer CPU"].isna().iloc[0]  # no trainer in the first phase: no number, not a zero
    assert table.loc["serving alone", "req_per_s"] == pytest.approx(50)  # 100 answered in 2 s


def test_limit_sets_priority_and_cpu_for_every_thread():
    child = subprocess.Popen([sys.executable, "-c", "import threading, time\n"
                              "threading.Thread(target=time.sleep, args=(30,)).start()\ntime.sleep(30)"])
    try:
        import psutil

        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).num_threads() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = colocation.last_cpu()
        done = colocation.limit(child.pid, nice=15, cpus=[cpu], one_thread=False)
        assert done == {"nice": 15, "cpus": [cpu], "threads": 2, "one_torch_thread": False}
        for t in psutil.Process(child.pid).threads():
            assert os.getpriority(os.PRIO_PROCESS, t.id) == 15 and os.sched_getaffinity(t.id) == {cpu}
    finally:
        child.kill()
        child.wait()


def test_trainer_waits_paused_then_trains_and_drops_to_one_thread(tmp_path):
    from mlkit.course import http

    trainer = colocation.start_trainer(paused=True, seconds=30, log_dir=tmp_path)
    try:
        def value(name: str) -> float:
            return scrape.parse(http.text(trainer.url + "/metrics")).value(name)

        time.sleep(0.5)
        assert value("mlkit_trainer_steps_total") == 0  # paused: ready, but no step yet
        assert value("process_cpu_seconds_total") > 0 and value("process_resident_memory_bytes") > 0
        colocation.resume(trainer)
        assert scrape_until(lambda: value("mlkit_trainer_steps_total") > 0)
        colocation.limit(trainer)
        assert scrape_until(lambda: value("mlkit_trainer_threads") == 1)
    finally:
        trainer.stop()


def scrape_until(check, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False

"""Unit tests for mlkit.training.distributed and mlkit.training.ddp_train (lesson 02): DDP through torchrun."""

import sys

import pytest

pytest.importorskip("torch")

from mlkit.training import distributed


def test_torchrun_command():
    cmd = distributed.torchrun_command(2, "out.json", epochs=1, n_train=100)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in cmd and "--nproc_per_node=2" in cmd
    assert cmd[cmd.index("-m", 3) + 1] == "mlkit.training.ddp_train"
    assert cmd[-4:] == ["--epochs", "1", "--n-train", "100"]


def test_two_process_ddp_on_cpu_learns(tmp_path):
    res = distributed.run_ddp(2, epochs=1, n_train=1200, batch_size=64, out_dir=tmp_path, timeout=300)
    assert res["world_size"] == 2 and res["backend"] == "gloo"
    assert res["accuracy"] > 0.5  # 1,200 images, one epoch: far above chance (0.1)
    assert (tmp_path / "ddp_result.json").exists() and res["wall_s"] > 0


def test_failure_reports_the_log(tmp_path):
    job = distributed.start_ddp(2, epochs=1, lr=-1.0, n_train=200, out_dir=tmp_path, timeout=300)
    with pytest.raises(RuntimeError, match="torchrun failed"):  # AdamW refuses a negative learning rate
        job.result()
    assert job.log.exists() and job.returncode != 0
    bad = distributed.DdpJob([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
                             tmp_path / "none.json", timeout=30).start()
    with pytest.raises(RuntimeError, match=r"torchrun failed \(exit 3\).*\n.*boom"):
        bad.result()


def _ranks(job, n: int, seconds: float = 120.0) -> list:
    """The job's process tree once torchrun has started ``n`` ranks (ddp_train processes)."""
    from mlkit.course.processes import descendants, wait_for

    def ranks() -> list:
        procs = descendants(job.pid)
        found = [p for p in procs if "mlkit.training.ddp_train" in " ".join(p.cmdline())
                 and "torch.distributed.run" not in " ".join(p.cmdline())]
        return procs if len(found) == n else []

    if not wait_for(lambda: bool(ranks()), seconds, every=0.2):
        raise AssertionError(f"torchrun did not start {n} ranks; log:\n{job.log_tail()}")
    return ranks()


def _gone(procs, seconds: float = 15.0) -> bool:
    from mlkit.course.processes import alive, wait_for

    return wait_for(lambda: not any(alive(p) for p in procs), seconds, every=0.1)


@pytest.mark.parametrize("how", ["stop", "torchrun killed"])
def test_ranks_are_never_orphaned(tmp_path, how):
    """torchrun starts its ranks in sessions of their own: stopping the job, or torchrun dying
    (SIGKILL, no clean-up), must still end every rank."""
    job = distributed.start_ddp(2, epochs=50, n_train=2000, out_dir=tmp_path, timeout=300)
    try:
        procs = _ranks(job, 2)
        if how == "stop":
            job.stop(timeout=10)
        else:
            [torchrun] = [p for p in procs if "torch.distributed.run" in " ".join(p.cmdline())]
            torchrun.kill()
        assert _gone(procs), [p.cmdline() for p in procs if p.is_running()]
    finally:
        job.stop()


def test_ddp_train_single_process_in_process(tmp_path, monkeypatch):
    """The script also runs as one process (world size 1), e.g. under a debugger."""
    from mlkit.training import ddp_train

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(__import__("mlkit.course.processes", fromlist=["free_port"]).free_port()))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    res = ddp_train.main(["--out", str(tmp_path / "r.json"), "--epochs", "1", "--n-train", "500"])
    assert res["world_size"] == 1 and 0.1 < res["accuracy"] <= 1

"""mlkit.training.cluster (lesson 02): the SLURM script and the Kubernetes Job, and their checks."""

import copy
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlkit.training import cluster, distributed

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash -n needs bash")


def _srun_line(script: str) -> str:
    return next(line for line in script.splitlines() if line.startswith("srun "))


# ------------------------------------------------------------------ SLURM
@needs_bash
def test_generated_slurm_script_has_no_problems():
    script = cluster.slurm_script(nodes=2, gpus_per_node=4, time="02:00:00")
    assert cluster.check_slurm(script) == []
    assert "#SBATCH --nodes=2" in script and "#SBATCH --gpus-per-node=4" in script
    assert "#SBATCH --time=02:00:00" in script and "#SBATCH --ntasks-per-node=1" in script
    line = _srun_line(script)
    assert "torchrun --nnodes=2 --rdzv_backend=c10d" in line and "--nproc_per_node=4" in line
    assert '"--rdzv_endpoint=$head_node:29500"' in line  # double quotes: the variable still expands


def test_the_torchrun_command_is_the_local_one_made_multi_node():
    """One implementation: the script's command is distributed.torchrun_command's, with a rendezvous."""
    local = distributed.torchrun_command(4, "results/ddp_result.json", epochs=5, batch_size=256, lr=2e-3, seed=0,
                                         device="cuda")
    script = cluster.slurm_script(nodes=1, gpus_per_node=4, epochs=5, batch_size=256, lr=2e-3, seed=0)
    words = _srun_line(script).replace('"', "").split()
    script_part = local[local.index("-m", 3):]  # from "-m mlkit.training.ddp_train" on
    assert words[-len(script_part):] == script_part
    job = cluster.k8s_job(nodes=1, gpus_per_node=4, epochs=5, batch_size=256, lr=2e-3, seed=0)
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["torchrun", *local[3:local.index("--out") + 1], "/results/ddp_result.json",
                       *local[local.index("--out") + 2:]]


def test_torchrun_command_multi_node_needs_an_endpoint():
    cmd = distributed.torchrun_command(2, "o.json", nnodes=3, rdzv_endpoint="h:1234", rdzv_id="j", launcher=["torchrun"])
    assert cmd[:5] == ["torchrun", "--nnodes=3", "--rdzv_backend=c10d", "--rdzv_endpoint=h:1234", "--rdzv_id=j"]
    assert "--standalone" not in cmd
    with pytest.raises(ValueError, match="rdzv_endpoint"):
        distributed.torchrun_command(2, "o.json", nnodes=2)


@needs_bash
@pytest.mark.parametrize("old, new, expect", [
    ("--time=02:00:00", "--time=2 hours", "unexpected 'hours'"),
    ("--time=02:00:00", "--time=2h", "--time=2h is not valid"),
    ("--time=02:00:00", "--walltime=02:00:00", "unknown option '--walltime=02:00:00'"),
    ("--gpus-per-node=4", "--gpus-per-node=four", "--gpus-per-node=four is not valid"),
    ("--ntasks-per-node=1", "--ntasks-per-node=4", "srun would start that many torchruns"),
    ("#SBATCH --nodes=2\n", "", "#SBATCH --nodes missing"),
    ("srun torchrun", "torchrun", "does not start with srun"),
    ("--nnodes=2", "--nnodes=3", "torchrun --nnodes=3 but #SBATCH --nodes=2"),
    ("--nproc_per_node=4", "--nproc_per_node=2", "--nproc_per_node=2 but #SBATCH --gpus-per-node=4"),
    ("--rdzv_backend=c10d ", "", "needs --rdzv_backend=c10d"),
    ("head -n 1)", "head -n 1", "bash -n:"),
    ("#!/bin/bash\n", "", "no shebang"),
])
def test_check_slurm_catches_each_broken_variant(old, new, expect):
    script = cluster.slurm_script(nodes=2, gpus_per_node=4, time="02:00:00")
    assert old in script
    problems = cluster.check_slurm(script.replace(old, new, 1))
    assert any(expect in p for p in problems), problems


def test_check_slurm_sbatch_after_a_command_is_ignored():
    script = cluster.slurm_script(nodes=2, gpus_per_node=4) + "#SBATCH --partition=gpu\n"
    assert any("ignored by sbatch" in p for p in cluster.check_slurm(script))


def test_check_slurm_needs_a_torchrun_line():
    assert any("no torchrun line" in p for p in cluster.check_slurm("#!/bin/bash\n#SBATCH --nodes=1\n"
                                                                       "#SBATCH --time=10\necho hi\n"))


def test_check_slurm_accepts_short_options_and_time_formats():
    script = cluster.slurm_script(nodes=1, gpus_per_node=0)
    for time in ("30", "1-12", "1-12:30:00", "45:00"):
        variant = script.replace("--time=01:00:00", f"--time={time}").replace("--nodes=1", "-N 1")
        assert cluster.check_slurm(variant) == [], time


# ------------------------------------------------------------------ Kubernetes
def test_generated_indexed_job_has_no_problems_and_round_trips_yaml(tmp_path):
    job = cluster.k8s_job(nodes=2, gpus_per_node=4)
    paths = cluster.write(tmp_path, cluster.slurm_script(), [job, cluster.rendezvous_service(job)])
    assert [p.name for p in paths] == ["train.sbatch", "train-job.yaml"] and os.access(paths[0], os.X_OK)
    loaded, service = yaml.safe_load_all(paths[1].read_text())
    assert loaded == job and cluster.check_job(loaded) == []
    spec = loaded["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 2
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["subdomain"] == "mlkit-ddp"
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 4
    assert "--rdzv_endpoint=mlkit-ddp-0.mlkit-ddp:29500" in pod["containers"][0]["command"]
    assert service["kind"] == "Service" and service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == loaded["spec"]["template"]["metadata"]["labels"]


def test_single_node_job_is_a_plain_job():
    job = cluster.k8s_job(nodes=1, gpus_per_node=2)
    assert "completionMode" not in job["spec"] and cluster.check_job(job) == []
    assert "--standalone" in job["spec"]["template"]["spec"]["containers"][0]["command"]


C = "spec/template/spec/containers/0"


@pytest.mark.parametrize("path, value, expect", [
    (f"{C}/resources/limits/nvidia.com~gpu", "4", "is a str; give a whole number of GPUs"),
    (f"{C}/resources/limits/nvidia.com~gpu", 2, "--nproc_per_node=4 but 2 GPUs"),
    (f"{C}/resources/limits/nvidia.com~gpu", True, "is a bool"),
    (f"{C}/command", "torchrun --nnodes=2", "give a list of strings"),
    (f"{C}/command", ["torchrun", "--nproc_per_node", 4], "give a list of strings"),
    (f"{C}/command", ["python", "train.py"], "no torchrun"),
    (f"{C}/image", KeyError, ".image: missing"),
    ("spec/template/spec/restartPolicy", "Always", "'Always' is for Deployments"),
    ("spec/backoffLimit", KeyError, "spec.backoffLimit: None"),
    ("spec/backoffLimit", "3", "spec.backoffLimit: '3'"),
    ("spec/completions", 3, "completions=3, parallelism=2"),
    ("spec/completionMode", KeyError, "completionMode: Indexed"),
    ("spec/template/spec/subdomain", KeyError, "subdomain: missing"),
    ("spec/template/spec/volumes", [], "'results' is not in spec.template.spec.volumes"),
    ("apiVersion", "apps/v1", "needs 'batch/v1'"),
    ("kind", "Deployment", "expected 'Job'"),
    ("metadata/name", "MLkit_DDP", "not a valid name"),
])
def test_check_job_catches_each_broken_variant(path, value, expect):
    """Each path is a/b/0/c into the manifest ("~" stands for "/" inside a key); KeyError: delete it."""
    job = cluster.k8s_job(nodes=2, gpus_per_node=4)
    *parents, last = [p.replace("~", "/") for p in path.split("/")]
    obj = job
    for key in parents:
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    if value is KeyError:
        del obj[last]
    else:
        obj[last] = copy.deepcopy(value)
    problems = cluster.check_job(job)
    assert any(expect in p for p in problems), problems


def test_check_job_on_something_else():
    assert "not a mapping" in cluster.check_job([cluster.k8s_job()])[0]
    assert any("spec: missing" in p for p in cluster.check_job({"apiVersion": "batch/v1", "kind": "Job",
                                                                 "metadata": {"name": "x"}}))


# ------------------------------------------------------------------ the script, run for real
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_bash
def test_slurm_script_runs_on_one_node_with_srun_as_a_pass_through(tmp_path):
    """sbatch's environment on one node, srun and scontrol as stand-ins: the script trains for real."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text('#!/bin/sh\nexec "$@"\n')  # one node, one task: srun just runs the command
    (fake / "scontrol").write_text('#!/bin/sh\necho "$3"\n')  # show hostnames NODELIST -> the node's name
    for f in fake.iterdir():
        f.chmod(0o755)
    venv = Path(sys.executable).parent
    script = cluster.slurm_script(nodes=1, gpus_per_node=0, cpus_per_node=1, port=_free_port(),
                                  setup=[f"export PATH={venv}:$PATH"], epochs=1, batch_size=64)
    script = script.replace("--device cpu", "--device cpu --n-train 256")
    assert cluster.check_slurm(script) == []
    path = cluster.write(tmp_path, script, [])[0]
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242", "SLURM_NNODES": "1",
           "SLURM_JOB_NODELIST": "localhost", "SLURM_SUBMIT_DIR": str(tmp_path)}
    res = subprocess.run(["bash", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((tmp_path / "results" / "ddp_result.json").read_text())
    assert result["world_size"] == 1 and result["backend"] == "gloo" and result["epochs"] == 1
    assert math.isfinite(result["loss"])  # that it learns is test_distributed's job

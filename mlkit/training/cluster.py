"""The lesson's DDP training, packaged for a GPU cluster (lesson 02, "Beyond one machine").

* :func:`slurm_script`: a SLURM batch script (``sbatch train.sbatch``): ``#SBATCH`` directives
  for nodes, GPUs, CPUs, memory and time, then ``srun`` starting one ``torchrun`` per node, all
  meeting at the allocation's first node through the c10d rendezvous;
* :func:`k8s_job`: a Kubernetes ``batch/v1`` Job with the same ``torchrun`` command; for
  several nodes an *Indexed* Job (one pod per node) and :func:`rendezvous_service`, the
  headless Service that gives pod 0 the stable DNS name the others meet at;
* :func:`check_slurm` and :func:`check_job`: structural checks, each returning a list of
  problems (empty: none found), with a message saying what to change;
* :func:`write`: both files into a folder.

The ``torchrun`` command comes from :func:`mlkit.training.distributed.torchrun_command`, the
one that runs the lesson's local DDP job. Nothing here talks to a cluster.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlkit.training.distributed import torchrun_command

PORT = 29500
GPU = "nvidia.com/gpu"
_TIME = re.compile(r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}"
                   r"|UNLIMITED|INFINITE)$")
_INT = re.compile(r"^\d+$")
_ANY = re.compile(r"^\S+$")
# long option -> (short option, value pattern or None for a flag, what a good value looks like)
SBATCH_OPTIONS: dict[str, tuple[str | None, re.Pattern | None, str]] = {
    "job-name": ("J", _ANY, "a name"),
    "nodes": ("N", re.compile(r"^\d+(-\d+)?$"), "a count, e.g. 2"),
    "ntasks": ("n", _INT, "a count"),
    "ntasks-per-node": (None, _INT, "a count, e.g. 1"),
    "cpus-per-task": ("c", _INT, "a count, e.g. 16"),
    "gpus-per-node": (None, re.compile(r"^([\w.-]+:)?\d+$"), "a count or TYPE:COUNT, e.g. 4 or a100:4"),
    "gpus": ("G", re.compile(r"^([\w.-]+:)?\d+$"), "a count or TYPE:COUNT"),
    "gres": (None, re.compile(r"^[\w.-]+(:[\w.-]+)*(,[\w.-]+(:[\w.-]+)*)*$"), "e.g. gpu:4 or gpu:a100:4"),
    "mem": (None, re.compile(r"^\d+[KMGT]?$"), "a size, e.g. 64G"),
    "mem-per-cpu": (None, re.compile(r"^\d+[KMGT]?$"), "a size, e.g. 4G"),
    "mem-per-gpu": (None, re.compile(r"^\d+[KMGT]?$"), "a size, e.g. 40G"),
    "time": ("t", _TIME, "minutes, HH:MM:SS or D-HH:MM:SS, e.g. 02:00:00"),
    "output": ("o", _ANY, "a file pattern, e.g. %x-%j.out"),
    "error": ("e", _ANY, "a file pattern"),
    "partition": ("p", _ANY, "a partition name"),
    "account": ("A", _ANY, "an account name"),
    "qos": ("q", _ANY, "a QOS name"),
    "constraint": ("C", _ANY, "a feature, e.g. a100"),
    "chdir": ("D", _ANY, "a directory"),
    "array": ("a", re.compile(r"^[\d,\-:%]+$"), "e.g. 0-9"),
    "signal": (None, re.compile(r"^(B:)?[A-Z0-9]+(@\d+)?$"), "e.g. USR1@90"),
    "mail-type": (None, _ANY, "e.g. END,FAIL"),
    "mail-user": (None, _ANY, "an address"),
    "exclusive": (None, None, ""),
    "requeue": (None, None, ""),
    "no-requeue": (None, None, ""),
}
_SHORT = {short: long for long, (short, _, _) in SBATCH_OPTIONS.items() if short}


def _shell_join(args: Sequence[str]) -> str:
    """Quote for bash; arguments holding ``$`` get double quotes so the variable still expands."""
    return " ".join(f'"{a}"' if "$" in a else shlex.quote(a) for a in args)


def _train_options(epochs: int, batch_size: int, lr: float, seed: int, device: str) -> dict[str, Any]:
    return {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "device": device}


def slurm_script(
    *, nodes: int = 2, gpus_per_node: int = 4, cpus_per_node: int = 32, mem: str = "128G", time: str = "01:00:00",
    job_name: str = "mlkit-ddp", out: str = "results/ddp_result.json", port: int = PORT,
    setup: Sequence[str] = ("source .venv/bin/activate",), epochs: int = 5, batch_size: int = 256,
    lr: float = 2e-3, seed: int = 0,
) -> str:
    """A SLURM batch script training lesson 02's CNN data-parallel on ``nodes`` x ``gpus_per_node``
    GPUs (``gpus_per_node=0``: one CPU process per node). ``setup`` lines run first on the first
    node (activate the course's environment, on a file system every node sees)."""
    nproc = gpus_per_node or 1
    command = torchrun_command(
        nproc, out, nnodes=nodes, rdzv_endpoint=f"$head_node:{port}", rdzv_id="$SLURM_JOB_ID", launcher=["torchrun"],
        **_train_options(epochs, batch_size, lr, seed, "cuda" if gpus_per_node else "cpu"))
    directives = [f"--job-name={job_name}", f"--nodes={nodes}", "--ntasks-per-node=1",
                  *([f"--gpus-per-node={gpus_per_node}"] if gpus_per_node else []),
                  f"--cpus-per-task={cpus_per_node}", f"--mem={mem}", f"--time={time}", "--output=%x-%j.out"]
    lines = [
        "#!/bin/bash",
        f"# Lesson 02's CNN, data-parallel on {nodes} node{'s' * (nodes > 1)} x "
        f"{f'{gpus_per_node} GPUs, one process per GPU' if gpus_per_node else 'one CPU process'}. "
        "Submit it with: sbatch train.sbatch",
        *(f"#SBATCH {d}" for d in directives),
        "",
        "set -euo pipefail",
        *setup,
        f"export OMP_NUM_THREADS={max(1, cpus_per_node // nproc)}  # the node's cores, shared by its processes",
        "# every node meets at the first node of the allocation (c10d rendezvous)",
        'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "# srun starts one torchrun per node (--ntasks-per-node=1); torchrun starts one process per GPU",
        f"mkdir -p {shlex.quote(str(Path(out).parent))}",
        "srun " + _shell_join(command),
    ]
    return "\n".join(lines) + "\n"


def k8s_job(
    *, nodes: int = 2, gpus_per_node: int = 4, image: str = "registry.example.com/mlkit/trainer:latest",
    name: str = "mlkit-ddp", cpu: str = "16", memory: str = "64Gi", backoff_limit: int = 3, port: int = PORT,
    results_claim: str = "mlkit-results", epochs: int = 5, batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
) -> dict[str, Any]:
    """A Kubernetes ``batch/v1`` Job training lesson 02's CNN with ``torchrun`` (one pod per node).

    Several nodes: an Indexed Job (pods ``NAME-0``, ``NAME-1``, ...) whose pods meet at pod 0
    through :func:`rendezvous_service`. The result goes to a PersistentVolumeClaim (``results_claim``),
    since a pod's own files vanish with it."""
    nproc = gpus_per_node or 1
    endpoint = f"{name}-0.{name}:{port}" if nodes > 1 else None
    command = torchrun_command(nproc, "/results/ddp_result.json", nnodes=nodes, rdzv_endpoint=endpoint, rdzv_id=name,
                               launcher=["torchrun"],
                               **_train_options(epochs, batch_size, lr, seed, "cuda" if gpus_per_node else "cpu"))
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpus_per_node:
        limits[GPU] = int(gpus_per_node)
    container = {
        "name": "trainer", "image": image, "command": command,
        "env": [{"name": "OMP_NUM_THREADS", "value": str(max(1, int(cpu) // nproc) if cpu.isdigit() else 1)}],
        "ports": [{"containerPort": port, "name": "rendezvous"}],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": limits},
        "volumeMounts": [{"name": "results", "mountPath": "/results"},
                         {"name": "dshm", "mountPath": "/dev/shm"}],  # NCCL needs more than the default 64 MB
    }
    pod: dict[str, Any] = {
        **({"subdomain": name} if nodes > 1 else {}),  # with the headless Service: pod 0 is NAME-0.NAME
        "restartPolicy": "Never",  # a failed pod is replaced by the Job, up to backoffLimit times
        "containers": [container],
        "volumes": [{"name": "results", "persistentVolumeClaim": {"claimName": results_claim}},
                    {"name": "dshm", "emptyDir": {"medium": "Memory"}}],
    }
    spec: dict[str, Any] = {"backoffLimit": int(backoff_limit)}
    if nodes > 1:
        spec.update(completions=nodes, parallelism=nodes, completionMode="Indexed")
    spec["template"] = {"metadata": {"labels": {"app": name}}, "spec": pod}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {"app": name}},
            "spec": spec}


def rendezvous_service(job: dict[str, Any], port: int = PORT) -> dict[str, Any]:
    """The headless Service (no cluster IP) that gives each pod of an Indexed Job a DNS name."""
    name = job["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"name": "rendezvous", "port": port, "targetPort": port}],
                     "clusterIP": "None"}}


def write(folder: str | Path, script: str, manifests: Sequence[dict[str, Any]]) -> list[Path]:
    """Write ``train.sbatch`` (executable) and ``train-job.yaml`` (all manifests) into ``folder``."""
    import yaml

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sbatch, manifest = folder / "train.sbatch", folder / "train-job.yaml"
    sbatch.write_text(script)
    sbatch.chmod(0o755)
    manifest.write_text(yaml.safe_dump_all(list(manifests), sort_keys=False))
    return [sbatch, manifest]


# ---------------------------------------------------------------------------------- checks
def _flag(args: Sequence[str], name: str) -> str | None:
    """The value of ``--name=V`` or ``--name V`` in an argv, else None."""
    for i, a in enumerate(args):
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
        if a == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
    return None


def _directive(body: str) -> tuple[str | None, str | None, str | None]:
    """(long option, value, problem) of the text after ``#SBATCH``."""
    try:
        words = shlex.split(body, comments=True)
    except ValueError as e:
        return None, None, f"cannot be parsed ({e})"
    if not words:
        return None, None, "is empty"
    word, rest = words[0], words[1:]
    if word.startswith("--"):
        key, eq, value = word[2:].partition("=")
        separate = not eq
    elif word.startswith("-") and len(word) >= 2:
        key, value = _SHORT.get(word[1], word[1]), word[2:]
        separate = not value
    else:
        return None, None, f"'{word}' is not an option (options start with - or --)"
    if key not in SBATCH_OPTIONS:
        return None, None, f"unknown option '{word}' (known: {', '.join('--' + k for k in SBATCH_OPTIONS)})"
    _, pattern, good = SBATCH_OPTIONS[key]
    if pattern is None:
        separate, value = False, ""
    if separate:
        value, rest = (rest[0] if rest else None), rest[1:]
    if rest:
        return key, value, (f"--{key}: unexpected {' '.join(rest)!r} after the value (one option per line; "
                            "values hold no spaces)")
    if pattern is None:
        return key, "", None
    if not value or not pattern.match(value):
        return key, value, f"--{key}={value or ''} is not valid: give {good}"
    return key, value, None


def check_slurm(text: str) -> list[str]:
    """Problems with a SLURM batch script for the lesson's DDP training (empty list: none found).

    Checks: a shebang; every ``#SBATCH`` directive known and well-formed, and placed before
    the first command (sbatch ignores the ones after it); ``--nodes``, ``--time`` and
    ``--ntasks-per-node=1`` present; ``bash -n`` accepts the script; a ``srun torchrun``
    line whose ``--nnodes`` matches ``--nodes``, with a c10d rendezvous, and one process per GPU."""
    problems: list[str] = []
    lines = text.splitlines()
    if not lines or not lines[0].startswith("#!"):
        problems.append("line 1: no shebang: start with #!/bin/bash (sbatch needs to know the interpreter)")
    options: dict[str, str] = {}
    first_command = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#SBATCH"):
            if first_command is not None:
                problems.append(f"line {number}: #SBATCH after the first command (line {first_command}) is "
                                "ignored by sbatch: move it up, above every command")
                continue
            key, value, problem = _directive(stripped[len("#SBATCH"):])
            if problem:
                problems.append(f"line {number}: #SBATCH {problem}")
            if key:  # present, even if malformed: reported once
                options[key] = value or ""
        elif stripped and not stripped.startswith("#") and first_command is None:
            first_command = number
    for key, why in (("nodes", "how many machines"), ("time", "how long the job may run (else the partition's "
                                                                   "default limit, or it never starts)")):
        if key not in options:
            problems.append(f"#SBATCH --{key} missing: say {why}")
    if options.get("ntasks-per-node", "1") != "1":
        problems.append(f"#SBATCH --ntasks-per-node={options['ntasks-per-node']}: srun would start that many "
                        "torchruns per node; use 1 (torchrun itself starts one process per GPU)")
    bash = shutil.which("bash")
    if bash:
        res = subprocess.run([bash, "-n"], input=text, capture_output=True, text=True, timeout=30)
        if res.returncode:
            problems.append(f"bash -n: {res.stderr.strip() or 'syntax error'}")
    joined = re.sub(r"\\\n", " ", text)
    runs = [ln.strip() for ln in joined.splitlines() if re.search(r"\btorchrun\b|torch\.distributed\.run", ln)
            and not ln.strip().startswith("#")]
    if not runs:
        return problems + ["no torchrun line: the script must start training with srun torchrun ..."]
    try:
        args = shlex.split(runs[-1], comments=True)
    except ValueError as e:
        return problems + [f"the torchrun line cannot be parsed: {e}"]
    if not args or args[0] != "srun":
        problems.append("the torchrun line does not start with srun: without it, torchrun runs on the first "
                        "node only and the others wait at the rendezvous until it times out")
    nnodes, nodes = _flag(args, "nnodes"), options.get("nodes")
    if nodes and nnodes not in (nodes, "$SLURM_NNODES", "${SLURM_NNODES}"):
        problems.append(f"torchrun --nnodes={nnodes} but #SBATCH --nodes={nodes}: they must agree")
    several = (nodes and nodes != "1") or nnodes not in (None, "1")
    if several and (_flag(args, "rdzv_backend") != "c10d" or not _flag(args, "rdzv_endpoint")):
        problems.append("torchrun on several nodes needs --rdzv_backend=c10d and --rdzv_endpoint=HOST:PORT "
                        "(the node they meet at)")
    gpus = options.get("gpus-per-node", "").rpartition(":")[2]
    nproc = _flag(args, "nproc_per_node")
    if gpus and nproc != gpus:
        problems.append(f"torchrun --nproc_per_node={nproc} but #SBATCH --gpus-per-node={gpus}: start one "
                        "process per GPU")
    return problems


def _get(obj: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_job(manifest: Any) -> list[str]:
    """Problems with a Kubernetes Job for the lesson's DDP training (empty list: none found).

    Checks: ``batch/v1`` ``Job``, a valid name; ``backoffLimit`` an integer; ``restartPolicy``
    Never or OnFailure; each container's name, image and ``command`` (a list of strings, with
    torchrun); the GPU limit ``nvidia.com/gpu`` an integer equal to ``--nproc_per_node``; volume
    mounts naming declared volumes; for several nodes an Indexed Job whose completions,
    parallelism and ``--nnodes`` agree."""
    if not isinstance(manifest, dict):
        return [f"the manifest is a {type(manifest).__name__}, not a mapping (one YAML document)"]
    problems: list[str] = []
    if manifest.get("apiVersion") != "batch/v1":
        problems.append(f"apiVersion: {manifest.get('apiVersion')!r}, a Job needs 'batch/v1'")
    if manifest.get("kind") != "Job":
        problems.append(f"kind: {manifest.get('kind')!r}, expected 'Job'")
    name = _get(manifest, "metadata.name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name):
        problems.append(f"metadata.name: {name!r} is not a valid name (lower-case letters, digits and '-', "
                        "at most 63 characters)")
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return problems + ["spec: missing (the Job's pods are described in spec.template)"]
    backoff = spec.get("backoffLimit")
    if not _is_int(backoff) or backoff < 0:
        problems.append(f"spec.backoffLimit: {backoff!r}, give a whole number >= 0 (how many failed pods "
                        "are retried; e.g. 3)")
    pod = _get(spec, "template.spec")
    if not isinstance(pod, dict):
        return problems + ["spec.template.spec: missing (the pod: containers, restartPolicy)"]
    policy = pod.get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        problems.append(f"spec.template.spec.restartPolicy: {policy!r}; a Job's pods must end: use 'Never' "
                        "(the Job starts a new pod) or 'OnFailure' ('Always' is for Deployments)")
    containers = pod.get("containers")
    if not isinstance(containers, list) or not containers:
        return problems + ["spec.template.spec.containers: missing or empty (a list of containers)"]
    volumes = {v.get("name") for v in pod.get("volumes") or [] if isinstance(v, dict)}
    nnodes = None
    for i, c in enumerate(containers):
        where = f"spec.template.spec.containers[{i}]"
        if not isinstance(c, dict):
            problems.append(f"{where}: not a mapping")
            continue
        for key in ("name", "image"):
            if not isinstance(c.get(key), str) or not c.get(key):
                problems.append(f"{where}.{key}: missing, give a string")
        command = c.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
            problems.append(f"{where}.command: {command!r}; give a list of strings, e.g. ['torchrun', "
                            "'--nproc_per_node=4', ...] (numbers quoted too)")
            command = []
        elif not any(a == "torchrun" or a.endswith("torch.distributed.run") for a in command):
            problems.append(f"{where}.command: no torchrun in {command[:3]}...")
        gpus = _get(c, "resources.limits")
        gpus = gpus.get(GPU) if isinstance(gpus, dict) else None
        if gpus is not None and (not _is_int(gpus) or gpus < 1):
            problems.append(f"{where}.resources.limits[{GPU!r}]: {gpus!r} is a {type(gpus).__name__}; give a "
                            "whole number of GPUs, unquoted, e.g. 4 (a GPU is not shared or split)")
        elif gpus is not None and _flag(command, "nproc_per_node") not in (None, str(gpus)):
            problems.append(f"{where}: --nproc_per_node={_flag(command, 'nproc_per_node')} but {gpus} GPUs "
                            "in the limit: start one process per GPU")
        for m in c.get("volumeMounts") or []:
            if isinstance(m, dict) and m.get("name") not in volumes:
                problems.append(f"{where}.volumeMounts: {m.get('name')!r} is not in spec.template.spec.volumes")
        nnodes = nnodes or _flag(command, "nnodes")
    completions, parallelism = spec.get("completions", 1), spec.get("parallelism", 1)
    for key, value in (("completions", completions), ("parallelism", parallelism)):
        if not _is_int(value) or value < 1:
            problems.append(f"spec.{key}: {value!r}, give a whole number >= 1")
    if nnodes not in (None, "1"):
        if spec.get("completionMode") != "Indexed":
            problems.append(f"--nnodes={nnodes}: several pods need spec.completionMode: Indexed (pod names "
                            "NAME-0, NAME-1, ... for the rendezvous)")
        if str(completions) != nnodes or str(parallelism) != nnodes:
            problems.append(f"--nnodes={nnodes} but completions={completions}, parallelism={parallelism}: "
                            "all three must agree (one pod per node, all running at once)")
        if not pod.get("subdomain"):
            problems.append("spec.template.spec.subdomain: missing; name the headless Service, so pod 0 "
                            "gets the DNS name the others meet at")
    return problems

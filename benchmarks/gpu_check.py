"""GPU check for lesson 02: the Trainer and the lesson on ``cuda``, CPU vs GPU throughput.

One command, on a machine with an NVIDIA GPU and a CUDA build of torch::

    python benchmarks/gpu_check.py --device cuda --notebook --out gpu_check_out

It prints and writes (``--out``: ``gpu_check.json`` and ``gpu_check.md``):

1. training throughput of the lesson's two models with ``loop.Trainer`` on the CPU and
   on the GPU (fp32, and mixed precision: bf16 autocast), at the lesson's batch size and a
   larger one;
2. the Trainer's overhead against a plain loop on the GPU (``trainer_overhead.py``);
3. the memory calculator against ``torch.cuda.max_memory_allocated`` of a real step;
4. the DDP script through ``torchrun`` with ``--device cuda`` (NCCL with one GPU per
   process; on a one-GPU machine it falls back to gloo on the CPU, as the lesson says);
5. with ``--notebook``: the whole lesson, ``notebooks/02_training.ipynb``, executed with
   ``device="cuda"`` by the batch runner (needs papermill, mlflow and ipywidgets).

With ``--device cpu`` it runs the same steps on the CPU alone (a dry run of the script).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import torch  # noqa: E402

from mlkit.training import footprint, loop, models, peak_memory, resources  # noqa: E402


def _code_version() -> str:
    """The course commit (where the checkout has git), else mlkit's version."""
    from mlkit.training import tracking

    return tracking.code_version(ROOT)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def trainer_speed(make, X, y, device: str, batch_size: int, amp, epochs: int = 3) -> float:
    """Median training samples/s over epochs 2.. (epoch 1 warms up kernels and the allocator)."""
    torch.manual_seed(0)
    tr = loop.Trainer(make(), device=device, lr=1e-3, epochs=epochs, batch_size=batch_size, seed=0,
                          amp=amp, progress=False)
    hist = tr.fit((X, y))
    _sync(device)
    return statistics.median(hist["samples_per_s"][1:])


def throughput_table(device: str, quick: bool) -> list[dict]:
    spam, digits = models.spam_data(), models.mnist_data()
    work = [("SpamMLP", lambda: models.SpamMLP(spam.n_features), spam.X_train, spam.y_train),
            ("SmallCNN", lambda: models.SmallCNN(), digits.X_train, digits.y_train),
            ("SmallCNN x4 wide", lambda: models.SmallCNN(channels=64, hidden=256), digits.X_train, digits.y_train)]
    rows = []
    for name, make, X, y in work:
        for bs in (64, 512):
            row = {"model": name, "batch": bs, "cpu": trainer_speed(make, X, y, "cpu", bs, False, 2 if quick else 3)}
            if device.startswith("cuda"):
                row["gpu fp32"] = trainer_speed(make, X, y, device, bs, False)
                row["gpu bf16 autocast"] = trainer_speed(make, X, y, device, bs, True)
                row["speed-up (best gpu / cpu)"] = max(row["gpu fp32"], row["gpu bf16 autocast"]) / row["cpu"]
            rows.append(row)
            print("  " + "  ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  flush=True)
    return rows


def memory_check(device: str) -> dict:
    """The calculator's estimate (fp32, Adam, batch 256) against measurements on the device.

    SmallCNN: the tensors of a real step (``measure_training_memory``) and, on CUDA, the
    allocator's peak around it (as in the first GPU run). Both lesson models: the lesson's
    own independent measurement, ``peak_memory.measure_peak_memory`` (on CUDA:
    ``torch.cuda.max_memory_allocated``, reset before the step; on the CPU: the process
    peak), with its phases, as section 7 of the lesson shows it on the CPU."""
    torch.manual_seed(0)
    model = models.SmallCNN().to(device)
    spec = footprint.spec_from_model(model.cpu(), (1, 28, 28), name="SmallCNN")
    model = model.to(device)
    X, y = torch.rand(256, 1, 28, 28, device=device), torch.randint(0, 10, (256,), device=device)
    est = resources.estimate_memory(spec, 256, "fp32", "adam")
    out = {"estimate_MB": est.total / 1e6, "estimate_activations_MB": est.activations / 1e6}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()  # weights, input batch
        torch.cuda.reset_peak_memory_stats()
        measured = footprint.measure_training_memory(model, X, y, "adam")
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        out.update({"measured_tensors_MB": measured.total / 1e6,
                    "cuda_peak_MB_including_weights_and_batch": (peak) / 1e6,
                    "cuda_peak_above_weights_and_batch_MB": (peak - base) / 1e6,
                    "input_batch_MB": X.numel() * 4 / 1e6})
    else:
        measured = footprint.measure_training_memory(model, X, y, "adam")
        out["measured_tensors_MB"] = measured.total / 1e6
    print("  " + ", ".join(f"{k} {v:.2f}" for k, v in out.items()), flush=True)
    spam_features = models.spam_data().n_features
    out["peak_vs_estimate"] = []
    for name, make, shape in [("SpamMLP", lambda: models.SpamMLP(spam_features), (spam_features,)),
                              ("SmallCNN", lambda: models.SmallCNN(), (1, 28, 28))]:
        torch.manual_seed(0)
        m = make()
        spec = footprint.spec_from_model(m, shape, name=name)
        estimate = resources.estimate_memory(spec, batch_size=256, precision="fp32", optimizer="adam")
        m = m.to(device)
        Xb = torch.rand(256, *shape, device=device)
        yb = torch.randint(0, 2 if name == "SpamMLP" else 10, (256,), device=device)
        peak = peak_memory.measure_peak_memory(m, Xb, yb, optimizer="adam")
        row = {"model": name, "params": spec.params, "estimate_MB": estimate.total / 1e6,
               "measured_peak_MB": peak.bytes / 1e6, "peak_over_estimate": peak.bytes / estimate.total,
               "method": peak.method, "phases_MB": peak.as_mb()}
        out["peak_vs_estimate"].append(row)
        print(f"  {name}: estimate {row['estimate_MB']:.2f} MB, measured peak {row['measured_peak_MB']:.2f} MB "
              f"(x{row['peak_over_estimate']:.2f}; {peak.method}); phases {row['phases_MB']}", flush=True)
    return out


def ddp_check(device: str, quick: bool) -> dict:
    from mlkit.training import distributed

    res = distributed.run_ddp(2, epochs=2 if quick else 3, device=device, threads_per_proc=1)
    print(f"  DDP: backend {res['backend']} on {res['device']}, accuracy {res['accuracy']:.3f}, "
          f"{res['wall_s']:.1f} s", flush=True)
    return res


def notebook_check(device: str, fast: bool, out_dir: Path) -> dict:
    from mlkit.course import runner

    os.environ.setdefault("MLKIT_HOME", str(out_dir / "mlkit-home"))
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env_path}" if env_path else str(ROOT)  # the kernel imports mlkit
    t0 = time.perf_counter()
    [res] = runner.run_notebooks(["02_training"], params={"device": device}, fast=fast,
                                 output_dir=out_dir / "executed", progress=False)
    out = {"status": res.status, "seconds": res.seconds, "wall_s": time.perf_counter() - t0,
           "results": res.results, "error": res.error and {k: res.error[k] for k in ("cell", "ename", "evalue")}}
    print(f"  lesson 02 with device={device!r}: {res.status} in {res.seconds:.1f} s · {res.results}", flush=True)
    return out


def markdown(report: dict) -> str:
    lines = [f"# GPU check, lesson 02 ({report['when']})", "",
             f"- device: {report['device']} · GPU: {report.get('gpu', '-')} · torch {report['torch']} · "
             f"Python {report['python']} · CPU threads used by torch: {report['threads']} of {os.cpu_count()} cores · "
             f"code {report.get('code', '-')}", ""]
    rows = report.get("throughput", [])
    if rows:
        keys = list(rows[0])
        lines += ["## Training throughput with `loop.Trainer` (samples/s)", "",
                  "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for r in rows:
            lines.append("| " + " | ".join(f"{r[k]:,.1f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys) + " |")
        lines.append("")
    ov = report.get("overhead")
    if ov:
        lines += ["## Trainer vs plain loop on the same device", ""]
        lines += [f"- {r['workload']}: plain {r['plain_samples_per_s']:,.0f}/s, Trainer {r['trainer_samples_per_s']:,.0f}/s, "
                  f"ratio **{r['ratio']:.3f}**" for r in ov["results"]]
        lines.append("")
    for key in ("memory", "ddp", "notebook"):
        if key in report:
            lines += [f"## {key}", "", "```", json.dumps(report[key], indent=1, default=str), "```", ""]
    if report.get("errors"):
        lines += ["## errors", "", "```", *report["errors"], "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--notebook", action="store_true", help="also execute the lesson notebook on the device")
    parser.add_argument("--fast", action="store_true", help="the lesson in fast mode, fewer repeats")
    parser.add_argument("--out", default="gpu_check_out", help="folder for gpu_check.json and gpu_check.md")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = loop.set_threads()
    report = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": args.device,
              "torch": torch.__version__, "python": platform.python_version(), "threads": threads,
              "code": os.environ.get("MLKIT_CODE_VERSION") or _code_version(), "errors": []}
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("No CUDA GPU visible to torch: install a CUDA build of torch, or run with --device cpu.")
            return 2
        p = torch.cuda.get_device_properties(0)
        report.update(gpu=torch.cuda.get_device_name(0), gpu_memory_GB=round(p.total_memory / 1e9, 1),
                      cuda=torch.version.cuda, bf16=torch.cuda.is_bf16_supported())
        print(f"GPU: {report['gpu']} ({report['gpu_memory_GB']} GB), CUDA {report['cuda']}, torch {torch.__version__}")

    steps = [("throughput", lambda: throughput_table(args.device, args.fast)),
             ("overhead", lambda: __import__("trainer_overhead").run(args.device, 3 if args.fast else 5)),
             ("memory", lambda: memory_check(args.device)),
             ("ddp", lambda: ddp_check(args.device, args.fast))]
    if args.notebook:
        steps.append(("notebook", lambda: notebook_check(args.device, args.fast, out_dir)))
    for name, step in steps:
        print(f"== {name}", flush=True)
        try:
            report[name] = step()
        except Exception:  # noqa: BLE001 - record and go on: one failing part should not hide the others
            report["errors"].append(f"{name}: {traceback.format_exc(limit=3)}")
            print(report["errors"][-1], flush=True)
        (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (out_dir / "gpu_check.md").write_text(markdown(report))
    print(f"written: {out_dir / 'gpu_check.json'}, {out_dir / 'gpu_check.md'}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

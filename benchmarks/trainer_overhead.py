"""Does mlkit's Trainer cost anything over a plain PyTorch loop? (lesson 02)

Same model, same data, same batches, same optimizer, same random numbers (on the CPU the two
end with bit-identical weights, which the script checks): a bare loop (forward, loss, backward,
step, nothing else) against ``Trainer.fit`` with its defaults (progress bar on, loss
accumulated on the device). Runs alternate in pairs, each pair in the opposite order of the
last (which one goes second matters on a busy machine), so that noise hurts both alike.
The best run of each is compared (noise only slows runs down); medians are reported too.

    .venv/bin/python benchmarks/trainer_overhead.py [--device cpu|cuda] [--repeats 7] [--out FILE.json]

Passes when Trainer throughput / plain throughput >= 0.95 for every model.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlkit.training import loop, models  # noqa: E402

THRESHOLD = 0.95
_LAST: dict[str, list] = {}  # final weights of the last plain and Trainer runs


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_loop(model, X, y, epochs: int, batch_size: int, lr: float, seed: int, device: str) -> float:
    """The bare loop, lesson 02's own (:func:`mlkit.training.loop.train_plain`); returns training samples per second."""
    model = model.to(device)
    X, y = X.to(device), y.to(device)  # as Trainer does for tensors; outside the timing in both
    _sync(device)
    t0 = time.perf_counter()
    loop.train_plain(model, X, y, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
    _sync(device)
    speed = epochs * len(X) / (time.perf_counter() - t0)
    _LAST["plain"] = [p.detach().cpu().clone() for p in model.parameters()]
    return speed


def trainer_loop(model, X, y, epochs: int, batch_size: int, lr: float, seed: int, device: str, amp) -> float:
    """The same work through Trainer.fit (defaults: progress bar on); returns samples per second."""
    trainer = loop.Trainer(model, device=device, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed, amp=amp)
    X, y = X.to(device), y.to(device)  # as Trainer does for tensors; outside the timing in both
    _sync(device)
    t0 = time.perf_counter()
    trainer.fit((X, y))
    _sync(device)
    speed = epochs * len(X) / (time.perf_counter() - t0)
    _LAST["trainer"] = [p.detach().cpu().clone() for p in trainer.model.parameters()]
    return speed


def workloads(fast: bool = False):
    """(name, make_model, X, y, epochs, batch_size, lr) for the lesson's two models."""
    spam = models.spam_data()
    digits = models.mnist_data()
    n = 1000 if fast else len(digits.X_train)
    return [
        ("SpamMLP (TF-IDF 3000 -> 64 -> 2)", lambda: models.SpamMLP(spam.n_features), spam.X_train, spam.y_train, 6, 64, 1e-3),
        ("SmallCNN (MNIST 28x28)", lambda: models.SmallCNN(), digits.X_train[:n], digits.y_train[:n], 2, 64, 2e-3),
    ]


def run(device: str = "cpu", repeats: int = 7, fast: bool = False, amp: bool | str = False) -> dict:
    """Alternate plain and Trainer runs; return medians and the ratio per workload.

    AMP is off by default so that both sides do the same arithmetic (the plain loop has none)."""
    threads = loop.set_threads()
    out = {"device": device, "threads": threads, "torch": torch.__version__, "python": platform.python_version(),
           "repeats": repeats, "threshold": THRESHOLD, "results": []}
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(0)
    for name, make, X, y, epochs, bs, lr in workloads(fast):
        plain, mine = [], []
        for r in range(repeats + 1):  # the first pair warms up (allocator, caches) and is dropped
            speeds = {}
            # alternate which goes first: the second of a pair runs on a warmer (or hotter) machine
            for which in (("plain", "trainer") if r % 2 else ("trainer", "plain")):
                torch.manual_seed(0)
                if which == "plain":
                    speeds[which] = plain_loop(make(), X, y, epochs, bs, lr, 0, device)
                else:
                    speeds[which] = trainer_loop(make(), X, y, epochs, bs, lr, 0, device, amp)
            same = all(torch.equal(a, b) for a, b in zip(_LAST["plain"], _LAST["trainer"]))
            if r == 0 and not device.startswith("cuda") and not same:
                raise AssertionError(f"{name}: the plain loop and the Trainer ended with different weights: "
                                     "they did not do the same work")
            if r:
                plain.append(speeds["plain"])
                mine.append(speeds["trainer"])
        # the best run of each: noise from other processes only ever slows a run down, so the
        # fastest run is the best estimate of what the code costs (timeit's rule)
        row = {"workload": name, "plain_samples_per_s": max(plain), "trainer_samples_per_s": max(mine),
               "plain_median": statistics.median(plain), "trainer_median": statistics.median(mine),
               "median_of_pair_ratios": statistics.median(t / p for t, p in zip(mine, plain))}
        row["ratio"] = row["trainer_samples_per_s"] / row["plain_samples_per_s"]
        row["passed"] = row["ratio"] >= THRESHOLD
        out["results"].append(row)
        print(f"{name:34s} best: plain {row['plain_samples_per_s']:>9,.0f}/s  Trainer {row['trainer_samples_per_s']:>9,.0f}/s"
              f"  ratio {row['ratio']:.3f}  {'ok' if row['passed'] else 'BELOW ' + str(THRESHOLD)}"
              f"  (medians {row['plain_median']:,.0f} / {row['trainer_median']:,.0f}; median pair ratio "
              f"{row['median_of_pair_ratios']:.3f})", flush=True)
    out["passed"] = all(r["passed"] for r in out["results"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--fast", action="store_true", help="a smaller CNN workload")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    result = run(args.device, args.repeats, args.fast)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("PASS" if result["passed"] else "FAIL", f"(Trainer / plain >= {THRESHOLD})")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""A training job that keeps the CPU busy, with its own Prometheus metrics (lesson 05, training
beside serving).

Run as its own process (:func:`mlkit.monitoring.colocation.start_trainer` starts it)::

    python -m mlkit.monitoring.trainer --port 9100 --seconds 120

A student MLP (64 -> 512 -> 512 -> 10) learns to imitate a fixed random teacher network by SGD,
in batches of 256: real training, whose matrix products use every core torch is given
(``--threads``, default torch's own choice). ``GET /metrics`` (prometheus_client's default
registry) shows its process CPU seconds and memory (``process_*``), its steps
(``mlkit_trainer_steps_total``), its loss and its torch threads. ``SIGUSR1`` cuts it to one
thread while it runs. It stops by itself after ``--seconds`` of training. With ``--paused`` it
gets ready (imports torch, builds the model, serves ``/metrics``) and waits for ``SIGUSR2`` to
start: lesson 05 starts it early and lets it train when the measurement wants it to.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="lesson 05's training job (CPU-bound, with /metrics)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--paused", action="store_true", help="wait for SIGUSR2 before training")
    args = parser.parse_args(argv)

    import torch
    from prometheus_client import Counter, Gauge, start_http_server

    if args.threads:
        torch.set_num_threads(args.threads)
    steps = Counter("mlkit_trainer_steps", "Training steps done")
    loss_gauge = Gauge("mlkit_trainer_loss", "Training loss of the last step")
    threads = Gauge("mlkit_trainer_threads", "torch threads in use")
    threads.set(torch.get_num_threads())

    def one_thread(*_: object) -> None:
        torch.set_num_threads(1)
        threads.set(1)

    signal.signal(signal.SIGUSR1, one_thread)
    go = threading.Event()
    signal.signal(signal.SIGUSR2, lambda *_: go.set())
    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))
    student = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                  torch.nn.ReLU(), torch.nn.Linear(512, 10))
    optimizer = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
    started = args.paused
    if args.paused:
        start_http_server(args.port, addr="127.0.0.1")
        while not go.wait(0.1):  # a short wait, so the signal handler runs
            pass
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        x = torch.randn(256, 64)
        with torch.no_grad():
            y = teacher(x).argmax(dim=1)
        loss = torch.nn.functional.cross_entropy(student(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps.inc()
        loss_gauge.set(loss.item())
        if not started:  # /metrics answers once training runs: the launcher's readiness check
            start_http_server(args.port, addr="127.0.0.1")
            started = True


if __name__ == "__main__":
    main()

"""A training loop worth reusing (lesson 02): :class:`Trainer`.

What it does, and why each piece is there:

* **device**: the model and each batch go to ``device`` ("cpu", "cuda", "mps"). In-memory
  tensors are moved to a GPU once (small data sets fit); a ``DataLoader`` made by
  :func:`make_loader` uses pinned memory and its batches are copied with ``non_blocking=True``.
* **mixed precision** on CUDA: ``torch.autocast`` in bf16 where the GPU has it (no loss
  scaling needed), else fp16 with a ``GradScaler``.
* **a progress bar** (``tqdm.auto``: a widget in JupyterLab, text elsewhere).
* **early stopping** on a monitored metric, keeping the best weights.
* **checkpoints** as plain state dicts (model, optimizer, scaler, RNG states, history),
  loaded with ``torch.load(..., weights_only=True)`` (no arbitrary code from a file), and
  **resume** from the last one, giving the same result as an uninterrupted run.
* **determinism**: a seed fixes the initial RNG state and the shuffling order.
* **no overhead** over a plain loop: the per-batch work is the plain loop's work plus one
  tensor add and a progress-bar tick; nothing syncs the device inside an epoch.
  ``benchmarks/trainer_overhead.py`` measures it.

Callbacks ``f(record)`` are called after each epoch with that epoch's metrics (a dict): the
lesson logs them to MLflow, and :mod:`mlkit.training.widget` draws live loss curves with them.

:func:`train_plain` is the plain loop itself (forward, loss, backward, step), written once:
lesson 02 shows its source and runs it, and the benchmark times it against the Trainer.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

Data = Any  # a (X, y) pair of tensors, or a torch DataLoader yielding (X, y) batches


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads (returns the number set).

    Default: ``$MLKIT_THREADS``, else all cores but one (at least 1), leaving a core for the
    kernel, the MLflow UI and whatever else runs. Never more than the cores: threads that wait
    for a busy core spin, and a small model then trains many times slower (measured here:
    4 threads on 2 cores made a CNN 2.7x slower; 2 threads on 2 loaded cores, 10x).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    from mlkit.course.config import settings

    n = n or settings().threads or cores - 1
    n = max(1, min(n, cores))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def make_loader(
    X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 64, shuffle: bool = True,
    seed: int | None = None, device: str = "cpu", num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    """A DataLoader over tensors: seeded shuffling, and pinned memory when training on CUDA
    (pinned pages let the copy to the GPU run asynchronously)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, generator=gen,
        pin_memory=str(device).startswith("cuda"), num_workers=num_workers,
    )


def train_plain(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, lr: float = 1e-3, epochs: int = 5,
                batch_size: int = 64, seed: int = 0) -> nn.Module:
    """The plain PyTorch training loop of lesson 02: forward, loss, backward, step.

    Trains ``model`` on (X, y) where they are (put all three on one device first).
    :class:`Trainer` is this loop plus bookkeeping; with the same seed, model and data
    (and no early stopping) both end with bit-identical weights (lesson 02 and the tests check it).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(seed)  # the dropout masks
    order = torch.Generator().manual_seed(seed)  # the order of the samples
    for _epoch in range(epochs):
        model.train()  # dropout on
        for idx in torch.randperm(len(X), generator=order).to(X.device).split(batch_size):
            loss = loss_fn(model(X[idx]), y[idx])  # forward + loss
            optimizer.zero_grad()
            loss.backward()  # backward: the gradients
            optimizer.step()  # step: update the weights
    return model


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    """True when two models hold bit-identical parameters and buffers (lesson 02)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


@dataclass
class History:
    """One record (a dict of metrics) per epoch, and how the run ended.

    ``stopped_early`` is True when early stopping ended the run; ``stopped_epoch`` is the
    last epoch trained; ``best_epoch`` the epoch whose weights the model holds at the end
    when early stopping is on; ``reason`` says it in a sentence (lesson 02 prints it).
    """

    records: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    stopped_epoch: int | None = None
    best_epoch: int | None = None
    reason: str = ""

    def __getitem__(self, key: str) -> list[float]:
        return [r[key] for r in self.records if key in r]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1] if self.records else {}


class Trainer:
    """Train a classifier with the good habits built in (lesson 02).

    Args:
        model: any ``nn.Module`` mapping a batch of inputs to logits.
        device: "cpu", "cuda", "cuda:1" or "mps" (``ws.device`` from ``mlkit.setup``).
        lr: learning rate of the default optimizer (AdamW).
        weight_decay: weight decay of the default optimizer.
        optimizer: a ready optimizer over ``model.parameters()`` (replaces the default).
        loss_fn: defaults to cross-entropy.
        epochs: epochs per ``fit`` call.
        batch_size: batch size for tensor data (a DataLoader brings its own).
        amp: mixed precision: "auto" (on for CUDA), True or False.
        patience: stop after this many epochs without improvement of ``monitor``; None: never.
        monitor: "val_loss" (lower is better) or "val_accuracy" (higher is better).
        checkpoint_dir: where ``last.pt`` and ``best.pt`` go; None: no files.
        seed: seeds the global torch RNG (dropout) and the shuffling at the start of ``fit``.
        progress: show a tqdm progress bar.
        callbacks: functions called as ``f(record)`` after each epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str = "cpu",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: torch.optim.Optimizer | None = None,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        epochs: int = 5,
        batch_size: int = 64,
        amp: bool | str = "auto",
        patience: int | None = None,
        monitor: str = "val_loss",
        checkpoint_dir: str | os.PathLike | None = None,
        seed: int | None = None,
        progress: bool = True,
        callbacks: Sequence[Callable[[dict[str, float]], Any]] = (),
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.loss_fn = loss_fn or nn.CrossEntropyLoss()
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.patience, self.monitor = patience, monitor
        self.mode = "min" if "loss" in monitor else "max"
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.seed, self.progress, self.callbacks = seed, progress, list(callbacks)
        cuda = self.device.type == "cuda"
        self.amp = cuda if amp == "auto" else bool(amp)
        if cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.amp_dtype = torch.bfloat16
        need_scaler = self.amp and cuda and self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if need_scaler else None
        self.history = History()
        self.best: float | None = None
        self.best_epoch = 0
        self._best_state: dict[str, torch.Tensor] | None = None
        self._wait = 0
        self._shuffle = torch.Generator()
        if seed is not None:
            self._shuffle.manual_seed(seed)

    # ------------------------------------------------------------------ data
    def _on_device(self, data: Data) -> Data:
        """Tensor pairs go to the device once; a DataLoader is left to copy per batch."""
        if isinstance(data, torch.utils.data.DataLoader) or data is None:
            return data
        X, y = data
        return X.to(self.device), y.to(self.device)

    def _batches(self, data: Data, shuffle: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if isinstance(data, torch.utils.data.DataLoader):
            nb = self.device.type == "cuda"
            for xb, yb in data:
                yield xb.to(self.device, non_blocking=nb), yb.to(self.device, non_blocking=nb)
            return
        X, y = data
        n, bs = len(X), self.batch_size
        if shuffle:
            order = torch.randperm(n, generator=self._shuffle).to(X.device)
            for i in range(0, n, bs):
                idx = order[i : i + bs]
                yield X[idx], y[idx]
        else:
            for i in range(0, n, bs):
                yield X[i : i + bs], y[i : i + bs]

    def _n_batches(self, data: Data) -> int:
        if isinstance(data, torch.utils.data.DataLoader):
            return len(data)
        return math.ceil(len(data[0]) / self.batch_size)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ training
    def fit(self, train: Data, val: Data = None, *, epochs: int | None = None, resume: bool | str | os.PathLike = False) -> History:
        """Train for ``epochs`` (default: the trainer's), evaluating on ``val`` after each.

        Args:
            train: (X, y) tensors or a DataLoader.
            val: (X, y) tensors or a DataLoader, or None (then no early stopping).
            epochs: total epochs of the run (a resumed run continues up to this number).
            resume: True (``checkpoint_dir/last.pt``) or a checkpoint path: continue from it.

        Returns:
            The history: one record per epoch (train_loss, val_loss, val_accuracy, seconds,
            samples_per_s).
        """
        total = int(epochs or self.epochs)
        start = 0
        if resume:
            if resume is True and not self.checkpoint_dir:
                raise ValueError("resume=True reads checkpoint_dir/last.pt: give the Trainer a checkpoint_dir, "
                                 "or pass the checkpoint's path as resume=...")
            path = self.checkpoint_dir / "last.pt" if resume is True else Path(resume)
            start = self.load_checkpoint(path)
            best = path.with_name("best.pt")
            if self.patience is not None and best.exists():  # early stopping must still return the best weights
                self._best_state = torch.load(best, map_location=self.device, weights_only=True)["model"]
        else:
            self.history, self.best, self.best_epoch, self._best_state, self._wait = History(), None, 0, None, 0
            if self.seed is not None:
                torch.manual_seed(self.seed)
                self._shuffle.manual_seed(self.seed)
        train, val = self._on_device(train), self._on_device(val)
        n_batches = self._n_batches(train)
        bar = None
        if self.progress and total > start:
            from tqdm.auto import tqdm

            bar = tqdm(total=(total - start) * n_batches, desc="training", unit="batch")  # left shown when done
        try:
            for epoch in range(start + 1, total + 1):
                record = self._train_epoch(train, epoch, bar)
                if val is not None:
                    record.update({f"val_{k}": v for k, v in self.evaluate(val).items()})
                self.history.records.append(record)
                stop = self._early_stopping(record, epoch)
                if self.checkpoint_dir:
                    self.save_checkpoint(self.checkpoint_dir / "last.pt", epoch)
                if bar is not None:
                    bar.set_postfix({k: round(v, 4) for k, v in record.items() if k.endswith(("loss", "accuracy"))})
                for callback in self.callbacks:
                    callback(dict(record))
                if stop:
                    break
        finally:
            if bar is not None:
                bar.close()
        if self._best_state is not None:  # early stopping keeps the best weights, not the last
            self.model.load_state_dict(self._best_state)
        self._explain_end(total)
        return self.history

    def _explain_end(self, total: int) -> None:
        """Record in the history how the run ended: all epochs, or early stopping (and why)."""
        h = self.history
        h.stopped_epoch = int(h.last["epoch"]) if h.records else None
        h.stopped_early = bool(h.records) and self.patience is not None and h.stopped_epoch < total
        h.best_epoch = self.best_epoch if self.best is not None else None
        best = f"best {self.monitor} {self.best:.4f} at epoch {self.best_epoch}" if self.best is not None else ""
        if h.stopped_early:
            h.reason = (f"stopped early after epoch {h.stopped_epoch} of {total}: {self.monitor} did not improve "
                        f"for {self.patience} epochs ({best}); the model holds the weights of epoch {self.best_epoch}")
        elif self.patience is not None and best:
            h.reason = (f"ran all {total} epochs ({best}; patience {self.patience} never ran out); "
                        f"the model holds the weights of epoch {self.best_epoch}")
        else:
            h.reason = f"ran all {total} epochs (no early stopping{'' if self.patience is None else ': nothing to monitor'})"

    def _train_epoch(self, train: Data, epoch: int, bar: Any) -> dict[str, float]:
        model, opt, loss_fn, scaler = self.model, self.optimizer, self.loss_fn, self.scaler
        model.train()
        losses: list[torch.Tensor] = []  # summed once per epoch: no extra kernel, no sync per batch
        sizes: list[int] = []
        t0 = time.perf_counter()
        for xb, yb in self._batches(train, shuffle=True):
            with self._autocast():
                loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            losses.append(loss.detach())
            sizes.append(len(yb))
            if bar is not None:
                bar.update(1)
        seen = sum(sizes)
        weights = torch.tensor(sizes, dtype=torch.float32, device=self.device)
        train_loss = (torch.stack(losses).float() @ weights).item() / max(seen, 1)  # the epoch's one device sync
        seconds = time.perf_counter() - t0
        return {"epoch": epoch, "train_loss": train_loss, "seconds": seconds, "samples_per_s": seen / max(seconds, 1e-9)}

    def _early_stopping(self, record: dict[str, float], epoch: int) -> bool:
        if self.monitor not in record:
            return False
        value = record[self.monitor]
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if better:
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self.patience is not None:
                self._best_state = copy.deepcopy(self.model.state_dict())
            if self.checkpoint_dir:
                self.save_checkpoint(self.checkpoint_dir / "best.pt", epoch)
            return False
        self._wait += 1
        return self.patience is not None and self._wait >= self.patience

    # ------------------------------------------------------------------ evaluation
    @torch.inference_mode()
    def evaluate(self, data: Data) -> dict[str, float]:
        """Mean loss and accuracy on (X, y) tensors or a DataLoader (eval mode, no grad)."""
        self.model.eval()
        data = self._on_device(data)
        total_loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        bs, self.batch_size = self.batch_size, max(self.batch_size, 1024)
        try:
            for xb, yb in self._batches(data, shuffle=False):
                with self._autocast():
                    logits = self.model(xb)
                total_loss += self.loss_fn(logits.float(), yb) * len(yb)
                correct += (logits.argmax(1) == yb).sum()
                seen += len(yb)
        finally:
            self.batch_size = bs
        return {"loss": total_loss.item() / max(seen, 1), "accuracy": correct.item() / max(seen, 1)}

    @torch.inference_mode()
    def predict(self, X: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Logits for X (on the CPU, in float32)."""
        self.model.eval()
        outs = []
        for i in range(0, len(X), batch_size):
            with self._autocast():
                outs.append(self.model(X[i : i + batch_size].to(self.device)).float().cpu())
        return torch.cat(outs) if outs else torch.empty(0)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self, epoch: int) -> dict[str, Any]:
        """Everything needed to resume: only tensors, numbers, strings, lists and dicts."""
        state = {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "history": [dict(r) for r in self.history.records],
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self._wait,
            "rng_torch": torch.get_rng_state(),
            "rng_shuffle": self._shuffle.get_state(),
        }
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def save_checkpoint(self, path: str | os.PathLike, epoch: int | None = None) -> Path:
        """Write a checkpoint atomically (a crash mid-write never leaves a broken file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(self.state_dict(epoch if epoch is not None else len(self.history)), tmp)
        os.replace(tmp, path)
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> int:
        """Restore model, optimizer, RNG states and history; return the epoch it was saved at.

        Loads with ``weights_only=True``: a checkpoint is data, and torch refuses to run
        code hidden in a pickled file."""
        state = torch.load(Path(path), map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.history = History([dict(r) for r in state["history"]])
        self.best, self.best_epoch, self._wait = state["best"], state["best_epoch"], state["wait"]
        torch.set_rng_state(state["rng_torch"].cpu())
        self._shuffle.set_state(state["rng_shuffle"].cpu())
        if "rng_cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"].cpu(), self.device)
        return int(state["epoch"])


def load_weights(model: nn.Module, path: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Load the model weights of a Trainer checkpoint (or a bare state dict) safely."""
    state = torch.load(Path(path), map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"] if "model" in state and "optimizer" in state else state)
    return model


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Share of rows whose arg-max class equals the label."""
    return (logits.argmax(1) == y).float().mean().item()


def throughput(step: Callable[[], Any], n_samples: int, repeats: int = 3) -> float:
    """Best samples/s over ``repeats`` calls of ``step`` (which processes ``n_samples``)."""
    best = math.inf
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return n_samples / best

"""Data-parallel training of the lesson's CNN with DistributedDataParallel (lesson 02).

Run by :func:`mlkit.training.distributed.run_ddp` through ``torchrun``::

    torchrun --standalone --nproc_per_node=2 -m mlkit.training.ddp_train --out result.json

Each process (rank) holds a full copy of the model and trains on its own half of each
epoch's data (``DistributedSampler``); after every backward pass DDP averages the
gradients across processes (an all-reduce), so all copies stay identical. Backend: NCCL
when each process has a GPU of its own, else gloo on the CPU. Rank 0 evaluates and writes
the result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file for the result (written by rank 0)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (split across processes)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=0, help="use only the first N training images (0: all)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    from mlkit.training import loop, models

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = args.device.startswith("cuda") and torch.cuda.device_count() >= world
    backend = "nccl" if use_cuda else "gloo"
    device = f"cuda:{local_rank}" if use_cuda else "cpu"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend)
    t0 = time.perf_counter()
    try:
        data = models.mnist_data(seed=args.seed)
        if args.n_train:
            data = data.subset(args.n_train)
        torch.manual_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts rank 0's)
        model = models.SmallCNN().to(device)
        ddp_model = DDP(model, device_ids=[local_rank] if use_cuda else None)
        sampler = DistributedSampler(TensorDataset(data.X_train, data.y_train), num_replicas=world, rank=rank,
                                     shuffle=True, seed=args.seed)
        loader = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=max(1, args.batch_size // world),
                            sampler=sampler, pin_memory=use_cuda)
        trainer = loop.Trainer(
            ddp_model, device=device, lr=args.lr, epochs=args.epochs, seed=args.seed, progress=False,
            callbacks=[lambda record: sampler.set_epoch(int(record["epoch"]))],  # a new shuffle each epoch
        )
        history = trainer.fit(loader)
        result = {}
        if rank == 0:
            evaluator = loop.Trainer(model, device=device, progress=False)
            metrics = evaluator.evaluate((data.X_test, data.y_test))
            result = {
                "accuracy": metrics["accuracy"], "loss": metrics["loss"], "world_size": world, "backend": backend,
                "device": device, "epochs": args.epochs, "train_loss": history["train_loss"],
                "seconds": time.perf_counter() - t0, "samples_per_s_per_rank": history.last["samples_per_s"],
            }
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=2))
        dist.barrier()
        return result
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Measure a real model for the calculator (lesson 02): parameters, what autograd saves, FLOPs.

:func:`spec_from_model` runs one forward pass on the "meta" device (shapes only: no memory, no
compute) and counts what autograd keeps for the backward pass; :func:`measure_training_memory`
does the same accounting for one real training step (weights, gradients, optimizer state,
activations), to compare with :func:`mlkit.training.resources.estimate_memory`.
"""

from __future__ import annotations

from typing import Any

from mlkit.training.resources import Memory, ModelSpec


def spec_from_model(model: Any, input_shape: tuple[int, ...], name: str | None = None, dtype: Any = None) -> ModelSpec:
    """Measure a model: parameters, elements saved for backward and forward FLOPs per sample.

    Runs one forward pass of a batch of 2 on the "meta" device (shapes only, no memory, no
    compute) with a saved-tensors hook that counts what autograd keeps for the backward pass.
    """
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    meta = copy.deepcopy(model).to("meta") if any(p.device.type != "meta" for p in model.parameters()) else model
    meta.train()
    x = torch.zeros((2, *input_shape), device="meta", dtype=dtype or torch.float32)
    saved = _SavedCounter(list(meta.parameters()))
    with FlopCounterMode(display=False) as fc, torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack):
        meta(x)
    # in fp32 units (4 bytes: an int64 index of max-pooling counts as two), per sample
    return ModelSpec(name or type(model).__name__, int(params), saved.bytes / 4 / 2, fc.get_total_flops() / 2)


class _SavedCounter:
    """Counts the bytes autograd saves for backward, each tensor once, parameters (and
    views of them, like a transposed weight) excluded.

    Only public APIs: on a real device a tensor's memory is identified by its storage
    (``untyped_storage().data_ptr()``), so views share one key; on the "meta" device
    (no memory, no pointers) a tensor computed from parameters alone (its ``grad_fn``
    leads only to the parameters' ``AccumulateGrad`` nodes, as for ``weight.t()``) is
    a parameter view.
    """

    def __init__(self, params: list[Any]) -> None:
        self.param_ids = {id(p) for p in params}
        self.param_ptrs = {p.untyped_storage().data_ptr() for p in params if p.device.type != "meta"}
        self.seen: set[Any] = set()
        self.bytes = 0

    def _from_params_only(self, t: Any) -> bool:
        nodes = [fn for fn, _ in t.grad_fn.next_functions] if t.grad_fn is not None else []
        return bool(nodes) and all(fn is not None and id(getattr(fn, "variable", None)) in self.param_ids
                                   for fn in nodes)

    def pack(self, t: Any) -> Any:
        meta = t.device.type == "meta"
        if id(t) in self.param_ids or self._from_params_only(t):
            return t
        if not meta and t.untyped_storage().data_ptr() in self.param_ptrs:
            return t
        key = id(t) if meta else (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.dtype)
        if key not in self.seen:
            self.seen.add(key)
            self.bytes += t.numel() * t.element_size()
        return t

    @staticmethod
    def unpack(t: Any) -> Any:
        return t


def measure_training_memory(model: Any, X: Any, y: Any, optimizer: str = "adam", amp: bool = False) -> Memory:
    """Measure one real training step of ``model`` on the batch (X, y): bytes of weights,
    gradients, optimizer state, and activations autograd saved for the backward pass.
    Compare with :func:`estimate_memory` (the lesson does)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(optimizer)
    opt = opt(params, lr=1e-3) if opt else torch.optim.SGD(params, lr=1e-3, momentum=0.9 if optimizer == "sgd_momentum" else 0)
    device = next(model.parameters()).device
    saved = _SavedCounter(params)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else torch.autocast(device.type, enabled=False)
    with torch.autograd.graph.saved_tensors_hooks(saved.pack, saved.unpack), ctx:
        loss = torch.nn.functional.cross_entropy(model(X.to(device)), y.to(device))
    activations = saved.bytes
    opt.zero_grad()
    loss.backward()
    opt.step()

    def nbytes(ts: Any) -> int:
        return sum(t.numel() * t.element_size() for t in ts if torch.is_tensor(t))

    state = [v for s in opt.state.values() for k, v in s.items() if k != "step"]
    model.zero_grad(set_to_none=True)
    grads = nbytes(p for p in params)  # each param had a grad of its own size and dtype
    return Memory(float(nbytes(params)), float(grads), float(nbytes(state)), float(activations))

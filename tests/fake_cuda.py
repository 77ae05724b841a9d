"""A pretend CUDA device on a CPU-only machine, for testing device handling without a GPU.

Inside `FakeCuda()`, tensors moved or created on "cuda" (`.to("cuda")`, `device=x.device`, ...)
live on the CPU but are tagged: they report `device == cuda:0`, every result computed from them is
tagged, and an operation that meets a tagged tensor and an untagged one of one or more dimensions
raises the error CUDA raises ("Expected all tensors to be on the same device"), as does `.numpy()`
of a tagged tensor. 0-dim CPU tensors mix freely, as they do with CUDA tensors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

CUDA = torch.device("cuda", 0)
TAG = "_fake_cuda"
# Operations that may take tensors on two devices: copies, indexing with CPU indices, attribute
# access, and nn.Module.to's check before it sets `param.data` (moves are handled apart).
CROSS_DEVICE = {"copy_", "__getitem__", "__setitem__", "__get__", "__set__", "_has_compatible_shallow_copy_type"}


def on_cuda(t: torch.Tensor) -> bool:
    return bool(getattr(t, TAG, False))


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def _tag(obj: Any, cuda: bool) -> Any:
    for t in _tensors(obj):
        setattr(t, TAG, cuda)
    return obj


def _is_cuda(device: Any) -> bool:
    return device is not None and torch.device(device).type == "cuda"


class FakeCuda(TorchFunctionMode):
    """The mode; see the module docstring."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", "")
        owner = getattr(getattr(func, "__self__", None), "__name__", "")
        if name == "__get__" and owner in ("device", "is_cuda"):
            cuda = on_cuda(args[0])
            return (CUDA if cuda else func(*args)) if owner == "device" else cuda
        if name == "__set__" and owner == "data":  # param.data = moved (nn.Module.to)
            func(*args)
            return _tag(args[0], on_cuda(args[1]))
        if name == "numpy" and on_cuda(args[0]):
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() first")
        if name in ("to", "cpu", "cuda") and isinstance(args[0], torch.Tensor):
            return self._move(func, name, args, kwargs)
        inputs = _tensors(args) + _tensors(kwargs)
        if name not in CROSS_DEVICE:
            devices = {on_cuda(t) for t in inputs if t.dim() > 0 or on_cuda(t)}
            if len(devices) > 1:
                raise RuntimeError(
                    f"Expected all tensors to be on the same device, but found at least two devices, "
                    f"cuda:0 and cpu! ({name})"
                )
        if "device" in kwargs:
            cuda = _is_cuda(kwargs["device"])
            kwargs["device"] = "cpu" if cuda else kwargs["device"]
        else:
            cuda = any(on_cuda(t) for t in inputs)
        return _tag(func(*args, **kwargs), cuda)

    @staticmethod
    def _move(func, name: str, args: tuple, kwargs: dict) -> torch.Tensor:
        """`.to(...)`, `.cpu()`, `.cuda()`: a copy when the (pretend) device changes."""
        t, source = args[0], on_cuda(args[0])
        if name == "to":
            device, dtype, _, _ = torch._C._nn._parse_to(*args[1:], **kwargs)
            like = args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else None
            target = on_cuda(like) if like is not None else source if device is None else _is_cuda(device)
        else:
            dtype, target = None, name == "cuda"
        moved = t.to(dtype=dtype) if dtype is not None else t
        if target != source and moved is t:
            moved = t.clone()
        return _tag(moved, target) if moved is not t else t

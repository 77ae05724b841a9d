"""Counter-based random streams: every draw is a pure function of (key, stream, counter).

A model's initialisation, its training data and its evaluation probes must not depend on which
other models share its batch, its position in a population, or the device. A stateful generator
cannot promise that without a Python loop over models; a hash of integer counters can, and it is
vectorised for free. Keys and counters are 32-bit values held in int64 tensors; every product
stays below 2**63, so the arithmetic is exact on every backend.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF
_MULT = 0x045D9F3B  # < 2**27, so (x < 2**32) * _MULT never overflows int64


def _mix(x: Tensor) -> Tensor:
    """A bijective avalanche mix of 32-bit values."""
    x = ((x >> 16) ^ x) * _MULT & _MASK32
    x = ((x >> 16) ^ x) * _MULT & _MASK32
    return (x >> 16) ^ x


def key_from_text(text: str) -> int:
    """A stable 32-bit key for a string (a spec seed, a zoo fingerprint, a purpose)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def model_keys(salt: int, model_ids: Tensor) -> Tensor:
    """Per-model 32-bit keys; distinct model ids (< 2**32) give distinct keys for one salt."""
    ids = model_ids.to(torch.int64) & _MASK32
    return _mix(_mix(ids) ^ (salt & _MASK32))


def secret_keys(keys: Tensor, words: tuple[int, ...]) -> Tensor:
    """`keys` folded with secret 32-bit words (a private split, `netembench.zoo.private`): one
    bijective mix per word, so distinct keys stay distinct and every word changes the result."""
    for word in words:
        keys = _mix(keys.to(torch.int64) ^ (word & _MASK32))
    return keys


def uniform(keys: Tensor, stream: int, counters: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """U[0, 1) values for every (key, counter) pair; `keys` broadcasts against `counters`.

    `stream` separates independent uses of one key (initialisation, data, probes, masks).
    Values carry 24 random bits, the float32 mantissa.
    """
    base = _mix(keys.to(torch.int64) ^ _mix(torch.tensor(stream & _MASK32, device=keys.device)))
    bits = _mix(base ^ _mix(counters.to(torch.int64) & _MASK32))
    return (bits >> 8).to(dtype) * (1.0 / (1 << 24))


def uniform_grid(keys: Tensor, stream: int, shape: tuple[int, ...], offset: int = 0) -> Tensor:
    """A `[len(keys), *shape]` block of U[0, 1) values, counters `offset .. offset + prod(shape)`."""
    n = 1
    for size in shape:
        n *= size
    counters = torch.arange(offset, offset + n, device=keys.device, dtype=torch.int64).reshape(shape)
    return uniform(keys.reshape(-1, *([1] * len(shape))), stream, counters)


def content_keys(values: Tensor) -> Tensor:
    """A 32-bit key per row of int64 `values [M, P]` (say, a model's weights' bits): a sum of mixed
    (value, position) pairs, exact integer arithmetic in any order, so the same on every machine."""
    positions = _mix(torch.arange(values.shape[1], device=values.device, dtype=torch.int64))
    return _mix((_mix((values & _MASK32) ^ positions).sum(1)) & _MASK32)

"""Sharded zoo builds on torch.distributed: `torchrun ... -m netembench zoo build SPEC --out DIR`.

Under torchrun (WORLD_SIZE > 1) each rank trains a contiguous share of every architecture's
models, the shares are gathered on every rank (gloo on CPU, NCCL on GPUs), and rank 0 writes the
zoo. A model's training depends only on its own key and task, in arithmetic with no batch effects
(`exact`), so the merged zoo equals a one-process build bit for bit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Shard:
    """This process's place in a build: rank `rank` of `world` (0 of 1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def share(self, rows: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of `rows` (shares differ in size by at most one)."""
        return np.array_split(rows, self.world)[self.rank]

    def gather(self, part: torch.Tensor, total: int) -> torch.Tensor:
        """Every rank's `part` (dim 0), concatenated in rank order: `total` rows on every rank."""
        if self.world == 1:
            return part
        sizes = [len(s) for s in np.array_split(np.arange(total), self.world)]
        padded = part.new_zeros((max(sizes), *part.shape[1:]))
        padded[: len(part)] = part
        pieces = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(pieces, padded.contiguous())
        return torch.cat([p[:n] for p, n in zip(pieces, sizes)])

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def current_shard(device: torch.device) -> tuple[Shard, torch.device]:
    """Join the torchrun process group if there is one; returns the shard and this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Shard(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Shard(dist.get_rank(), dist.get_world_size()), device

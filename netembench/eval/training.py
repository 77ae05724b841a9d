"""Training data for embedders: an endless stream of fresh probe draws with random cloze masks,
from one split of a zoo, on CPU or CUDA. Embedder authors need not rewrite it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from netembench.eval.probes import PROTOCOL_V1, ProbeBatch, Protocol, draw_probes
from netembench.zoo import rng
from netembench.zoo.store import ModelGroup, Zoo


@dataclass
class TrainingBatch:
    """A cloze-masked batch, its full gradients (the cloze target) and, for supervised embedders
    only, the task ids (a self-supervised embedder must not read them)."""

    batch: ProbeBatch
    target: Tensor  # [B, N] exact dy/dx, nothing hidden
    task_id: Tensor  # [B]


def training_batches(
    zoo: Zoo,
    split: str = "train",
    batch_size: int = 256,
    reads: frozenset[str] = frozenset({"grad"}),
    views: int = 1,
    protocol: Protocol = PROTOCOL_V1,
    device: str | torch.device = "cpu",
    seed: int = 0,
    max_tasks: int | None = None,
) -> Iterator[tuple[TrainingBatch, ...]]:
    """Yield tuples of `views` independent draws (new x and new masks) of the same random models.

    Models are chosen uniformly from the split (an architecture group at a time, in proportion to
    its size); draws never repeat the evaluation draws' keys. Deterministic for a given `seed`.
    `max_tasks` keeps only the models of tasks `0 .. max_tasks - 1` (task ids are drawn at random,
    so these are a random subset of the family): the knob of a data-scaling study.
    """
    if split not in ("train", "validation"):
        raise ValueError(
            f"training batches come from 'train' (or 'validation' for model selection), not {split!r}"
        )
    groups = zoo.groups(split) if max_tasks is None else task_subset(zoo.groups(split), max_tasks)
    pops = [zoo.population(g).to(device) for g in groups]
    sizes = np.array([len(g) for g in groups], dtype=float)
    gen = np.random.default_rng([seed, 0x7EA1])
    step = 0
    while True:
        g = int(gen.choice(len(groups), p=sizes / sizes.sum()))
        rows = torch.as_tensor(gen.integers(0, len(groups[g]), size=batch_size))
        ids = torch.as_tensor(groups[g].table["model_id"])[rows]
        task = torch.as_tensor(groups[g].table["task_id"])[rows].to(device)
        out = []
        for view in range(views):
            keys = rng.model_keys(rng.key_from_text(f"netembench-train:{seed}:{step}:{view}"), ids)
            probes = draw_probes(pops[g].select(rows.to(device)), ids, keys, protocol)
            out.append(TrainingBatch(probes.batch(reads, masked=True), probes.grad, task))
        yield tuple(out)
        step += 1


def task_subset(groups: list[ModelGroup], max_tasks: int) -> list[ModelGroup]:
    """The groups restricted to the models of tasks below `max_tasks` (empty groups dropped)."""
    kept = [ModelGroup(g.split, g.arch, {k: v[g.table["task_id"] < max_tasks] for k, v in g.table.items()}) for g in groups]
    kept = [g for g in kept if len(g)]
    if not kept:
        raise ValueError(f"max_tasks={max_tasks} keeps no model; task ids start at 0")
    return kept

"""What evaluation reads of a zoo, read into memory and checked before any submission code runs.

Harness 1.2 read a split's metadata (the task labels) and weights from the cache when it reached
that split, so code running beside it could change them in between; a worker once rewrote the
cached labels after the zoo was verified. The sandbox hides the cache from the worker, and this
holds without one too: `take` reads the tables, labels and weights of every split evaluation uses,
checks that they fit together, and evaluation never reads the cache again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from netembench.zoo.population import Population
from netembench.zoo.store import ModelGroup, Zoo, ZooIntegrityError

EVALUATED = ("train", "test", "unseen")  # the splits an evaluation embeds


@dataclass(frozen=True)
class Snapshot:
    """Every evaluated split's models by architecture, and their weights on the evaluation device."""

    groups: dict[str, list[ModelGroup]]
    populations: dict[tuple[str, str], Population]  # (split, arch) -> weights

    def population(self, group: ModelGroup) -> Population:
        return self.populations[group.split, group.arch.name]


def take(zoo: Zoo, device: torch.device | str = "cpu") -> Snapshot:
    """Read and check what evaluating `zoo` needs; one line naming the zoo when it does not fit."""
    n_tasks, n_families = len(zoo.tasks), int(zoo.tasks.family.max()) + 1
    groups = {s: zoo.groups(s) for s in EVALUATED if s in zoo.splits}
    populations = {}
    for split, found in groups.items():
        for g in found:
            pop = zoo.population(g)
            problem = _problem(g, pop, n_tasks, n_families)
            if problem:
                raise ZooIntegrityError(
                    f"zoo {zoo.spec.ref}: split {split!r} ({g.arch.name}) has {problem}; run 'netembench zoo verify'"
                )
            populations[split, g.arch.name] = pop.to(device)
    ids = np.concatenate([g.table["model_id"] for found in groups.values() for g in found])
    if len(np.unique(ids)) != len(ids):
        raise ZooIntegrityError(f"zoo {zoo.spec.ref}: model ids repeat across splits; run 'netembench zoo verify'")
    return Snapshot(groups, populations)


def _problem(group: ModelGroup, pop: Population, n_tasks: int, n_families: int) -> str | None:
    lengths = {k: len(v) for k, v in group.table.items()}
    if len(set(lengths.values())) != 1:
        return f"columns of unequal length {lengths}"
    if len(pop) != len(group):
        return f"{len(pop)} weight rows for {len(group)} models"
    if not _within(group.table["task_id"], n_tasks):
        return "task ids out of range"
    if not _within(group.table["family_id"], n_families):
        return "family ids out of range"
    return None


def _within(values: np.ndarray, bound: int) -> bool:
    return bool(len(values) == 0 or (values.min() >= 0 and values.max() < bound))

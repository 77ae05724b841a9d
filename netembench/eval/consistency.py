"""Embeddings must be functions of their probe sets (harness 1.3, DESIGN §12).

The protocol has always said that a model's embedding depends on its own probe set only: not on the
other models in its batch, their order, their ids, the time, or fresh randomness. An embedding that
does can score what it could not score on its own (batch-mates that vote, a clock that reads one
way at eval and another at rerun). So every evaluation keeps a random sample of the probe sets it
embedded and, once every draw is scored (later in time), embeds them again in other batches: mixed
across splits and draws, in another order, under fresh ids, one of them alone. Any embedding that
moved beyond a tight tolerance fails the evaluation in one line.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from netembench.eval.embedders import SubmissionError
from netembench.eval.probes import ProbeSet
from netembench.zoo.population import Population

PER_CALL = 4  # probe sets kept from each embed call
POOL = 48  # probe sets kept per kind of batch (architecture and probe-set shape), uniformly
RTOL = 1e-4  # of each entry
ATOL = 1e-5  # of the largest entry among the sample's embeddings (the embedding scale)
FIELDS = ("x", "y", "grad", "region", "mask")


class Recheck:
    """A uniform sample of embedded probe sets (reservoir sampling per kind of batch), embedded
    again at the end by `verify`."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pools: dict[tuple, list[tuple[ProbeSet, np.ndarray]]] = {}
        self.offered: dict[tuple, int] = {}

    def keep(self, probes: ProbeSet, out: np.ndarray) -> None:
        """Offer a few rows of one embed call (copies: the batch itself is not kept alive)."""
        key = (probes.population.arch.name, tuple(probes.x.shape[1:]))
        pool = self.pools.setdefault(key, [])
        for row in self.rng.choice(len(out), size=min(PER_CALL, len(out)), replace=False):
            seen = self.offered[key] = self.offered.get(key, 0) + 1
            slot = len(pool) if len(pool) < POOL else int(self.rng.integers(seen))
            if slot < POOL:
                item = (_row(probes, int(row)), out[row].copy())
                pool[slot:slot + 1] = [item]

    def verify(self, embed: Callable[[ProbeSet, str], np.ndarray], name: str) -> int:
        """Embed every kept probe set again, shuffled into new batches (the first of one model
        alone); raise when one moved. Returns how many were embedded again."""
        done = 0
        for pool in self.pools.values():
            order = self.rng.permutation(len(pool))
            size = max(2, -(-len(pool) // 3))
            cuts = [0, 1, *range(1 + size, len(pool), size), len(pool)]
            for start, stop in zip(cuts, cuts[1:]):
                rows = [pool[i] for i in order[start:stop]]
                if not rows:
                    continue
                batch = _stack([p for p, _ in rows], self.rng)
                fresh = embed(batch, "a sample embedded again (harness 1.3 batch-independence check)")
                _compare(np.stack([e for _, e in rows]), fresh, pool, name)
                done += len(rows)
        return done


def _row(probes: ProbeSet, i: int) -> ProbeSet:
    one = slice(i, i + 1)
    return ProbeSet(
        **{k: getattr(probes, k)[one].clone() for k in FIELDS},
        model_id=probes.model_id[one].clone(),
        population=probes.population.select(one).clone(),
    )


def _stack(rows: list[ProbeSet], rng: np.random.Generator) -> ProbeSet:
    """One batch of the given probe sets, under fresh random ids."""
    arch = rows[0].population.arch
    state = [r.population.state_dict() for r in rows]
    ids = torch.as_tensor(rng.integers(0, 2**62, size=len(rows)), device=rows[0].x.device)
    return ProbeSet(
        **{k: torch.cat([getattr(r, k) for r in rows]) for k in FIELDS},
        model_id=ids,
        population=Population.from_state_dict(arch, {k: torch.cat([s[k] for s in state]) for k in state[0]}),
    )


def _compare(before: np.ndarray, after: np.ndarray, pool: list, name: str) -> None:
    scale = max(max(float(np.abs(e).max()) for _, e in pool), 1e-30)
    tolerance = ATOL * scale + RTOL * np.abs(before)
    moved = np.abs(after - before) - tolerance
    if (moved > 0).any():
        worst = np.unravel_index(int(np.argmax(moved)), moved.shape)
        raise SubmissionError(
            f"embedder {name!r}: embeddings are not functions of their probe sets: embedding "
            f"{len(before)} of them again, later and in other batches (other batch-mates, order and "
            f"ids), moved an entry by {abs(after[worst] - before[worst]):.3g} (tolerance "
            f"{tolerance[worst]:.3g}); the protocol forbids embeddings that depend on other models "
            "in the batch, their order or ids, the time or fresh randomness"
        )

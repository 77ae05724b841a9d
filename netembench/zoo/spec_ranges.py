"""The allowed range of every numeric field of a zoo spec, as (field, value, allowed, ok) rows that
`spec.parse_spec` turns into one error naming the field and its range."""

from __future__ import annotations

import math
from typing import Any, Protocol

from netembench.zoo.population import TrainConfig
from netembench.zoo.pretrain import Pretrain1DFamily, Pretrain2DFamily, pretrain_ranges
from netembench.zoo.tasks import MAX_DEGREE, FineFamily, SeparatedFamily
from netembench.zoo.tasks2d import Separated2DFamily

Range = tuple[str, Any, str, bool]


class NumericFields(Protocol):
    """What the checks read of a `ZooSpec`."""

    seed: int
    shard_size: int
    fit_bar: float
    training: TrainConfig
    tasks: Any
    splits: tuple


def _finite(v: float) -> bool:
    return math.isfinite(v)


def numeric_ranges(spec: NumericFields) -> list[Range]:
    """(field, value, allowed range, within it?) of every numeric field."""
    t, f = spec.training, spec.tasks
    checks = [
        ("seed", spec.seed, "an integer from 0 to 2**63 - 1", 0 <= spec.seed < 2**63),
        ("shard_size", spec.shard_size, "an integer >= 1", spec.shard_size >= 1),
        ("fit_bar", spec.fit_bar, "finite and > 0", _finite(spec.fit_bar) and spec.fit_bar > 0),
        ("[training].steps", t.steps, "an integer from 1 to 1,000,000", 1 <= t.steps <= 1_000_000),
        ("[training].batch_size", t.batch_size, "an integer from 1 to 4096", 1 <= t.batch_size <= 4096),
        ("[training].lr", t.lr, "finite, 0 < lr <= 1", _finite(t.lr) and 0 < t.lr <= 1),
        (
            "[training].lr_final",
            t.lr_final,
            f"finite, 0 < lr_final <= lr ({t.lr!r})",
            _finite(t.lr_final) and 0 < t.lr_final <= t.lr,
        ),
        ("[tasks].max_attempts", f.max_attempts, "an integer >= 1", f.max_attempts >= 1),
    ]
    if isinstance(f, (SeparatedFamily, FineFamily)):
        checks += _root_ranges(f)
    if isinstance(f, (Pretrain1DFamily, Pretrain2DFamily)):
        checks += pretrain_ranges(f)
    elif isinstance(f, (SeparatedFamily, Separated2DFamily)):
        checks += [
            ("[tasks].n_tasks", f.n_tasks, "an integer >= 1", f.n_tasks >= 1),
            ("[tasks].n_unseen", f.n_unseen, "an integer >= 0", f.n_unseen >= 0),
            (
                "[tasks].min_distance",
                f.min_distance,
                "finite, 0 <= min_distance < 1",
                _finite(f.min_distance) and 0 <= f.min_distance < 1,
            ),
        ]
    else:
        checks += [
            ("[tasks].n_families", f.n_families, "an integer >= 1", f.n_families >= 1),
            ("[tasks].n_variants", f.n_variants, "an integer >= 1", f.n_variants >= 1),
            ("[tasks].eps", f.eps, "finite and > 0", _finite(f.eps) and f.eps > 0),
            ("[tasks].floor", f.floor, "finite, 0 <= floor < 1", _finite(f.floor) and 0 <= f.floor < 1),
            (
                "[tasks].base_min_distance",
                f.base_min_distance,
                "finite, 0 <= base_min_distance < 1",
                _finite(f.base_min_distance) and 0 <= f.base_min_distance < 1,
            ),
            ("[tasks].n_unseen_variants", f.n_unseen_variants, "an integer >= 0", f.n_unseen_variants >= 0),
            ("[tasks].n_unseen_families", f.n_unseen_families, "an integer >= 0", f.n_unseen_families >= 0),
        ]
    for i, s in enumerate(spec.splits, 1):
        checks += [
            (f"[[splits]] #{i}.n_seeds", s.n_seeds, "an integer >= 1", s.n_seeds >= 1),
            (f"[[splits]] #{i}.first_seed", s.first_seed, "an integer >= 0", s.first_seed >= 0),
        ]
    return checks


def _root_ranges(f: SeparatedFamily | FineFamily) -> list[Range]:
    """Range checks of the 1-D families' root sampler."""
    return [
        (
            "[tasks].degrees",
            list(f.degrees),
            f"a non-empty list of degrees from 1 to {MAX_DEGREE}",
            bool(f.degrees) and all(1 <= d <= MAX_DEGREE for d in f.degrees),
        ),
        ("[tasks].root_range", f.root_range, "finite and > 0", _finite(f.root_range) and f.root_range > 0),
    ]

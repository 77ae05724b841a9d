"""How big a spec's zoo would be, bounded before anything is built (harness 1.3).

A spec is data anyone can write, and a few digits ask for more than any machine holds: `n_tasks =
10^9` or `n_seeds = 10^20` used to pass validation and run until killed. `problem` estimates a
zoo's tasks, models, memory and training work from the spec alone (tasks x seeds x steps x
parameters) and names the field that breaks a bound. The bounds leave the largest canonical zoo
(poly2d-fine: 1,280 models, 9e12 multiply-adds) two orders of magnitude of room.
"""

from __future__ import annotations

from typing import Any

from netembench.zoo.population import Arch

MAX_TASKS = 20_000  # tasks are sampled by rejection against every accepted one: quadratic
MAX_MODELS = 1_000_000
MAX_FIRST_SEED = 2**31  # first_seed + n_seeds stays a small int64
MAX_MEMORY = 64 << 30  # bytes: weights, gradients, two Adam moments and a copy, 4 bytes each
BYTES_PER_PARAM = 20
MAX_WORK = 1e15  # multiply-adds of training (about 10 hours on 2 cores; canonical zoos: <= 9e12)
TASK_FIELDS = ("n_tasks", "n_unseen", "n_families", "n_variants", "n_unseen_variants", "n_unseen_families")


def task_counts(tasks: Any) -> tuple[int, int]:
    """(seen, unseen) task counts of a task family (separated or fine, 1-D or 2-D)."""
    if hasattr(tasks, "n_tasks"):
        return tasks.n_tasks, tasks.n_unseen
    unseen = tasks.n_families * tasks.n_unseen_variants + tasks.n_unseen_families * tasks.n_variants
    return tasks.n_families * tasks.n_variants, unseen


def problem(spec: Any) -> str | None:
    """The first bound `spec` (a parsed `ZooSpec` with in-range fields) breaks, as `field ...`."""
    for name in TASK_FIELDS:
        value = getattr(spec.tasks, name, 0)
        if value > MAX_TASKS:
            return f"[tasks].{name} = {value:,} is too large: at most {MAX_TASKS:,} tasks"
    seen, unseen = task_counts(spec.tasks)
    if seen + unseen > MAX_TASKS:
        return f"[tasks] asks for {seen + unseen:,} tasks, more than {MAX_TASKS:,}: lower its counts"
    parts = []  # (models, parameters per model, field) of every split
    for i, split in enumerate(spec.splits, 1):
        field = f"[[splits]] #{i}"
        models = (unseen if split.tasks == "unseen" else seen) * split.n_seeds
        if models > MAX_MODELS:
            return f"{field}.n_seeds = {split.n_seeds:,} makes {models:,} models, more than {MAX_MODELS:,}"
        if split.first_seed + split.n_seeds > MAX_FIRST_SEED:
            return f"{field}.first_seed + n_seeds = {split.first_seed + split.n_seeds:,} is too large: at most 2**31"
        parts.append((models, Arch.parse(split.arch).n_params, field))
    return _size(parts, spec.training.steps * spec.training.batch_size)


def _size(parts: list[tuple[int, int, str]], samples: int) -> str | None:
    """Memory and training work of the whole zoo, naming its largest split when over a bound."""
    models, params, field = max(parts, key=lambda p: p[0] * p[1])
    memory = sum(m * p for m, p, _ in parts) * BYTES_PER_PARAM
    if memory > MAX_MEMORY:
        return (
            f"{field} (and the rest) would need about {memory / 2**30:,.0f} GiB to train "
            f"(at most {MAX_MEMORY >> 30} GiB): {field} holds {models:,} models of {params:,} parameters; "
            "use fewer seeds, tasks or a smaller architecture"
        )
    work = 6 * samples * sum(m * p for m, p, _ in parts)
    if work > MAX_WORK:
        return (
            f"[training].steps x batch_size = {samples:,} samples per model would cost about {work:.1e} "
            f"multiply-adds to train (at most {MAX_WORK:.0e}; {field} is the largest split, {models:,} "
            f"models of {params:,} parameters); use fewer steps, seeds or tasks"
        )
    return None

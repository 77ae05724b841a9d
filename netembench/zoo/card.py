"""The dataset card (README.md) of a zoo: complete for the Hugging Face Hub, and deterministic
(no dates), because its checksum is in the zoo's manifest."""

from __future__ import annotations

from typing import Any

import numpy as np

from netembench.zoo.host import card_text, is_host_family
from netembench.zoo.spec import ZooSpec
from netembench.zoo.tasks import TaskSet

CITATION = """@misc{netembench,
  title  = {netembench: a benchmark for functional network embeddings},
  author = {{netembench contributors}},
  year   = {2026},
  note   = {https://github.com/netembench/netembench}
}"""


def _size_category(n: int) -> str:
    return "n<1K" if n < 1_000 else "1K<n<10K" if n < 10_000 else "10K<n<100K"


def render_card(spec: ZooSpec, tasks: TaskSet, models: dict[str, np.ndarray], info: dict[str, Any]) -> str:
    """The card of a zoo built from `spec`, with its tasks, model table and build `info`."""
    gen = info["generator"]
    return TEMPLATE.format(
        front=_front_matter(spec, models),
        ref=spec.ref,
        description=spec.description,
        n_tasks=len(tasks),
        n_unseen=int(tasks.unseen.sum()),
        min_distance=tasks.min_distance,
        family_text=_family_text(spec.tasks),
        split_rows="\n".join(_split_rows(spec.split_names, models)),
        fit_rows="\n".join(
            f"| `{arch}` | {f['models']} | {f['median_rel_mse']:.2e} | {f['max_rel_mse']:.2e} |"
            for arch, f in info["fit"].items()
        ),
        steps=spec.training.steps,
        batch_size=spec.training.batch_size,
        lr=spec.training.lr,
        lr_final=spec.training.lr_final,
        seed=spec.seed,
        netembench=gen["netembench"],
        format_version=gen["format_version"],
        torch=gen["torch"],
        device=gen["device"],
        private=PRIVATE_NOTE if info.get("split") == "private" else "",
        citation=CITATION,
        **(TABULATED_DOMAINS if tasks.tabulated else DOMAINS)[tasks.dim],
    )


def _front_matter(spec: ZooSpec, models: dict[str, np.ndarray]) -> str:
    """The Hub's YAML header: tags, size, and the `datasets` configs of the metadata and tasks."""
    configs = "\n".join(f"  - split: {s}\n    path: metadata/{s}.parquet" for s in spec.split_names)
    return f"""---
license: mit
pretty_name: netembench {spec.ref}
tags:
- netembench
- model-zoo
- network-embedding
size_categories:
- {_size_category(len(models["model_id"]))}
configs:
- config_name: default
  data_files:
{configs}
- config_name: tasks
  data_files:
  - split: tasks
    path: tasks.parquet
---
"""


def _split_rows(splits: list[str], models: dict[str, np.ndarray]) -> list[str]:
    """A table row per (split, architecture): tasks, seed range, models."""
    rows = []
    for s in splits:
        for arch in dict.fromkeys(models["arch"][models["split"] == s].tolist()):
            sel = (models["split"] == s) & (models["arch"] == arch)
            seeds = np.unique(models["seed"][sel])
            rows.append(
                f"| `{s}` | `{arch}` | {len(np.unique(models['task_id'][sel]))} | {seeds.min()}–{seeds.max()} | {int(sel.sum())} |"
            )
    return rows


def _family_text(family) -> str:
    """One sentence on the task family and its parameters (and, for host zoos, on the hosts)."""
    text = _tasks_text(family)
    return text + " " + card_text(family) if is_host_family(family) else text


def _tasks_text(family) -> str:
    if family.kind in ("separated", "host-separated"):
        return (
            f"`separated`: {family.n_tasks} tasks (+{family.n_unseen} unseen) with random real roots in "
            f"[-{family.root_range}, {family.root_range}], pairwise RMS distance ≥ {family.min_distance}."
        )
    elif family.kind == "separated2d":
        return (
            f"`separated2d`: {family.n_tasks} tasks (+{family.n_unseen} unseen), uniform coefficients in "
            f"an orthonormal (Legendre) basis, pairwise RMS distance ≥ {family.min_distance}."
        )
    elif getattr(family, "tabulated", False):
        return (
            f"`{family.kind}`: {family.n_tasks} pretraining tasks, a mixture (weights {list(family.mix)}) of "
            "polynomials, sinusoids, piecewise-linear functions and splines, tabulated on knots (`coef_k` are "
            "knot values); none within a canonical track's min_distance (or floor) of a canonical task."
        )
    else:
        return (
            f"`{family.kind}`: {family.n_families} families × {family.n_variants} variants "
            f"`normalise(base + {family.eps} · normalise(random))`; bases ≥ {family.base_min_distance} apart, "
            f"any two tasks ≥ {family.floor} apart; unseen: {family.n_unseen_variants} new variants per family and "
            f"{family.n_unseen_families} new families."
        )


DOMAINS = {
    1: {
        "domain": "degree 3–4, normalised to zero mean and unit\nrange over [-1, 1]",
        "order": "low → high",
        "cube": "[-1, 1]",
        "grid": "1025-point grid",
    },
    2: {
        "domain": "2-D polynomials of total degree ≤ 3, normalised to zero mean over\n[-1, 1]² and unit range",
        "order": "monomials x1^a x2^b by total degree, then falling a",
        "cube": "[-1, 1]²",
        "grid": "129 × 129 grid",
    },
}
TABULATED_DOMAINS = {  # pretraining zoos: `coef_k` are knot values (`netembench.zoo.tabulated`)
    1: {**DOMAINS[1], "domain": "tabulated on the knots k/64, normalised to zero mean and unit\nrange over [-1, 1]",
        "order": "the value at knot k/64 - 1, k = 0 .. 128; no Chebyshev columns"},
    2: {**DOMAINS[2], "domain": "tabulated on the 33 x 33 knots (k/16, l/16), normalised to zero mean\nover [-1, 1]² and unit range",
        "order": "the value at knot (i/16 - 1, j/16 - 1) in column 33 i + j; no Chebyshev columns"},
}
PRIVATE_NOTE = (
    "\n**A private build**: its seen tasks and its `train` and `validation` models are those of the public\n"
    "build, but every other split's models and the unseen tasks come from a secret salt the\n"
    "maintainers hold (`--private-salt`). It cannot be rebuilt from `spec.toml` alone: never publish it.\n"
)
TEMPLATE = """{front}
# netembench zoo `{ref}`

{description}

A *model zoo* for benchmarking functional network embeddings: each model is a small ReLU MLP trained
to fit a known random polynomial (its *task*) on {cube}. Embedders are scored on how well their
embeddings identify, cluster and generalise across tasks (see
[netembench](https://github.com/netembench/netembench)).

## Tasks

{n_tasks} tasks ({n_unseen} unseen), {domain}; minimum pairwise RMS distance achieved:
**{min_distance:.4f}**.
Family {family_text}
`tasks.parquet` holds each task's monomial (`coef_k`, {order}) and Chebyshev (`cheb_k`) coefficients.

## Splits

Splits are seed-disjoint: every seen task has models in `train`, `validation` and `test`, with
different seeds; `unseen` tasks appear in no other split.

| split | architecture | tasks | seeds | models |
|---|---|---|---|---|
{split_rows}

## Models and fit quality

Each model: MSE on fresh `x ~ U{cube}` every step ({steps} Adam steps, batch
{batch_size}, cosine learning rate {lr} → {lr_final}).
Relative MSE on a {grid} (`train_rel_mse` in the metadata):

| architecture | models | median | worst |
|---|---|---|---|
{fit_rows}

Weights are stacked per shard in `weights/<arch>/<split>-<k>.safetensors` as
`layers.<i>.weight [M, out, in]` and `layers.<i>.bias [M, out]`; row `row` of shard `shard` is the
model of that metadata row.

## Loading

```python
import netembench
zoo = netembench.load_zoo("{ref}")          # verified; lazy access to weights
group = zoo.groups("test")[0]
pop = zoo.population(group)                      # stacked weights of the test models

import datasets
meta = datasets.load_dataset("<this folder or hub repository>")   # metadata, one split per split
```

## Generation

Generated deterministically from `spec.toml` (seed {seed}) by netembench {netembench}
(zoo format {format_version}) with torch {torch} on {device}:
`netembench zoo build {ref}`, which gives the same content on every x86-64 CPU and thread
count. The zoo's identity is its **content fingerprint** (`content_fingerprint` in `manifest.json`):
a hash of the spec, every table value and every tensor, independent of file-writer metadata. The
manifest's per-file sha256 checksums guard the integrity of a copy.
{private}
## License and citation

MIT.

```bibtex
{citation}
```
"""

"""`netembench zoo diff`: what differs between two builds of one spec, value by value.

A build whose fingerprint is not the reference one is reported by what differs: every weight tensor
(per split and architecture, per `layers.i.weight/bias`) and every table column (tasks and each
split's metadata), with how many values differ, the largest absolute difference, the largest
difference in ulps (units in the last place: how many representable floats lie between the two
values), and the first model that differs (split, model id, task, seed). Values are compared by
their bits, as the content fingerprint sees them. The weights are read one weight shard's worth of
models at a time, so memory stays bounded whatever the zoo's size.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from netembench.zoo.store import ModelGroup, Zoo, ZooError

MODEL_FIELDS = ("split", "model_id", "task_id", "seed", "arch")


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many representable values of the arrays' float type lie between `a` and `b` (uint64;
    +0 and -0 count as one value). Bit patterns mapped to a monotone integer order: sign-magnitude
    to two's complement."""
    signed = {4: np.int32, 8: np.int64}[a.dtype.itemsize]

    def ordered(x: np.ndarray) -> np.ndarray:
        bits = x.view(signed).astype(np.int64)
        return np.where(bits < 0, -(bits & np.iinfo(signed).max), bits)

    ka, kb = ordered(a), ordered(b)
    ua, ub = ka.view(np.uint64), kb.view(np.uint64)
    return np.where(ka >= kb, ua - ub, ub - ua)  # exact modulo 2**64, and the distance is below it


@dataclass
class Difference:
    """One tensor or column that differs between the two zoos."""

    item: str  # "weights train 1-8-8-1 layers.0.weight", "metadata/train train_rel_mse", "tasks coef_0"
    differ: int = 0  # values that differ
    total: int = 0  # values compared
    max_abs: float | None = None  # largest |a - b| (numbers only)
    max_ulp: int | None = None  # largest ulp distance (floats only)
    first: dict[str, Any] | None = None  # the first model (or task) that differs
    detail: str = ""  # what else differs: dtypes, spec lines

    def add(self, a: np.ndarray, b: np.ndarray, rows: dict[str, np.ndarray]) -> None:
        """Compare values `[R, ...]` of R rows (models or tasks, described by `rows`) and tally."""
        if a.dtype != b.dtype and {a.dtype.kind, b.dtype.kind} != {"U"}:
            self.detail = f"dtype {a.dtype} in A, {b.dtype} in B"
            numeric = {a.dtype.kind, b.dtype.kind} <= set("fiub")
            common = np.float64 if numeric else object
            a, b = a.astype(common), b.astype(common)
        self.total += a.size
        differ = _differing(a, b)
        if not differ.any():
            return
        self.differ += int(differ.sum())
        da, db = a[differ], b[differ]
        if a.dtype.kind in "fiu":
            largest = float(np.max(np.abs(da.astype(np.float64) - db.astype(np.float64))))
            self.max_abs = largest if self.max_abs is None else max(self.max_abs, largest)
        if a.dtype.kind == "f":
            ulps = int(ulp_distance(da, db).max())
            self.max_ulp = ulps if self.max_ulp is None else max(self.max_ulp, ulps)
        hit = int(np.flatnonzero(differ.reshape(len(differ), -1).any(1))[0])
        row = {k: v[hit].item() for k, v in rows.items()}
        if self.first is None or _order(row) < _order(self.first):
            self.first = row


def _differing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Which entries differ: by their bits for floats (as the fingerprint sees them: -0 is not +0,
    a NaN equals the same NaN), by value otherwise."""
    if a.dtype.kind == "f":
        bits = np.int64 if a.dtype.itemsize == 8 else np.int32
        return a.view(bits) != b.view(bits)
    return a != b


def _order(row: dict[str, Any]) -> tuple[int, int]:
    return (row.get("model_id", -1), row.get("task_id", -1))


@dataclass
class ZooDiff:
    """The comparison of zoo A with zoo B: identical (one content fingerprint) or what differs."""

    a: dict[str, str]  # ref, path, fingerprint
    b: dict[str, str]
    differences: list[Difference] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)  # tensors and columns compared

    @property
    def identical(self) -> bool:
        return self.a["fingerprint"] == self.b["fingerprint"]

    @property
    def first_model(self) -> dict[str, Any] | None:
        models = [d.first for d in self.differences if d.first and "model_id" in d.first]
        return min(models, key=_order) if models else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (`zoo diff --json`); a non-finite largest difference becomes a string."""
        rows = []
        for d in self.differences:
            row = asdict(d)
            if row["max_abs"] is not None and not math.isfinite(row["max_abs"]):
                row["max_abs"] = str(row["max_abs"])
            rows.append(row)
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "compared": self.compared,
            "differences": rows,
            "first_model": self.first_model,
        }

    def format(self) -> str:
        """One line when identical, else a table of what differs."""
        if self.identical:
            return (
                f"identical: {self.a['path']} and {self.b['path']} ({self.a['ref']}) share content "
                f"fingerprint {self.a['fingerprint']}"
            )
        lines = [
            f"{k}  {z['ref']}  {z['path']}  content {z['fingerprint'][:12]}"
            for k, z in (("A", self.a), ("B", self.b))
        ]
        width = max([len("what")] + [len(d.item) for d in self.differences])
        lines.append(
            f"{'what':<{width}}  {'differ':>8}  {'of':>9}  {'max |diff|':>10}  {'max ulp':>10}  first"
        )
        for d in self.differences:
            lines.append(
                f"{d.item:<{width}}  {d.differ:>8}  {d.total:>9}  {_number(d.max_abs):>10}  "
                f"{_number(d.max_ulp):>10}  {_describe(d.first)}" + (f"  ({d.detail})" if d.detail else "")
            )
        tensors = sum(1 for d in self.differences if d.item.startswith("weights"))
        columns = sum(1 for d in self.differences if d.item.startswith(("metadata", "tasks")))
        summary = (
            f"{tensors} of {self.compared['tensors']} tensors and {columns} of {self.compared['columns']} "
            "table columns differ"
        )
        if not self.differences:
            summary = "no value differs, yet the fingerprints do: the tables' column order or types differ"
        first = self.first_model
        if first:
            summary += f"; first model that differs: {_describe(first)}"
        return "\n".join(lines + [summary])


def _number(value: float | int | None) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3g}"


def _describe(row: dict[str, Any] | None) -> str:
    if not row:
        return "-"
    if "model_id" not in row:
        return f"task {row['task_id']}"
    split, model, task, seed, arch = (row[k] for k in MODEL_FIELDS)
    return f"{split} model {model} (task {task}, seed {seed}, {arch})"


def diff_zoos(a: Zoo, b: Zoo) -> ZooDiff:
    """Compare two zoos of the same models (same splits, architectures and model ids): every spec
    line, table column and weight tensor. Raises ZooError when they hold different models."""
    diff = ZooDiff(*({"ref": z.spec.ref, "path": str(z.path), "fingerprint": z.fingerprint} for z in (a, b)))
    if diff.identical:
        return diff
    pairs = _matching_groups(a, b)
    spec_a, spec_b = a.spec.to_toml().splitlines(), b.spec.to_toml().splitlines()
    if spec_a != spec_b:
        lines = difflib.unified_diff(spec_a, spec_b, lineterm="", n=0)
        changed = [line for line in lines if line[:1] in "+-"][2:]  # after the ---/+++ header
        diff.differences.append(Difference("spec.toml", len(changed), len(spec_a), detail="; ".join(changed)))
    tables = [("tasks", _tasks(a), _tasks(b))] + [(f"metadata/{s}", a.table(s), b.table(s)) for s in a.splits]
    for label, ta, tb in tables:
        rows = {k: ta[k] for k in (MODEL_FIELDS if "model_id" in ta else ("task_id",))}
        for column in ta:
            d = Difference(f"{label} {column}")
            d.add(ta[column], tb[column], rows)
            diff.differences += [d] if d.differ or d.detail else []
    tensors = 0
    for ga, gb in pairs:
        found = _group_differences(a, b, ga, gb)
        tensors += len(ga.arch.shapes())
        diff.differences += [d for d in found if d.differ or d.detail]
    diff.compared = {"tensors": tensors, "columns": sum(len(t[1]) for t in tables)}
    return diff


def _tasks(zoo: Zoo) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in pq.read_table(zoo.path / "tasks.parquet").to_pydict().items()}


def _matching_groups(a: Zoo, b: Zoo) -> list[tuple[ModelGroup, ModelGroup]]:
    """The (A, B) model groups of every split, checked to hold the same models and columns."""

    def refuse(what: str) -> ZooError:
        return ZooError(
            f"{a.spec.ref} ({a.path}) and {b.spec.ref} ({b.path}) are not two builds of one spec: {what}; "
            "zoo diff compares builds of the same spec"
        )

    if a.splits != b.splits:
        raise refuse(f"splits {', '.join(a.splits)} in A, {', '.join(b.splits)} in B")
    if set(_tasks(a)) != set(_tasks(b)) or len(a.tasks) != len(b.tasks):
        raise refuse(f"{len(a.tasks)} tasks in A, {len(b.tasks)} in B (or other task columns)")
    pairs = []
    for split in a.splits:
        groups_a, groups_b = a.groups(split), b.groups(split)
        shape_a = [f"{g.arch.name} x {len(g)}" for g in groups_a]
        shape_b = [f"{g.arch.name} x {len(g)}" for g in groups_b]
        if shape_a != shape_b:
            raise refuse(f"split {split} holds {', '.join(shape_a)} in A, {', '.join(shape_b)} in B")
        for ga, gb in zip(groups_a, groups_b):
            same_ids = np.array_equal(ga.table["model_id"], gb.table["model_id"])
            if set(ga.table) != set(gb.table) or not same_ids:
                raise refuse(f"split {split} ({ga.arch.name}) holds other model ids or columns in B")
            pairs.append((ga, gb))
    return pairs


def _group_differences(a: Zoo, b: Zoo, ga: ModelGroup, gb: ModelGroup) -> list[Difference]:
    """Every tensor of one split and architecture, compared a weight shard of A at a time."""
    found = {k: Difference(f"weights {ga.split} {ga.arch.name} {k}") for k in ga.arch.shapes()}
    for shard in dict.fromkeys(ga.table["shard"].tolist()):
        rows = np.flatnonzero(ga.table["shard"] == shard)
        sa, sb = a.population(ga, rows).state_dict(), b.population(gb, rows).state_dict()
        described = {k: ga.table[k][rows] for k in MODEL_FIELDS}
        for key, d in found.items():
            d.add(sa[key].numpy(), sb[key].numpy(), described)
    return list(found.values())

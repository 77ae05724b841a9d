"""Zoo specs: everything that determines a zoo, as a frozen dataclass read from strict TOML.

Canonical specs ship in `netembench/specs/<name>@<version>.toml` and are named `poly-seed` (latest
version) or `poly-seed@1.0.0`. A spec also defines the model table: which (task, seed, arch) goes in
which split, and each model's id, from which all its randomness is derived.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from netembench.zoo import budget
from netembench.zoo.host import HostFineFamily, HostSeparatedFamily
from netembench.zoo.population import Arch, TrainConfig
from netembench.zoo.pretrain import Pretrain1DFamily, Pretrain2DFamily
from netembench.zoo.spec_ranges import numeric_ranges
from netembench.zoo.spec_toml import SpecError, build_dataclass, read_toml, toml_value
from netembench.zoo.tasks import FineFamily, SeparatedFamily, TaskSet
from netembench.zoo.tasks2d import Fine2DFamily, Separated2DFamily

TaskFamily = (
    SeparatedFamily
    | FineFamily
    | Separated2DFamily
    | Fine2DFamily
    | HostSeparatedFamily
    | HostFineFamily
    | Pretrain1DFamily
    | Pretrain2DFamily
)
FAMILIES: dict[str, type] = {
    f.kind: f
    for f in (SeparatedFamily, FineFamily, Separated2DFamily, Fine2DFamily, Pretrain1DFamily, Pretrain2DFamily)
}
FAMILIES.update({f.kind: f for f in (HostSeparatedFamily, HostFineFamily)})  # components of hosts (DESIGN §16)

CORE_SPLITS = ("train", "validation", "test")
FIT_BAR = 1e-2
_SPLIT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
CONTROL = ("Cc", "Cf", "Zl", "Zp")  # Unicode categories refused in text fields: controls, line breaks


@dataclass(frozen=True)
class SplitSpec:
    """Models of one split on one architecture: seeds `first_seed .. first_seed + n_seeds - 1` of
    every seen (or every unseen) task."""

    name: str
    arch: str
    first_seed: int
    n_seeds: int
    tasks: str = "seen"  # "seen" or "unseen"

    @property
    def seeds(self) -> range:
        return range(self.first_seed, self.first_seed + self.n_seeds)


@dataclass(frozen=True)
class ZooSpec:
    name: str
    version: str
    seed: int
    tasks: TaskFamily
    training: TrainConfig
    splits: tuple[SplitSpec, ...]
    description: str = ""
    shard_size: int = 1024
    # Distribution fields: where the reference build lives and what it is. They are not content
    # (a zoo's own spec.toml leaves them out), so recording them never changes a zoo.
    hub_repo: str = ""  # Hugging Face dataset repository holding reference builds, tagged v<version>
    reference_fingerprint: str = ""  # content fingerprint of the reference build of this version
    # content fingerprint of the maintainers' private build (`netembench.zoo.private`); it reveals
    # nothing of the salt, and marks which private-split results are official
    private_fingerprint: str = ""
    superseded_by: str = ""  # a newer version that replaces this one (results stay valid, listed apart)
    # The build's acceptance bar: the largest relative MSE any model may have (a build that misses
    # it fails and writes nothing). A check on a build, not content, like the fields above.
    fit_bar: float = FIT_BAR

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def archs(self) -> list[str]:
        return list(dict.fromkeys(s.arch for s in self.splits))

    @property
    def split_names(self) -> list[str]:
        return list(dict.fromkeys(s.name for s in self.splits))

    def sample_tasks(self, private: tuple[int, ...] = ()) -> TaskSet:
        """The zoo's tasks; `private` words (`netembench.zoo.private`) redraw the unseen ones.
        Pretraining (tabulated) families avoid every canonical spec's tasks (`avoided_tasks`)."""
        if getattr(self.tasks, "tabulated", False):
            return self.tasks.sample(self.seed, private, avoid=avoided_tasks(self.tasks.dim))
        return self.tasks.sample(self.seed, private)

    def models(self, tasks: TaskSet) -> dict[str, np.ndarray]:
        """The model table in canonical order (splits as listed, then task, then seed)."""
        cols: dict[str, list] = {k: [] for k in ("task_id", "family_id", "seed", "split", "arch")}
        for split in self.splits:
            ids = tasks.unseen_ids() if split.tasks == "unseen" else tasks.seen_ids()
            for task in ids:
                for seed in split.seeds:
                    cols["task_id"].append(int(task))
                    cols["family_id"].append(int(tasks.family[task]))
                    cols["seed"].append(seed)
                    cols["split"].append(split.name)
                    cols["arch"].append(split.arch)
        out = {k: np.array(v) for k, v in cols.items()}
        out["model_id"] = np.arange(len(out["task_id"]), dtype=np.int64)
        for k in ("task_id", "family_id", "seed"):
            out[k] = out[k].astype(np.int64)
        return out

    def to_toml(self) -> str:
        lines = [f"name = {toml_value(self.name)}", f"version = {toml_value(self.version)}", f"seed = {self.seed}"]
        for key in (
            "description",
            "hub_repo",
            "reference_fingerprint",
            "private_fingerprint",
            "superseded_by",
        ):
            if getattr(self, key):
                lines.append(f"{key} = {toml_value(getattr(self, key))}")
        if self.fit_bar != FIT_BAR:
            lines.append(f"fit_bar = {toml_value(self.fit_bar)}")
        lines += [f"shard_size = {self.shard_size}", "", "[tasks]", f"family = {toml_value(self.tasks.kind)}"]
        lines += [f"{f.name} = {toml_value(getattr(self.tasks, f.name))}" for f in dataclasses.fields(self.tasks)]
        lines += ["", "[training]"]
        lines += [
            f"{f.name} = {toml_value(getattr(self.training, f.name))}" for f in dataclasses.fields(self.training)
        ]
        for split in self.splits:
            lines += ["", "[[splits]]"]
            lines += [f"{f.name} = {toml_value(getattr(split, f.name))}" for f in dataclasses.fields(split)]
        return "\n".join(lines) + "\n"

    def replace(self, **changes: Any) -> ZooSpec:
        return dataclasses.replace(self, **changes)

    def content_spec(self) -> ZooSpec:
        """The spec without its distribution fields: what a zoo's own spec.toml holds."""
        return self.replace(
            hub_repo="", reference_fingerprint="", private_fingerprint="", superseded_by="", fit_bar=FIT_BAR
        )


def parse_spec(text: str, source: str = "<spec>") -> ZooSpec:
    """Parse and validate a spec from TOML text; `source` names it in errors."""
    data = read_toml(text, source)
    tasks_table = dict(data.pop("tasks", None) or _missing(source, "[tasks]"))
    family = tasks_table.pop("family", None)
    if family not in FAMILIES:
        raise SpecError(f"{source}: [tasks].family must be one of {sorted(FAMILIES)}, got {family!r}")
    splits = data.pop("splits", None) or _missing(source, "[[splits]]")
    parsed = {
        "tasks": build_dataclass(FAMILIES[family], tasks_table, "[tasks]", source),
        "training": build_dataclass(
            TrainConfig, data.pop("training", None) or _missing(source, "[training]"), "[training]", source
        ),
        "splits": tuple(build_dataclass(SplitSpec, s, f"[[splits]] #{i + 1}", source) for i, s in enumerate(splits)),
    }
    spec = build_dataclass(ZooSpec, data, "the top level", source, parsed)
    _validate(spec, source)
    return spec


def _missing(source: str, what: str) -> Any:
    raise SpecError(f"{source}: missing section {what}")


def _validate(spec: ZooSpec, source: str) -> None:
    def fail(msg: str) -> None:
        raise SpecError(f"{source}: {msg}")

    if not re.match(r"^[a-z0-9][a-z0-9._-]*$", spec.name):
        fail(f"name {spec.name!r} must be lower-case letters, digits, '.', '_' or '-'")
    if not _VERSION.match(spec.version):
        fail(f"version {spec.version!r} is not semantic (MAJOR.MINOR.PATCH)")
    for field in ("description", "hub_repo", "reference_fingerprint"):
        bad = next((c for c in getattr(spec, field) if unicodedata.category(c) in CONTROL), None)
        if bad is not None:
            fail(f"{field} holds the control character U+{ord(bad):04X}; text fields are one line of printable text")
    if spec.superseded_by and not _VERSION.match(spec.superseded_by):
        fail(f"superseded_by {spec.superseded_by!r} is not a semantic version (MAJOR.MINOR.PATCH)")
    for field, value, allowed, ok in numeric_ranges(spec):
        if not ok:
            fail(f"{field} = {value!r} is out of range: {allowed}")
    for s in spec.splits:
        if not _SPLIT_NAME.match(s.name):
            fail(f"split name {s.name!r} must match {_SPLIT_NAME.pattern}")
        if s.tasks not in ("seen", "unseen"):
            fail(f"split {s.name!r}: tasks must be 'seen' or 'unseen', got {s.tasks!r}")
        try:
            arch = Arch.parse(s.arch)
        except ValueError as err:
            fail(f"split {s.name!r}: {err}")
        dim = getattr(spec.tasks, "inputs", getattr(spec.tasks, "dim", 1))  # a host's input width
        if arch.inputs != dim:
            fail(f"split {s.name!r}: architecture {s.arch} has {arch.inputs} inputs but the tasks have {dim}")
    too_big = budget.problem(spec)  # before anything below walks the seeds
    if too_big:
        fail(too_big)
    names = spec.split_names
    for core in CORE_SPLITS:
        if core not in names:
            fail(f"split {core!r} is missing; every zoo has {', '.join(CORE_SPLITS)}")
    seen_seeds: dict[str, set[int]] = {}
    for s in spec.splits:
        if s.tasks == "seen":
            seen_seeds.setdefault(s.name, set()).update(s.seeds)
        elif s.name in CORE_SPLITS:
            fail(f"split {s.name!r} must hold seen tasks; unseen tasks go in a split of their own")
    for a in seen_seeds:
        for b in seen_seeds:
            if a < b and seen_seeds[a] & seen_seeds[b]:
                fail(
                    f"splits {a!r} and {b!r} share seeds {sorted(seen_seeds[a] & seen_seeds[b])[:5]}; splits must be seed-disjoint"
                )
    if any(s.tasks == "unseen" for s in spec.splits) and not _has_unseen(spec.tasks):
        fail("a split asks for unseen tasks but the task family holds none out")


# The specs whose tasks the pretraining zoos avoid: pinned, because the avoided tasks decide a
# pretraining zoo's tasks (and bytes). A new canonical spec fails tests/test_pretrain.py until a new
# pretraining version avoids it too.
AVOIDED_SPECS = tuple(
    f"{name}@{version}"
    for name in ("poly-fine", "poly-many", "poly-seed", "poly-xarch")
    for version in ("1.0.0", "1.1.0", "1.2.0")
) + (
    "poly2d-fine@1.0.0",
    "poly2d-fine@1.2.0",
    "poly2d-seed@1.0.0",
    "poly2d-seed@1.2.0",
    "host-fine@1.0.0",
    "host-seed@1.0.0",
)


@functools.cache
def avoided_tasks(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The tasks of input dimension `dim` of every spec in `AVOIDED_SPECS` (seen and unseen, public
    build, each distinct task once), `[C, K]`, and the radius no pretraining task may come within:
    its track's `min_distance` (separated families) or `floor` (fine families), the largest if
    several specs share it."""
    radius: dict[bytes, float] = {}
    rows: dict[bytes, np.ndarray] = {}
    specs = canonical_specs()
    drawn = {(specs[ref].tasks, specs[ref].seed) for ref in AVOIDED_SPECS}  # versions share their tasks
    for family, seed in sorted(drawn, key=repr):
        if getattr(family, "tabulated", False) or getattr(family, "dim", 1) != dim:
            continue
        r = getattr(family, "min_distance", None)
        r = family.floor if r is None else r
        for row in family.sample(seed).coef:
            key = row.tobytes()
            rows[key], radius[key] = row, max(r, radius.get(key, 0.0))
    return np.stack(list(rows.values())), np.array(list(radius.values()))


def _has_unseen(family: TaskFamily) -> bool:
    return bool(
        getattr(family, "n_unseen", 0)
        or getattr(family, "n_unseen_variants", 0)
        or getattr(family, "n_unseen_families", 0)
    )


def load_spec_file(path: str | Path) -> ZooSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SpecError(f"cannot read spec file {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise SpecError(f"spec file {path} is not UTF-8 text; a spec is a TOML file") from None
    return parse_spec(text, str(path))


def canonical_specs() -> dict[str, ZooSpec]:
    """Every shipped spec, keyed by `name@version`."""
    out = {}
    for entry in sorted(resources.files("netembench.specs").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            spec = parse_spec(entry.read_text(), f"netembench/specs/{entry.name}")
            out[spec.ref] = spec
    return out


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(v) for v in version.split("."))


def resolve_spec(ref: str) -> ZooSpec:
    """A canonical name (`poly-seed`, `poly-seed@1.0.0`) or a path to a TOML file."""
    if ref.endswith(".toml") or Path(ref).is_file():
        return load_spec_file(ref)
    name, _, version = ref.partition("@")
    specs = canonical_specs()
    matches = [s for s in specs.values() if s.name == name]
    if not matches:
        known = sorted({s.name for s in specs.values()})
        raise SpecError(
            f"unknown zoo {name!r}; known zoos: {', '.join(known)} (or give a path to a .toml spec)"
        )
    if not version:
        return max(matches, key=lambda s: _version_key(s.version))
    for spec in matches:
        if spec.version == version:
            return spec
    raise SpecError(
        f"unknown version {version!r} of zoo {name!r}; known versions: {', '.join(sorted(s.version for s in matches))}"
    )


CANONICAL_TRACKS = (
    "poly-seed",
    "poly-fine",
    "poly-many",
    "poly-xarch",
    "poly2d-seed",
    "poly2d-fine",
    "host-seed",
    "host-fine",
)
# Shipped specs that are not tracks: zoos to pretrain embedders on (`netembench.zoo.pretrain`).
PRETRAINING_ZOOS = ("pretrain-1d", "pretrain-2d")

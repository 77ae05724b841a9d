"""The on-disk zoo: a folder that is also a Hugging Face dataset repository.

    README.md                  dataset card (YAML `configs:` -> metadata/{split}.parquet)
    metadata/{split}.parquet   one row per model
    tasks.parquet              one row per task
    weights/{arch}/{split}-{k:05d}.safetensors   stacked tensors, row order = metadata
    spec.toml                  the resolved spec
    manifest.json              sha256 and size of every other file, and the content fingerprint

Zoos are written into a temporary sibling folder and renamed into place when complete, and are
verified (every checksum, no missing or extra file) before they are read. A zoo's identity is its
content fingerprint (`identity`); format 1 zoos (netembench zoo 1.0.0) are identified by the sha256
of their manifest, as they were when built.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import safetensors.torch
import torch
from safetensors import SafetensorError, safe_open

from netembench.zoo.identity import content_fingerprint, reference_note
from netembench.zoo.population import Arch, Population
from netembench.zoo.spec import ZooSpec, parse_spec
from netembench.zoo.tasks import TaskSet

FORMAT = "netembench-zoo"
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"


class ZooError(RuntimeError):
    """A zoo that cannot be used; the message names the zoo, the file and the fix."""


class ZooIntegrityError(ZooError):
    """Files of a zoo do not match its manifest."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def coefficient_columns(coef: np.ndarray, cheb: np.ndarray) -> dict[str, np.ndarray]:
    cols = {f"coef_{k}": coef[:, k] for k in range(coef.shape[1])}
    cols.update({f"cheb_{k}": cheb[:, k] for k in range(cheb.shape[1])})
    return cols


def write_parquet(path: Path, columns: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({k: pa.array(v) for k, v in columns.items()}), path, compression="zstd")


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Save with a canonical header (sorted keys): safetensors orders `__metadata__` arbitrarily,
    which would make identical zoos differ in bytes and fingerprint."""
    raw = safetensors.torch.save(tensors, metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    header = json.dumps(json.loads(raw[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # the format allows trailing spaces; keeps data 8-aligned
    path.write_bytes(len(header).to_bytes(8, "little") + header + raw[8 + n :])


def write_manifest(folder: Path, info: dict[str, Any]) -> None:
    """Record the content fingerprint and checksum every file under `folder` into manifest.json."""
    spec = parse_spec((folder / "spec.toml").read_text(), str(folder / "spec.toml"))
    info = {**info, "content_fingerprint": content_fingerprint(folder, spec.to_toml(), spec.split_names)}
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(folder).as_posix()
        files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **info, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that exists (unless `overwrite`), or that is not a zoo or empty, or a file."""
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise ZooError(f"{out} is a file, not a folder; give --out a folder path")
    if out.exists() and not overwrite:
        raise ZooError(f"{out} already exists; pass --overwrite (overwrite=True) to replace it")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise ZooError(
            f"{out} is neither a zoo nor empty; --overwrite replaces only zoo folders. Choose another --out"
        )


@contextmanager
def atomic_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside `out`; on success it replaces `out`, on failure it vanishes."""
    out = Path(out)
    check_output(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def remove_stale_partials(out: Path) -> None:
    """Remove temporary folders that killed builds of `out` left behind (their process is gone)."""
    for folder in out.parent.glob(f".{out.name}.partial-*"):
        pid = folder.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def split_files(manifest_files: dict, splits: list[str] | None) -> list[str]:
    """The files of a zoo that the given splits need (all files when `splits` is None)."""
    if splits is None:
        return sorted(manifest_files)
    keep = {"README.md", "spec.toml", "tasks.parquet"} | {f"metadata/{s}.parquet" for s in splits}
    return sorted(
        f
        for f in manifest_files
        if f in keep or (f.startswith("weights/") and f.rsplit("/", 1)[1].rsplit("-", 1)[0] in splits)
    )


def verify_zoo(folder: str | Path, splits: list[str] | None = None) -> list[str]:
    """Every problem found: missing, extra, resized or altered files. Empty when the zoo is intact.

    With `splits`, only the files those splits need must be present (a partial download).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = []
    listed = {k: manifest["files"][k] for k in split_files(manifest["files"], splits)}
    present = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
    }
    present -= set(manifest["files"]) - set(
        listed
    )  # files of other splits are allowed, and checked when used
    for rel in sorted(set(listed) - present):
        problems.append(f"{rel}: missing")
    for rel in sorted(present - set(listed)):
        problems.append(f"{rel}: not in the manifest (extra file)")
    for rel in sorted(set(listed) & present):
        path = folder / rel
        if path.stat().st_size != listed[rel]["size"]:
            problems.append(f"{rel}: size {path.stat().st_size} bytes, expected {listed[rel]['size']}")
        elif sha256_file(path) != listed[rel]["sha256"]:
            problems.append(f"{rel}: sha256 mismatch (the file was altered or corrupted)")
    return problems


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ZooError(
            f"{folder} is not a folder; give a zoo folder, a zoo name such as 'poly-seed', or a hub repository"
        )
    if not path.is_file():
        raise ZooError(
            f"{folder} is not a netembench zoo: it has no {MANIFEST} (build one with 'netembench zoo build')"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ZooIntegrityError(f"{path} is not valid JSON ({err}); re-download or rebuild the zoo") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("files"), dict)
    ):
        raise ZooError(f"{path} is not a netembench zoo manifest")
    if manifest.get("format_version") not in READABLE_FORMATS:
        raise ZooError(
            f"{folder} uses zoo format version {manifest.get('format_version')!r}; this netembench reads versions "
            f"{', '.join(map(str, READABLE_FORMATS))}: upgrade netembench or rebuild the zoo"
        )
    if manifest["format_version"] >= 2 and not isinstance(manifest.get("content_fingerprint"), str):
        raise ZooIntegrityError(f"{path} has no content_fingerprint; re-download or rebuild the zoo")
    return manifest


@dataclass(frozen=True)
class ModelGroup:
    """The models of one split on one architecture, with their metadata rows (same order)."""

    split: str
    arch: Arch
    table: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.table["model_id"])

    def __repr__(self) -> str:  # not the metadata arrays
        return f"ModelGroup({self.split}, {self.arch.name}, {len(self)} models)"


class Zoo:
    """A verified zoo on disk: metadata, tasks, spec, fingerprint, and lazy weight access."""

    def __init__(
        self,
        folder: str | Path,
        verify: bool = True,
        source: dict | None = None,
        splits: list[str] | None = None,
    ) -> None:
        self.path = Path(folder)
        self.manifest = read_manifest(self.path)
        self.available = splits  # None: every split; else a partial zoo holding these splits only
        if verify:
            problems = verify_zoo(self.path, splits)
            if problems:
                listing = "; ".join(problems[:5]) + (
                    f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
                )
                raise ZooIntegrityError(
                    f"zoo {self.path} failed verification: {listing}. Re-download or rebuild it (--overwrite)"
                )
        self.spec: ZooSpec = parse_spec((self.path / "spec.toml").read_text(), str(self.path / "spec.toml"))
        self.fingerprint = self._identity(verify)
        self.source = source or {"kind": "local", "path": str(self.path)}

    def _identity(self, verify: bool) -> str:
        """The content fingerprint, recomputed from the files of a complete verified zoo and checked
        against the manifest's record (format 1: the manifest's sha256)."""
        if self.manifest["format_version"] == 1:
            return hashlib.sha256((self.path / MANIFEST).read_bytes()).hexdigest()
        recorded = self.manifest["content_fingerprint"]
        if verify and self.available is None:
            actual = content_fingerprint(self.path, self.spec.to_toml(), self.spec.split_names)
            if actual != recorded:
                raise ZooIntegrityError(
                    f"zoo {self.path} holds content {actual[:12]} but its manifest records {recorded[:12]}; "
                    "re-download or rebuild it (--overwrite)"
                )
        return recorded

    def __repr__(self) -> str:
        return f"Zoo({self.spec.ref}, {self.path}, fingerprint={self.fingerprint[:12]})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def splits(self) -> list[str]:
        return [s for s in self.spec.split_names if self.available is None or s in self.available]

    @property
    def split(self) -> str:
        """Which test split the zoo holds: "private" (from a secret salt, `netembench.zoo.private`) or "public"."""
        return "private" if self.manifest.get("split") == "private" else "public"

    @property
    def is_canonical(self) -> bool:
        """Is this the reference build of a shipped spec (same fingerprint; a private build: the
        private build the spec records)?"""
        return reference_note(self.spec.ref, self.fingerprint, self.split) is None

    def canonical_note(self) -> str | None:
        """One line when this zoo is not the reference build of a current canonical zoo version."""
        return reference_note(self.spec.ref, self.fingerprint, self.split)

    @property
    def partial(self) -> bool:
        return self.available is not None and set(self.available) != set(self.spec.split_names)

    @cached_property
    def tasks(self) -> TaskSet:
        t = pq.read_table(self.path / "tasks.parquet").to_pydict()
        n_coef = sum(1 for k in t if k.startswith("coef_"))
        coef = np.stack([np.asarray(t[f"coef_{k}"]) for k in range(n_coef)], axis=1)
        return TaskSet(
            coef=coef,
            family=np.asarray(t["family_id"], dtype=np.int64),
            unseen=np.asarray(t["unseen"], dtype=bool),
            min_distance=float(self.manifest["tasks"]["min_distance"]),
            dim=getattr(self.spec.tasks, "dim", 1),
            tabulated=getattr(self.spec.tasks, "tabulated", False),
        )

    def table(self, split: str) -> dict[str, np.ndarray]:
        """Metadata columns of one split as numpy arrays."""
        if split not in self.splits:
            held = (
                ""
                if not self.partial
                else " (a partial download: fetch the split with --split, or the whole zoo)"
            )
            raise ZooError(
                f"zoo {self.spec.ref} has no split {split!r}{held}; splits: {', '.join(self.splits)}"
            )
        return {
            k: np.asarray(v)
            for k, v in pq.read_table(self.path / "metadata" / f"{split}.parquet").to_pydict().items()
        }

    @cached_property
    def metadata(self) -> Any:
        """All splits' metadata as a `datasets.DatasetDict` (in memory, no cache files written)."""
        import datasets

        return datasets.DatasetDict(
            {
                s: datasets.Dataset(pq.read_table(self.path / "metadata" / f"{s}.parquet"), split=s)
                for s in self.splits
            }
        )

    def groups(self, split: str) -> list[ModelGroup]:
        """The split's models grouped by architecture (most splits have one)."""
        table = self.table(split)
        out = []
        for arch in dict.fromkeys(table["arch"].tolist()):
            rows = table["arch"] == arch
            out.append(ModelGroup(split, Arch.parse(arch), {k: v[rows] for k, v in table.items()}))
        return out

    def population(self, group: ModelGroup, rows: np.ndarray | None = None) -> Population:
        """Stacked weights of a group's models (or of `rows` of it), read shard by shard."""
        table = group.table if rows is None else {k: v[rows] for k, v in group.table.items()}
        parts: list[dict[str, torch.Tensor]] = []
        for shard in dict.fromkeys(table["shard"].tolist()):
            index = torch.as_tensor(table["row"][table["shard"] == shard], dtype=torch.int64)
            parts.append({k: v[index] for k, v in self._read_shard(shard, group.arch).items()})
        stacked = {k: torch.cat([p[k] for p in parts]) for k in group.arch.shapes()}
        return Population.from_state_dict(group.arch, stacked)

    def model(self, model_id: int) -> Population:
        """One model by id, as a population of one."""
        for split in self.splits:
            for group in self.groups(split):
                hit = np.flatnonzero(group.table["model_id"] == model_id)
                if len(hit):
                    return self.population(group, hit)
        raise ZooError(f"zoo {self.spec.ref} has no model with id {model_id}")

    def _read_shard(self, shard: str, arch: Arch) -> dict[str, torch.Tensor]:
        path = self.path / shard
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError) as err:
            raise ZooIntegrityError(
                f"cannot read weight shard {path}: {err}; run 'netembench zoo verify'"
            ) from None
        if meta.get("arch") != arch.name:
            raise ZooIntegrityError(
                f"weight shard {path} holds architecture {meta.get('arch')!r}, expected {arch.name}"
            )
        Population.from_state_dict(arch, tensors)  # validates every shape
        return tensors

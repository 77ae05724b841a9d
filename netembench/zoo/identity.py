"""A zoo's identity: the content fingerprint.

Two hashes, two jobs. The **content fingerprint** says *what a zoo holds* (the resolved spec, the
values of every table, the dtype, shape and values of every tensor) in a canonical order. It is
the zoo's identity, it keys the evaluation draws, and canonical specs record it as their
reference. The **manifest checksums** (`manifest.json`: sha256 and size of every file) guard the
integrity of one copy. Writer metadata (parquet's `created_by`, compression, page layout, the
netembench and torch versions recorded in the manifest) changes file bytes but not the content
fingerprint, so a pyarrow upgrade does not change a zoo's identity. `reference_note` compares an
identity with the reference build a canonical spec records.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors import safe_open

SCHEME = "netembench-zoo-content/1"


def _field(digest: hashlib._Hash, label: str, payload: bytes) -> None:
    """Length-prefixed (label, payload): no two different sequences hash alike."""
    for part in (label.encode(), payload):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)


def _column_bytes(column: pa.ChunkedArray) -> bytes:
    if column.null_count:
        raise ValueError(f"column of type {column.type} has {column.null_count} nulls; zoo tables have none")
    if (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_boolean(column.type)
    ):
        values = column.to_numpy()
        return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
    return json.dumps(column.to_pylist(), ensure_ascii=False, separators=(",", ":")).encode()


def table_digest(digest: hashlib._Hash, label: str, table: pa.Table) -> None:
    """Column names, types and values in schema order."""
    _field(digest, label, str(table.num_rows).encode())
    for name, column in zip(table.column_names, table.columns):
        _field(digest, f"{label}.{name}:{column.type}", _column_bytes(column))


def content_fingerprint(folder: str | Path, spec_toml: str, splits: list[str]) -> str:
    """The content fingerprint of the zoo in `folder` (its spec, tables and tensors)."""
    folder = Path(folder)
    digest = hashlib.sha256()
    _field(digest, "scheme", SCHEME.encode())
    _field(digest, "spec", spec_toml.encode())
    table_digest(digest, "tasks", pq.read_table(folder / "tasks.parquet"))
    for split in splits:
        table_digest(digest, f"metadata/{split}", pq.read_table(folder / "metadata" / f"{split}.parquet"))
    for path in sorted((folder / "weights").rglob("*.safetensors")):
        _field(digest, "shard", path.relative_to(folder).as_posix().encode())
        with safe_open(str(path), framework="numpy") as f:
            for key in sorted(f.keys()):
                array = f.get_tensor(key)
                _field(
                    digest,
                    f"{key}:{array.dtype.str}:{list(array.shape)}",
                    np.ascontiguousarray(array).tobytes(),
                )
    return digest.hexdigest()


def reference_note(ref: str, fingerprint: str, split: str = "public") -> str | None:
    """What follows for zoo `ref` with this fingerprint, in one line; None for the reference build
    of a current canonical version (and for zoos of specs that are not shipped). A private build
    (`split == "private"`) is compared with the private build its spec records instead."""
    from netembench.zoo.spec import canonical_specs

    spec = canonical_specs().get(ref)
    if split == "private":
        if spec is not None and fingerprint == spec.private_fingerprint:
            return None
        note = f"note: {ref} is a private build (test and unseen models from a secret salt); never publish it"
        if spec is None:
            return note
        return (
            f"{note}. It is not the private build its spec records ({spec.private_fingerprint[:12] or 'none'}), "
            "so its results are listed as non-canonical"
        )
    if spec is None:
        return (
            None
            if ref.split("@")[0] not in {s.name for s in canonical_specs().values()}
            else (
                f"note: {ref} is not a shipped version of {ref.split('@')[0]}; its results are not comparable with the leaderboard's"
            )
        )
    if spec.superseded_by:
        return (
            f"note: {ref} is superseded by {spec.name}@{spec.superseded_by}; its results are listed apart as "
            f"superseded (build or download {spec.name}@{spec.superseded_by})"
        )
    if fingerprint != spec.reference_fingerprint:
        return (
            f"note: {ref} fingerprint {fingerprint[:12]} is not the reference {spec.reference_fingerprint[:12] or '(none recorded)'}: "
            "not the canonical build, so it draws other evaluation probes and its results are listed as non-canonical"
        )
    return None

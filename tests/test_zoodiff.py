"""`netembench zoo diff`: identical builds, a weight one ulp apart, a table column that differs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from safetensors import safe_open

from netembench.cli import main
from netembench.zoo.diff import ulp_distance
from netembench.zoo.store import MANIFEST, save_safetensors, write_manifest

SHARD = "weights/1-8-8-1/train-00000.safetensors"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def remanifest(folder) -> None:
    """Re-record the checksums and content fingerprint of an edited zoo copy."""
    manifest = json.loads((folder / MANIFEST).read_text())
    drop = ("format", "format_version", "files", "content_fingerprint")
    write_manifest(folder, {k: v for k, v in manifest.items() if k not in drop})


def model_at(folder, split: str, shard: str, row: int) -> dict:
    table = pq.read_table(folder / "metadata" / f"{split}.parquet").to_pydict()
    i = next(i for i, (s, r) in enumerate(zip(table["shard"], table["row"])) if s == shard and r == row)
    return {k: table[k][i] for k in ("split", "model_id", "task_id", "seed", "arch")}


def test_ulp_distance_counts_representable_values():
    tiny = np.float32(1e-45)  # the smallest subnormal
    f32 = np.array([1.0, 0.0, -0.0, tiny, 3.0], dtype=np.float32)
    g32 = np.array([np.nextafter(np.float32(1), np.float32(2)), -0.0, -tiny, -tiny, -3.0], dtype=np.float32)
    assert ulp_distance(f32, g32).tolist() == [1, 0, 1, 2, 2 * int(np.float32(3.0).view(np.int32))]
    f64 = np.array([1.0, -np.finfo(np.float64).max])
    g64 = np.array([np.nextafter(1.0, 0.0), np.finfo(np.float64).max])
    assert ulp_distance(f64, g64).tolist() == [1, 2 * int(np.float64(np.finfo(np.float64).max).view(np.int64))]


def test_identical_builds_are_one_line(tiny_zoo, tmp_path, capsys):
    copy = shutil.copytree(tiny_zoo.path, tmp_path / "copy")
    code, out, err = run(capsys, "zoo", "diff", str(tiny_zoo.path), str(copy))
    assert code == 0, err
    assert out == (
        f"identical: {tiny_zoo.path} and {copy} (tiny@0.1.0) share content fingerprint {tiny_zoo.fingerprint}\n"
    )


def test_one_ulp_in_one_weight_is_named(tiny_zoo, tmp_path, capsys):
    copy = shutil.copytree(tiny_zoo.path, tmp_path / "copy")
    with safe_open(str(copy / SHARD), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    before = float(tensors["layers.1.weight"][1, 2, 3])
    tensors["layers.1.weight"].view(torch.int32)[1, 2, 3] ^= 1  # the last bit of one weight of model row 1
    after = float(tensors["layers.1.weight"][1, 2, 3])
    save_safetensors(tensors, copy / SHARD, meta)
    remanifest(copy)

    code, out, err = run(capsys, "zoo", "diff", str(tiny_zoo.path), str(copy), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert not report["identical"]
    assert [d["item"] for d in report["differences"]] == ["weights train 1-8-8-1 layers.1.weight"]
    (d,) = report["differences"]
    assert (d["differ"], d["max_ulp"], d["max_abs"]) == (1, 1, abs(after - before))
    assert d["first"] == report["first_model"] == model_at(copy, "train", SHARD, 1)

    code, out, _ = run(capsys, "zoo", "diff", str(tiny_zoo.path), str(copy))
    lines = out.splitlines()
    assert code == 0 and lines[-1].startswith("1 of ")
    row = next(line for line in lines if line.startswith("weights train 1-8-8-1 layers.1.weight"))
    differ, _, largest, ulps = row.split()[4:8]
    assert (differ, largest, ulps) == ("1", f"{abs(after - before):.3g}", "1")
    assert f"model {d['first']['model_id']} (task {d['first']['task_id']}" in row


def test_a_table_column_difference_is_named(tiny_zoo, tmp_path, capsys):
    copy = shutil.copytree(tiny_zoo.path, tmp_path / "copy")
    path = copy / "metadata" / "test.parquet"
    table = pq.read_table(path)
    fits = table.column("train_rel_mse").to_numpy().copy()
    fits[2] = np.nextafter(fits[2], np.inf)
    column = table.schema.get_field_index("train_rel_mse")
    pq.write_table(table.set_column(column, "train_rel_mse", pa.array(fits)), path, compression="zstd")
    remanifest(copy)

    code, out, err = run(capsys, "zoo", "diff", str(tiny_zoo.path), str(copy), "--json")
    assert code == 0, err
    (d,) = json.loads(out)["differences"]
    first = table.slice(2, 1).to_pylist()[0]
    assert d["item"] == "metadata/test train_rel_mse" and (d["differ"], d["max_ulp"]) == (1, 1)
    assert d["first"] == {k: first[k] for k in ("split", "model_id", "task_id", "seed", "arch")}


def test_zoos_of_different_specs_are_refused_in_one_line(tiny_zoo, tiny_2d_zoo, capsys):
    code, out, err = run(capsys, "zoo", "diff", str(tiny_zoo.path), str(tiny_2d_zoo.path))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("netembench: error: tiny@0.1.0") and "are not two builds of one spec" in err

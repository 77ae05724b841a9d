"""A zoo's identity is its content; file checksums guard one copy's integrity."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
import safetensors.numpy

from netembench.cli import main
from netembench.zoo.identity import content_fingerprint, reference_note
from netembench.zoo.spec import resolve_spec
from netembench.zoo.store import Zoo, ZooError, ZooIntegrityError, check_output, sha256_file


@pytest.fixture()
def copy(tiny_zoo, tmp_path):
    return shutil.copytree(tiny_zoo.path, tmp_path / "copy")


def _identity(folder) -> str:
    spec = Zoo(folder, verify=False).spec
    return content_fingerprint(folder, spec.to_toml(), spec.split_names)


def test_writer_metadata_and_compression_are_not_identity(tiny_zoo, copy):
    path = copy / "tasks.parquet"
    table = pq.read_table(path)
    pq.write_table(table, path, compression="snappy", data_page_size=1 << 10, use_dictionary=False)
    meta = copy / "metadata" / "train.parquet"  # another pyarrow version: the footer names another writer
    data = meta.read_bytes()
    writer = pq.ParquetFile(meta).metadata.created_by.encode()
    assert writer in data
    meta.write_bytes(data.replace(writer, writer[:-1] + (b"0" if writer[-1:] != b"0" else b"1")))
    assert pq.ParquetFile(meta).metadata.created_by != writer.decode()
    assert sha256_file(path) != tiny_zoo.manifest["files"]["tasks.parquet"]["sha256"]
    assert _identity(copy) == tiny_zoo.fingerprint


@pytest.mark.parametrize("change", ["tensor", "table", "spec"])
def test_any_value_change_is_another_identity(tiny_zoo, copy, change):
    if change == "tensor":
        shard = next((copy / "weights").rglob("*.safetensors"))
        tensors = safetensors.numpy.load_file(shard)
        tensors["layers.0.bias"][0, 0] += 1e-7
        safetensors.numpy.save_file(tensors, shard)
    elif change == "table":
        path = copy / "metadata" / "test.parquet"
        table = pq.read_table(path)
        pq.write_table(
            table.set_column(
                table.column_names.index("seed"), "seed", [[s + 1 for s in table["seed"].to_pylist()]]
            ),
            path,
        )
    else:
        (copy / "spec.toml").write_text((copy / "spec.toml").read_text().replace("steps = 60", "steps = 61"))
    assert _identity(copy) != tiny_zoo.fingerprint


def test_a_forged_manifest_is_caught(copy):
    shard = next((copy / "weights").rglob("*.safetensors"))
    tensors = safetensors.numpy.load_file(shard)
    tensors["layers.0.bias"] *= 2
    safetensors.numpy.save_file(tensors, shard)
    manifest = json.loads((copy / "manifest.json").read_text())  # checksums redone, identity kept
    rel = shard.relative_to(copy).as_posix()
    manifest["files"][rel] = {"sha256": sha256_file(shard), "size": shard.stat().st_size}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooIntegrityError, match="holds content .* but its manifest records"):
        Zoo(copy)


def test_format_1_zoos_keep_their_manifest_identity(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["content_fingerprint"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert Zoo(copy).fingerprint == sha256_file(copy / "manifest.json")


def test_reference_notes_say_what_follows():
    seed = resolve_spec("poly-seed")
    assert reference_note(seed.ref, seed.reference_fingerprint) is None
    note = reference_note(seed.ref, "0" * 64)
    assert note.startswith("note: poly-seed@1.2.0 fingerprint 000000000000 is not the reference")
    assert "listed as non-canonical" in note and "\n" not in note
    assert "superseded by poly-seed@1.1.0" in reference_note("poly-seed@1.0.0", "x")
    assert "superseded by poly-seed@1.2.0" in reference_note("poly-seed@1.1.0", "x")
    assert "not a shipped version" in reference_note("poly-seed@7.0.0", "x")
    assert reference_note("my-own-zoo@0.1.0", "x") is None


def test_cli_says_when_a_zoo_is_not_canonical(tmp_path, capsys):
    spec = resolve_spec("poly-seed").replace(training=resolve_spec("poly-seed").training.__class__(steps=2))
    spec = spec.replace(
        splits=tuple(s.__class__(s.name, s.arch, s.first_seed, 1, s.tasks) for s in spec.splits),
        fit_bar=100.0,
    )
    path = tmp_path / "poly-seed.toml"
    path.write_text(spec.to_toml())
    assert main(["zoo", "build", str(path), "--out", str(tmp_path / "zoo"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the reference" in err
    assert main(["zoo", "info", str(tmp_path / "zoo")]) == 0
    assert "is not the reference" in capsys.readouterr().err


def test_overwrite_replaces_only_zoos_or_empty_folders(tmp_path, copy):
    keep = tmp_path / "photos"
    keep.mkdir()
    (keep / "a.jpg").write_text("x")
    with pytest.raises(ZooError, match="is neither a zoo nor empty; --overwrite replaces only zoo folders"):
        check_output(keep, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ZooError, match="is a file, not a folder"):
        check_output(tmp_path / "file", overwrite=True)
    check_output(copy, overwrite=True)  # a zoo: fine
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", overwrite=True)

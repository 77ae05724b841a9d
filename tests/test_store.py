from __future__ import annotations

import json
import shutil

import datasets
import numpy as np
import pytest
import torch

from netembench.zoo.build import build_zoo
from netembench.zoo.population import fit_rel_mse
from netembench.zoo.source import load_zoo
from netembench.zoo.store import Zoo, ZooError, ZooIntegrityError, verify_zoo


def test_layout_and_metadata(tiny_zoo):
    root = tiny_zoo.path
    for rel in (
        "README.md",
        "spec.toml",
        "tasks.parquet",
        "manifest.json",
        "metadata/train.parquet",
        "weights/1-6-1/test-00000.safetensors",
    ):
        assert (root / rel).is_file(), rel
    assert sorted(p.name for p in (root / "weights/1-8-8-1").iterdir()) == [
        "test-00000.safetensors",
        "train-00000.safetensors",
        "train-00001.safetensors",
        "unseen-00000.safetensors",
        "validation-00000.safetensors",
    ]  # shard_size 4: 6 train models make two shards
    test = tiny_zoo.table("test")
    assert sorted(set(test["arch"])) == ["1-6-1", "1-8-8-1"] and len(test["model_id"]) == 6
    assert (tiny_zoo.table("unseen")["task_id"] == 3).all()
    assert tiny_zoo.manifest["tasks"]["min_distance"] >= 0.2


def test_weights_round_trip_and_fit_is_recorded(tiny_zoo):
    for split in tiny_zoo.splits:
        for group in tiny_zoo.groups(split):
            pop = tiny_zoo.population(group)
            assert len(pop) == len(group)
            coef = torch.as_tensor(tiny_zoo.tasks.coef[group.table["task_id"]])
            np.testing.assert_allclose(
                fit_rel_mse(pop, coef).numpy(), group.table["train_rel_mse"], rtol=1e-5
            )
    one = tiny_zoo.model(int(tiny_zoo.table("train")["model_id"][5]))
    group = tiny_zoo.groups("train")[0]
    torch.testing.assert_close(one.weights[1][0], tiny_zoo.population(group).weights[1][5])
    with pytest.raises(ZooError, match="has no model with id 999"):
        tiny_zoo.model(999)


def test_datasets_load_dataset_reads_the_splits(tiny_zoo):
    ds = datasets.load_dataset(str(tiny_zoo.path), cache_dir=str(tiny_zoo.path.parent / "hf-cache"))
    assert {s: len(ds[s]) for s in ds} == {"train": 6, "validation": 3, "test": 6, "unseen": 1}
    assert ds["test"][0]["shard"].startswith("weights/")
    assert len(tiny_zoo.metadata["train"]) == 6


def test_same_spec_gives_the_same_fingerprint(tiny_spec, tiny_zoo, tmp_path):
    again = build_zoo(tiny_spec, tmp_path / "again", quiet=True)
    assert again.fingerprint == tiny_zoo.fingerprint
    other = build_zoo(tiny_spec.replace(seed=8), tmp_path / "other", quiet=True)
    assert other.fingerprint != tiny_zoo.fingerprint


@pytest.fixture()
def zoo_copy(tiny_zoo, tmp_path):
    return shutil.copytree(tiny_zoo.path, tmp_path / "copy")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (
            lambda p: _flip_byte(p / "weights/1-8-8-1/test-00000.safetensors"),
            "weights/1-8-8-1/test-00000.safetensors: sha256 mismatch",
        ),
        (
            lambda p: _truncate(p / "weights/1-6-1/test-00000.safetensors"),
            "weights/1-6-1/test-00000.safetensors: size",
        ),
        (lambda p: (p / "tasks.parquet").unlink(), "tasks.parquet: missing"),
        (lambda p: (p / "metadata/notes.txt").write_text("hi"), "metadata/notes.txt: not in the manifest"),
    ],
)
def test_verification_names_the_damaged_file(zoo_copy, damage, problem):
    damage(zoo_copy)
    assert any(p.startswith(problem) for p in verify_zoo(zoo_copy))
    with pytest.raises(ZooIntegrityError, match=problem.split(":")[0]):
        Zoo(zoo_copy)


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path):
    path.write_bytes(path.read_bytes()[:-10])


def test_not_a_zoo_and_unknown_format(tmp_path, zoo_copy):
    with pytest.raises(ZooError, match="is not a netembench zoo: it has no manifest.json"):
        Zoo(tmp_path)
    manifest = json.loads((zoo_copy / "manifest.json").read_text())
    manifest["format_version"] = 99
    (zoo_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError, match="zoo format version 99; this netembench reads versions 1, 2: upgrade"):
        Zoo(zoo_copy)


def test_existing_output_is_refused_and_overwrite_replaces(tiny_spec, tiny_zoo):
    with pytest.raises(ZooError, match="already exists; pass --overwrite"):
        build_zoo(tiny_spec, tiny_zoo.path, quiet=True)


def test_interrupted_build_leaves_nothing_behind(tiny_spec, tmp_path, monkeypatch):
    import netembench.zoo.build as build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "render_card", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_zoo(tiny_spec, tmp_path / "zoo", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_keeps_the_old_zoo_until_the_new_one_is_complete(tiny_spec, tmp_path, monkeypatch):
    first = build_zoo(tiny_spec, tmp_path / "zoo", quiet=True)
    import netembench.zoo.build as build

    monkeypatch.setattr(build, "render_card", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        build_zoo(tiny_spec, tmp_path / "zoo", overwrite=True, quiet=True)
    assert [p.name for p in tmp_path.iterdir()] == ["zoo"]
    assert Zoo(tmp_path / "zoo").fingerprint == first.fingerprint


def test_load_zoo_by_name_uses_the_cache(tmp_path):
    with pytest.raises(
        ZooError,
        match=r"zoo poly-seed@1.2.0 is not in the cache .*; build it with 'netembench zoo build poly-seed@1.2.0'",
    ):
        load_zoo("poly-seed")
    with pytest.raises(ZooError, match="no zoo folder at ./nowhere"):
        load_zoo("./nowhere")


def test_groups_and_populations_print_short_and_populations_are_callable(tiny_zoo):
    group = tiny_zoo.groups("test")[1]
    assert repr(group) == "ModelGroup(test, 1-6-1, 3 models)"
    pop = tiny_zoo.population(group)
    assert repr(pop) == "Population(1-6-1, 3 models, cpu)"
    x = torch.linspace(-1, 1, 9).expand(len(pop), -1)
    assert torch.equal(pop(x), pop.forward(x))

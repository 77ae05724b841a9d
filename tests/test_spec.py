from __future__ import annotations

import numpy as np
import pytest

from netembench.zoo.spec import (
    CANONICAL_TRACKS,
    PRETRAINING_ZOOS,
    CORE_SPLITS,
    SpecError,
    canonical_specs,
    parse_spec,
    resolve_spec,
)
from tests.conftest import TINY_SPEC


@pytest.fixture(scope="module")
def canonical_tables():
    out = {}
    for ref, spec in canonical_specs().items():
        if spec.name in PRETRAINING_ZOOS:  # their tables: tests/test_pretrain.py
            continue
        tasks = spec.sample_tasks()
        out[ref] = (spec, tasks, spec.models(tasks))
    return out


def test_every_track_ships_a_spec():
    names = {s.name for s in canonical_specs().values()}
    assert sorted(names) == sorted(CANONICAL_TRACKS + PRETRAINING_ZOOS)


def test_canonical_splits_are_seed_disjoint_and_unseen_tasks_are_held_out(canonical_tables):
    for ref, (spec, tasks, models) in canonical_tables.items():
        for task in tasks.seen_ids():
            rows = models["task_id"] == task
            seeds = {s: set(models["seed"][rows & (models["split"] == s)]) for s in CORE_SPLITS}
            assert all(seeds.values()), f"{ref}: task {task} missing from a core split"
            assert not (
                seeds["train"] & seeds["validation"]
                or seeds["train"] & seeds["test"]
                or seeds["validation"] & seeds["test"]
            )
        unseen_rows = np.isin(models["task_id"], tasks.unseen_ids())
        assert set(models["split"][unseen_rows]) <= {"unseen"}, ref
        assert not np.isin(models["task_id"][models["split"] == "unseen"], tasks.seen_ids()).any()
        assert len(np.unique(models["model_id"])) == len(models["model_id"])


def test_canonical_shapes_match_the_tracks(canonical_tables):
    counts = {
        ref.split("@")[0]: {s: int((m["split"] == s).sum()) for s in spec.split_names}
        for ref, (spec, _, m) in canonical_tables.items()
    }
    assert counts["poly-seed"] == {"train": 300, "validation": 100, "test": 100, "unseen": 100}
    assert counts["poly-fine"] == {"train": 600, "validation": 200, "test": 400, "unseen": 80}
    assert counts["poly-many"] == {"train": 2000, "validation": 1000, "test": 1000, "unseen": 800}
    assert counts["poly-xarch"]["test"] == 800
    fine = canonical_tables["poly-fine@1.0.0"][1]
    xarch = canonical_tables["poly-xarch@1.0.0"][1]
    np.testing.assert_array_equal(fine.coef[fine.seen_ids()], xarch.coef)
    assert canonical_tables["poly-seed@1.0.0"][1].min_distance >= 0.1


def test_toml_round_trip(tiny_spec):
    assert parse_spec(tiny_spec.to_toml(), "again") == tiny_spec
    for spec in canonical_specs().values():
        assert parse_spec(spec.to_toml()) == spec


def test_resolve_names_versions_and_files(tmp_path):
    assert resolve_spec("poly-seed").ref == "poly-seed@1.2.0"  # the latest version
    assert resolve_spec("poly-seed@1.0.0").superseded_by == "1.1.0"
    assert resolve_spec("poly-seed@1.1.0").superseded_by == "1.2.0"
    with pytest.raises(
        SpecError, match="unknown zoo 'poly-sed'; known zoos: host-fine, host-seed, poly-fine, poly-many, poly-seed, poly-xarch"
    ):
        resolve_spec("poly-sed")
    with pytest.raises(
        SpecError, match=r"unknown version '9.9.9' of zoo 'poly-seed'; known versions: 1.0.0, 1.1.0, 1.2.0"
    ):
        resolve_spec("poly-seed@9.9.9")
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SPEC)
    assert resolve_spec(str(path)).name == "tiny"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("steps = 60\n", "stpes = 60\n"), r"unknown field 'stpes' in \[training\]"),
        (lambda t: t.replace("n_tasks = 3\n", ""), r"missing field 'n_tasks' in \[tasks\]"),
        (
            lambda t: t.replace("steps = 60", 'steps = "sixty"'),
            r"field \[training\].steps must be int, got 'sixty'",
        ),
        (
            lambda t: t.replace('family = "separated"', 'family = "gaussian"'),
            r"\[tasks\].family must be one of",
        ),
        (lambda t: t.replace('version = "0.1.0"', 'version = "1"'), "is not semantic"),
        (lambda t: t.replace("first_seed = 2", "first_seed = 1"), "share seeds .*seed-disjoint"),
        (lambda t: t.replace('name = "validation"', 'name = "val"'), "split 'validation' is missing"),
        (lambda t: t.replace('arch = "1-6-1"', 'arch = "1-6-3-1"'), "is not of the form"),
        (lambda t: t + "[oops\n", "not valid TOML"),
    ],
)
def test_bad_specs_name_the_field(edit, message):
    with pytest.raises(SpecError, match=message) as err:
        parse_spec(edit(TINY_SPEC), "my.toml")
    assert str(err.value).startswith("my.toml: ")

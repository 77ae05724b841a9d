"""Shared fixtures: a tiny spec (13 models, 60 steps) built once per session."""

from __future__ import annotations

import pytest

from netembench.zoo.build import build_zoo
from netembench.zoo.spec import parse_spec

TINY_SPEC = """
name = "tiny"
version = "0.1.0"
seed = 7
description = "a tiny zoo for tests"
shard_size = 4
fit_bar = 10.0  # 60 training steps fit roughly; canonical specs keep the default bar of 1e-2

[tasks]
family = "separated"
n_tasks = 3
n_unseen = 1
min_distance = 0.2

[training]
steps = 60
batch_size = 16

[[splits]]
name = "train"
arch = "1-8-8-1"
first_seed = 0
n_seeds = 2

[[splits]]
name = "validation"
arch = "1-8-8-1"
first_seed = 2
n_seeds = 1

[[splits]]
name = "test"
arch = "1-8-8-1"
first_seed = 3
n_seeds = 1

[[splits]]
name = "test"
arch = "1-6-1"
first_seed = 3
n_seeds = 1

[[splits]]
name = "unseen"
arch = "1-8-8-1"
tasks = "unseen"
first_seed = 0
n_seeds = 1
"""


TINY_2D_SPEC = """
name = "tiny2d"
version = "0.1.0"
seed = 5
shard_size = 8
fit_bar = 10.0

[tasks]
family = "separated2d"
n_tasks = 3
n_unseen = 1
min_distance = 0.2

[training]
steps = 60
batch_size = 16

[[splits]]
name = "train"
arch = "2-8-8-1"
first_seed = 0
n_seeds = 3

[[splits]]
name = "validation"
arch = "2-8-8-1"
first_seed = 3
n_seeds = 1

[[splits]]
name = "test"
arch = "2-8-8-1"
first_seed = 4
n_seeds = 2

[[splits]]
name = "unseen"
arch = "2-8-8-1"
tasks = "unseen"
first_seed = 0
n_seeds = 2
"""


@pytest.fixture(scope="session")
def tiny_2d_zoo(tmp_path_factory):
    return build_zoo(
        parse_spec(TINY_2D_SPEC, "tiny2d.toml"), tmp_path_factory.mktemp("zoos") / "tiny2d", quiet=True
    )


@pytest.fixture(scope="session")
def tiny_spec():
    return parse_spec(TINY_SPEC, "tiny.toml")


@pytest.fixture(scope="session")
def tiny_zoo(tiny_spec, tmp_path_factory):
    return build_zoo(tiny_spec, tmp_path_factory.mktemp("zoos") / "tiny", quiet=True)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """No test touches the user's cache or the network (hub tests point HF_ENDPOINT at their own
    local server; elsewhere the hub is a closed local port)."""
    monkeypatch.setenv("NETEMBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

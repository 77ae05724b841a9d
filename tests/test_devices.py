"""Every shipped embedder, and the harness around it, runs on the device of its batch (`--device
cuda`), checked without a GPU: `fake_cuda.FakeCuda` tags tensors on "cuda" and fails where a CPU
tensor meets one, as CUDA does."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from netembench.eval.embedders import Unsupported, ZooIdentity, load_submission
from netembench.eval.harness import evaluate
from netembench.eval.probes import ProbeSet, draw_probes, evaluation_keys
from netembench.eval.tracks import track_for
from netembench.eval.worker import WorkerRunner
from tests.fake_cuda import CUDA, FakeCuda, on_cuda

BASELINES = sorted(p.parent.name for p in Path("baselines").glob("*/embedder.py"))
# Zoos the shipped checkpoints were trained for (a 1-D or 2-D checkpoint reads any zoo of its inputs).
CHECKPOINT_ZOO = {1: ZooIdentity("poly-seed", "1.1.0", ""), 2: ZooIdentity("poly2d-seed", "1.0.0", "")}
ALL_FIELDS = frozenset({"grad", "y", "weights"})


def test_fake_cuda_fails_where_a_cpu_tensor_meets_a_cuda_one():
    with FakeCuda():
        a = torch.ones(3).to("cuda")
        assert a.device == CUDA and on_cuda(a * 2) and on_cuda(torch.zeros(2, device=a.device))
        assert not on_cuda(a.cpu()) and (a + torch.tensor(1.0)).device == CUDA  # CPU scalars mix
        with pytest.raises(RuntimeError, match="same device"):
            a + torch.ones(3)
        with pytest.raises(TypeError, match="numpy"):
            a.numpy()
        net = torch.nn.Linear(3, 2).to("cuda")
        assert on_cuda(net(a))
        with pytest.raises(RuntimeError, match="same device"):
            torch.nn.Linear(3, 2)(a)


def probe_sets(zoo) -> list[ProbeSet]:
    """One probe set per split and architecture of a zoo (every architecture it holds)."""
    protocol = track_for(zoo.name, zoo.tasks.dim).protocol
    out = []
    for split in zoo.splits:
        for group in zoo.groups(split):
            pop = zoo.population(group)
            keys = evaluation_keys(zoo.fingerprint, 0, pop)
            out.append(draw_probes(pop, torch.arange(len(pop)), keys, protocol))
    return out


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("dim", [1, 2])
def test_every_baseline_runs_on_the_device_of_its_batch(name, dim, tiny_zoo, tiny_2d_zoo):
    embedder = load_submission(f"baselines/{name}").embedder
    if dim not in getattr(embedder, "protocols", {1}):
        pytest.skip(f"{name} does not handle {dim}-D inputs")
    zoo = tiny_zoo if dim == 1 else tiny_2d_zoo
    with FakeCuda():
        if callable(getattr(embedder, "to", None)):  # the worker's order: to(device), then prepare
            embedder.to(torch.device("cuda"))
        if callable(getattr(embedder, "prepare", None)):
            try:
                embedder.prepare(CHECKPOINT_ZOO[dim])
            except Unsupported as why:  # e.g. cloze_host, whose checkpoints are for the host tracks
                pytest.skip(f"{name}: {why}")
        for probes in probe_sets(zoo):
            with torch.no_grad(), contextlib.suppress(Unsupported):  # e.g. an architecture it cannot read
                assert embedder.embed(probes.batch(ALL_FIELDS, masked=False).to("cuda")).device == CUDA
                if callable(getattr(embedder, "predict_masked", None)):
                    masked = probes.batch(ALL_FIELDS, masked=True).to("cuda")
                    assert embedder.predict_masked(masked).device == CUDA


def test_cloze_eval_on_cuda_scores_the_cpu_answers_of_its_worker(tiny_zoo):
    """The sealed worker always answers with CPU tensors (whatever its device); the harness, on
    `--device cuda`, scores them against its probes there. (The worker runs on the CPU here: the
    pretend device lives in this process only.)"""
    runner = WorkerRunner("baselines/interp", "cpu")
    with FakeCuda():
        result = evaluate(None, tiny_zoo, device="cuda", quiet=True, runner=runner)
    runner.close()
    assert result["metrics"]["cloze_nmse_pooled"]["mean"] >= 0.0

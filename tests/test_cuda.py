"""GPU builds equal CPU builds, bit for bit (skipped without a CUDA device).

The exact GEMMs have integer operands of at most 11 bits in float32 (TF32 represents them
exactly) and exact float64 otherwise, and every other operation is exact or correctly rounded
(`netembench.zoo.rounding`), so a CUDA build must give the golden fingerprints the CPU gives.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from netembench.zoo import rounding
from netembench.zoo.population import Arch, TrainConfig, fit_rel_mse, train_population
from tests.conftest import TINY_2D_SPEC, TINY_SPEC
from tests.test_reproducibility import TINY_2D_FINGERPRINT, TINY_FINGERPRINT

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cuda_arithmetic_is_correctly_rounded():
    assert rounding.check_arithmetic("cuda", n=2000) == []


def test_cuda_training_runs_only_audited_operations():
    keys = torch.arange(3, dtype=torch.int64, device="cuda") * 7919
    coef = torch.linspace(-0.5, 0.5, 15, dtype=torch.float64).reshape(3, 5)
    with rounding.OpAudit() as audit:
        fit_rel_mse(train_population(Arch.parse("1-8-8-1"), coef, keys, TrainConfig(steps=3)), coef)
    assert audit.problems == set()


@pytest.mark.parametrize("tf32", ["0", "1"], ids=["TF32 off", "TF32 forced on"])
@pytest.mark.parametrize(
    "text, golden", [(TINY_SPEC, TINY_FINGERPRINT), (TINY_2D_SPEC, TINY_2D_FINGERPRINT)], ids=["1-D", "2-D"]
)
def test_tiny_zoos_build_to_the_golden_fingerprints_on_cuda(tmp_path, text, golden, tf32):
    spec = tmp_path / "tiny.toml"
    spec.write_text(text)
    cmd = [sys.executable, "-m", "netembench", "zoo", "build", str(spec), "--out", str(tmp_path / "zoo")]
    env = {**os.environ, "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": tf32}
    done = subprocess.run([*cmd, "--device", "cuda", "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"fingerprint {golden}" in done.stdout

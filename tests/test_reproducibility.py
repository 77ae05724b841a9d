"""Zoos rebuild bit for bit whatever CPU, thread count or library code path builds them.

Other machines are simulated with the switches that change which kernels the libraries run: MKL's
conditional numerical reproducibility mode, ATen's SIMD level, numpy's SIMD dispatch, OpenBLAS's
kernel and the thread count. Before netembench's exact arithmetic, four of these six builds gave
four different fingerprints (measured on an AMD EPYC with AVX-512, torch 2.13.0).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from netembench.zoo import exact
from tests.conftest import TINY_2D_SPEC, TINY_SPEC

# The content fingerprints of the tiny specs' zoos: the same on every x86-64 machine. CI checks
# them on its own machine; a change here changes every canonical zoo.
TINY_FINGERPRINT = "538b91af0d3c55a3e8dd3c5cddffc4e2d0c70e537d843de12b2a7be94be7f72f"
TINY_2D_FINGERPRINT = "26214f7a2cb71999d8d3540e546af36fb8fe7b9663f876c0eeadde85da38c5e4"

VARIANTS = {
    "default": {},
    "MKL compatible code path": {"MKL_CBWR": "COMPATIBLE"},
    "ATen without SIMD": {"ATEN_CPU_CAPABILITY": "default"},
    "ATen AVX2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "one thread": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "numpy without AVX-512, another OpenBLAS kernel": {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL",
        "OPENBLAS_CORETYPE": "Sandybridge",
    },
}


@pytest.mark.parametrize(
    "text, golden", [(TINY_SPEC, TINY_FINGERPRINT), (TINY_2D_SPEC, TINY_2D_FINGERPRINT)], ids=["1-D", "2-D"]
)
def test_tiny_zoo_has_one_fingerprint_under_every_code_path(tmp_path, text, golden):
    spec = tmp_path / "tiny.toml"
    spec.write_text(text)
    procs = {}
    for name, env in VARIANTS.items():
        cmd = [
            sys.executable,
            "-m",
            "netembench",
            "zoo",
            "build",
            str(spec),
            "--out",
            str(tmp_path / name),
            "--quiet",
        ]
        procs[name] = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    fingerprints = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err}"
        fingerprints[name] = next(
            line.split()[-1] for line in out.splitlines() if line.startswith("fingerprint")
        )
    assert set(fingerprints.values()) == {golden}, fingerprints


def test_two_rank_torchrun_build_equals_the_one_process_build(tmp_path):
    """Two gloo ranks on the CPU share the models out; rank 0 writes the same zoo, bit for bit."""
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "netembench",
        "zoo",
        "build",
        str(spec),
        "--out",
        str(tmp_path / "zoo"),
        "--quiet",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("built tiny@0.1.0") == 1  # rank 0 reports
    assert f"fingerprint {TINY_FINGERPRINT}" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml", "zoo"]  # nothing half-written


def test_in_process_build_matches_the_golden_fingerprint(tiny_zoo):
    assert tiny_zoo.fingerprint == TINY_FINGERPRINT


def test_exact_matmul_is_order_free_and_float32_accurate():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 7, 32, generator=gen), torch.randn(5, 32, 3, generator=gen)
    out = exact.matmul(a, b)
    reference = (a.double() @ b.double()).float()
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    perm = torch.randperm(32, generator=gen)  # another summation order, same exact sum
    assert torch.equal(exact.matmul(a[..., perm], b[:, perm]), out)
    assert torch.equal(exact.matmul(a[2:3], b[2:3]), out[2:3])  # no batch effects
    low = exact.matmul(a, b, bits=9)
    assert not torch.equal(low, out)
    torch.testing.assert_close(low, reference, rtol=0, atol=0.1)


def test_exact_matmul_handles_zeros_and_wide_reductions():
    assert torch.equal(exact.matmul(torch.zeros(2, 3, 4), torch.ones(2, 4, 5)), torch.zeros(2, 3, 5))
    a, b = torch.randn(2, 4, 64), torch.randn(2, 64, 4)  # k = 64: 23 bits per operand in float64
    torch.testing.assert_close(exact.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 5, 32, 33])
def test_fixed_sum_has_one_order(n):
    t = torch.randn(3, n, 4, dtype=torch.float64)
    torch.testing.assert_close(exact.fixed_sum(t, 1), t.sum(1))
    assert torch.equal(exact.fixed_sum(t, 1), exact.fixed_sum(t.clone(), 1))

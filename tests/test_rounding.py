"""Every operation that decides a zoo is exact or correctly rounded, checked against exact results.

A test that compares builds with each other on one machine cannot see a rounding error that all of
them share (zoo 1.1.0's `torch.sqrt` was one: MKL's vector square root is off by an ulp on Intel
Xeons). These tests compare with exact rational references instead, on adversarial inputs, under
every library code path `test_reproducibility.py` simulates, and check that a build runs no
operation outside the audit.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from netembench.zoo import exact, rounding
from netembench.zoo.population import Arch, TrainConfig, fit_rel_mse, init_population, train_population
from tests.test_reproducibility import VARIANTS


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_arithmetic_is_correctly_rounded_under_every_code_path(variant):
    done = subprocess.run(
        [sys.executable, "-m", "netembench.zoo.rounding", "-n", "1000"],
        env={**os.environ, **VARIANTS[variant]},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("arithmetic: correctly rounded")


def test_the_check_finds_a_square_root_one_ulp_off():
    def sloppy(t: torch.Tensor) -> torch.Tensor:  # one ulp up on every 97th input
        root = exact.sqrt(t)
        bump = torch.zeros_like(root, dtype=torch.bool)
        bump[::97] = True
        return torch.where(bump, torch.nextafter(root, torch.full_like(root, math.inf)), root)

    problems = rounding.check_arithmetic(n=300, sqrt=sloppy)
    assert len(problems) == 1 and problems[0].startswith("square root of the trainer (float32): ")


@pytest.mark.parametrize("env", [{}, {"MKL_CBWR": "COMPATIBLE"}], ids=["default", "MKL compatible"])
def test_the_check_finds_torch_sqrt_where_it_is_not_correctly_rounded(env):
    """Zoo 1.1.0's Adam called `torch.sqrt`. Where MKL's vector square root is off (Intel Xeons,
    most of all under MKL_CBWR=COMPATIBLE) the check must say so; `exact.sqrt` passes everywhere."""
    code = (
        "import torch; from netembench import rounding; "
        "print('\\n'.join(rounding.check_arithmetic(n=2000, sqrt=torch.sqrt)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    x = torch.rand(1_000_000, generator=torch.Generator().manual_seed(0)) * 10
    wrong = (torch.sqrt(x) != exact.sqrt(x)).sum().item() if not env else None
    if not done.stdout.strip() and not wrong:
        pytest.skip("torch.sqrt is correctly rounded on this machine and code path")
    assert "square root of the trainer (float32)" in done.stdout


def test_exact_sqrt_is_correctly_rounded_over_the_whole_float32_range():
    gen = torch.Generator().manual_seed(1)
    bits = torch.randint(0, 0x7F800000, (2_000_000,), dtype=torch.int32, generator=gen)
    x = bits.view(torch.float32)  # every finite non-negative float32, subnormals included
    reference = torch.from_numpy(np.sqrt(x.numpy().astype(np.float64)).astype(np.float32))  # innocuous
    assert torch.equal(exact.sqrt(x), reference)
    specials = torch.tensor([0.0, -0.0, math.inf, 1e-45, 4.0, 2.0])
    assert exact.sqrt(specials).tolist() == [0.0, -0.0, math.inf, exact.f32(math.sqrt(1.401298464324817e-45)), 2.0, exact.f32(math.sqrt(2))]
    assert math.copysign(1, exact.sqrt(torch.tensor([-0.0])).item()) == -1
    assert exact.sqrt(torch.tensor([-1.0, math.nan])).isnan().all()


def test_the_rational_reference_rounds_ties_to_even_and_underflows_gradually():
    f32 = lambda q: rounding.round_to_float(q, *rounding.FORMATS[np.float32])  # noqa: E731
    assert f32(Fraction(1) + Fraction(1, 2**24)) == 1.0  # a tie: to the even neighbour
    assert f32(Fraction(1) + Fraction(3, 2**24)) == 1.0 + 2**-22
    assert f32(Fraction(1, 2**150)) == 0.0 and f32(Fraction(3, 2**151)) == 2**-149
    assert f32(Fraction(2**128)) == math.inf
    assert f32(Fraction(1, 3)) == float(np.float32(1 / 3))
    assert rounding.exact_sqrt(2.25, 24) == Fraction(3, 2)
    assert f32(rounding.exact_sqrt(2.0, 24)) == exact.f32(math.sqrt(2.0))


def test_host_constants_are_platform_free():
    assert exact.cos_pi(0, 7) == 1.0 and exact.cos_pi(7, 7) == -1.0 and exact.cos_pi(1, 3) == 0.5
    assert exact.cos_pi(1, 2) == 0.0 or abs(exact.cos_pi(1, 2)) < 1e-30
    assert exact.f32(0.1) == float(np.float32(0.1))
    schedule = TrainConfig(steps=10, lr=1e-2, lr_final=1e-5).schedule()
    assert schedule[0] == 1e-2 and len(schedule) == 10 and schedule[5] == pytest.approx(0.005005)


def _audited_build_steps(arch: Arch) -> set[str]:
    keys = torch.arange(3, dtype=torch.int64) * 7919
    coef_width = 5 if arch.inputs == 1 else 10
    coef = torch.linspace(-0.5, 0.5, 3 * coef_width, dtype=torch.float64).reshape(3, coef_width)
    with rounding.OpAudit() as audit:
        init_population(arch, keys)
        pop = train_population(arch, coef, keys, TrainConfig(steps=3, batch_size=8))
        fit_rel_mse(pop, coef)
    return audit.problems


@pytest.mark.parametrize("arch", ["1-8-8-1", "2-8-8-1", "1-6-1", "1-4-4-4-1"])
def test_a_build_runs_only_audited_operations(arch):
    assert _audited_build_steps(Arch.parse(arch)) == set()


def test_the_audit_flags_what_would_round_differently_elsewhere():
    x = torch.rand(4, 5)
    with rounding.OpAudit() as audit:
        x.sqrt()
        x / 3.0
        x.sum()
        x * 0.1  # not a float32 value
        torch.bmm(x[None], x.T[None])
        torch.exp(x)
    problems = sorted(audit.problems)
    assert problems == sorted(
        [
            "sqrt on the CPU: MKL's vector square root is not correctly rounded (use exact.sqrt)",
            "div by a Python scalar: CUDA multiplies by its rounded reciprocal",
            "sum of floating-point values: its order depends on the kernel (use exact.fixed_sum)",
            "mul with a constant that is not a float32 value: [0.1]",
            "bmm of operands that are not integers: its sums round in a kernel-dependent order",
            "exp: not audited",
        ]
    )

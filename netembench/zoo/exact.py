"""Arithmetic whose rounding does not depend on the machine it runs on.

A canonical zoo must be the same bytes on every x86-64 CPU, at any thread count. Two things break
that in plain torch: BLAS kernels (MKL picks CPU-specific code paths whose summation order and
fused multiply-adds differ) and vectorised reductions and compound ops (`sum`, `addcmul`, fused
Adam round differently at different SIMD widths). This module supplies the two reductions that
training and probing need, defined so that their result is one fixed function of their inputs:

- `matmul`: every operand row (or column) is scaled by a power of two and rounded to an integer
  of at most `bits` bits, so that every product and every partial sum of the float64 GEMM is an
  integer below 2**53. Each addition is then exact, which makes the result independent of the
  order and the kernel that MKL, OpenBLAS or cuBLAS chooses. One rounding to float32 follows.
  Operands keep 23-24 significant bits relative to their row's largest entry: float32 quality.
- `fixed_sum`: a sum along one dimension by pairwise halving with elementwise additions.
- `sqrt`: the correctly rounded float32 square root IEEE 754 defines. `torch.sqrt` on CPU runs
  MKL's vector math library, whose result depends on the CPU and code path (on an Intel Xeon 0.7%
  of float32 results are one ulp off by default, 15% under `MKL_CBWR=COMPATIBLE`).
- `fixed_mean` divides by a tensor: CUDA divides by a scalar as a multiplication by its rounded
  reciprocal, which is not correctly rounded.
- `f32` and `cos_pi`: host-side constants (learning rates, Adam's constants) rounded once, the
  same way on every platform (no libm `cos` or `pow`, whose last bit varies between libraries).

Everything else used for zoos is elementwise IEEE arithmetic (+, -, *, / of two tensors, max),
correctly rounded at every SIMD width and on CUDA, written as single operations so no compiler can
fuse them, with float32 scalars only. `netembench.zoo.rounding` lists every operation a build runs and
checks the correctly rounded ones against exact references on the machine at hand.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext

import numpy as np
import torch
from torch import Tensor

_EXACT_BITS = 53  # float64 significand: integers below 2**53 add exactly
_FLOAT32_BITS = 24


def pow2(exponent: Tensor) -> Tensor:
    """`2.0 ** exponent` as float32, built from its bits (no `pow`, whose rounding varies).
    Exponents are clamped to float32's normal range [-126, 127]."""
    return ((exponent.clamp(-126, 127).to(torch.int32) + 127) << 23).view(torch.float32)


def _integerise(t: Tensor, dim: int, bits: int) -> tuple[Tensor, Tensor]:
    """(q, e): integers `q` (float32, exact: |q| <= 2**bits <= 2**24) with `t ~= q * 2**e`, one
    `e` per slice along `dim` (its largest entry keeps `bits` significant bits)."""
    _, exp = torch.frexp(t.abs().amax(dim, keepdim=True))  # max |t| < 2**exp
    shift = (bits - exp).clamp_(-126, 127)
    return (t * pow2(shift)).round_(), -shift


def matmul(a: Tensor, b: Tensor, bits: int = 24) -> Tensor:
    """`a @ b` for float32 `a [..., n, k]`, `b [..., k, m]`, bit-identical on every machine.

    Operands keep `bits` significant bits (24: float32's precision; 23 when k > 32, so that sums
    stay below 2**53). Where the integer products and their sums fit float32's significand
    (`2 * bits + log2(k) <= 24`, e.g. 9 bits for k <= 64) the GEMM runs in float32, else in float64;
    either way every addition is exact.
    """
    log_k = max(1, math.ceil(math.log2(max(a.shape[-1], 1))))
    in_float32 = 2 * bits + log_k <= _FLOAT32_BITS
    bits = min(bits, (_EXACT_BITS - log_k) // 2)
    qa, ea = _integerise(a, -1, bits)
    qb, eb = _integerise(b, -2, bits)
    if in_float32:
        exact = torch.matmul(qa, qb)  # integers below 2**24: exact in any order
    else:
        exact = torch.matmul(qa.double(), qb.double()).float()  # exact below 2**53, one rounding
    # Exact power-of-two scalings (a fixed definition, also where the result underflows).
    return exact.mul_(pow2(ea)).mul_(pow2(eb))


def fixed_sum(t: Tensor, dim: int) -> Tensor:
    """Sum along `dim` in one fixed pairwise order (elementwise adds only)."""
    t = t.movedim(dim, 0)
    while t.shape[0] > 1:
        half = t.shape[0] // 2
        head = t[:half] + t[half : 2 * half]
        t = torch.cat([head, t[2 * half :]]) if t.shape[0] % 2 else head
    return t[0]


def fixed_mean(t: Tensor, dim: int) -> Tensor:
    """Mean along `dim`: the fixed-order sum over a tensor holding the count (never a scalar)."""
    total = fixed_sum(t, dim)
    return total / torch.full_like(total, t.shape[dim])


def sqrt(t: Tensor) -> Tensor:
    """The correctly rounded square root of float32 `t`, the same bits on every CPU and GPU.

    IEEE 754 requires `sqrt` to be correctly rounded, and the hardware instructions are (x86's
    `sqrtps`, which numpy's float32 `sqrt` runs; CUDA's `sqrt.rn`, which torch's CUDA kernel
    runs). On CPU `torch.sqrt` runs MKL's vector math library instead, which is accurate to an ulp
    but not correctly rounded. `netembench.zoo.rounding` checks the result against exact rational
    square roots before every build.
    """
    if t.device.type == "cpu":
        with np.errstate(invalid="ignore"):  # negative inputs give NaN, as torch.sqrt does
            return torch.from_numpy(np.sqrt(t.detach().contiguous().numpy()))
    return torch.sqrt(t)


def f32(value: float) -> float:
    """`value` rounded to the nearest float32 (ties to even): a constant every device reads alike."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


def cos_pi(numerator: int, denominator: int) -> float:
    """cos(pi * numerator / denominator) as a float64, correctly rounded (decimal arithmetic at
    36 digits: a result within 1e-33 of a rounding boundary is the only way to miss, and it would
    miss the same way everywhere). libm's `cos` is allowed an ulp and differs between libraries."""
    with localcontext() as ctx:
        ctx.prec = 36
        x = _PI * numerator / denominator
        x2, term, total, k = x * x, Decimal(1), Decimal(1), 0
        while abs(term) > Decimal(10) ** -35:
            k += 2
            term = -term * x2 / (k * (k - 1))
            total += term
    return float(total)


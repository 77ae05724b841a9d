"""Which operations decide a zoo's bytes, and a check that this machine computes them exactly.

The audit (zoo 1.2.0). Every tensor operation a build runs (`tests/test_rounding.py` traces a
small build and compares with `AUDITED_OPS`) is of one of three kinds:

- *exact*: the result is representable, so every correct implementation returns it: copies,
  views, `cat`, selections, comparisons, `clamp`/`max` against 0, `frexp`, `round`, `nextafter`,
  integer arithmetic (the counter-based random streams), scaling by powers of two, conversions
  of integers below 2**24, `floor` and `gather` (tabulated tasks' cells), and GEMMs of integer operands whose every partial sum is exact
  (`exact.matmul`, in any order, on any BLAS or cuBLAS, TF32 or not);
- *correctly rounded*: IEEE `+`, `-`, `*`, `/` of two tensors, or `+`, `-`, `*` of a tensor and a
  float32 constant (`exact.f32`); `check_arithmetic` compares them with exact rational results
  on adversarial inputs;
- *correctly rounded by IEEE 754 in hardware*: `exact.sqrt` (numpy's float32 `sqrt`, the x86
  `sqrtps` instruction, on CPU; torch's `sqrt`, CUDA's `sqrt.rn`, on a GPU), checked like the rest.

Nothing else may run: no libm or SIMD math-library function (`exp`, `log`, `pow`, `cos`, and
`sqrt` on float32, which MKL computes to within an ulp), no fused operation (`addcmul`, `lerp`,
fused Adam), no division by a Python scalar (CUDA multiplies by the rounded reciprocal).
Task sampling (numpy, float64) uses `+`, `-`, `*`, `/`, `sqrt`, comparisons and the generator's
integer streams; its uniforms are formed from `Generator.random` by explicit operations (numpy's
compiled `uniform` may be contracted to a fused multiply-add). Pretraining tasks (`pretrain.py`,
`tabulated.py`) add only exact operations (floor, max, gathers, sums in a fixed order of halvings)
and cosines from `exact.cos_pi`; their targets are interpolated with `floor`, `gather` and the
IEEE operations above. Host-side constants come from
`exact.f32` and `exact.cos_pi`. `check_arithmetic` checks numpy's float64 operations as well.

Run `python -m netembench.zoo.rounding [--device cuda]` to check a machine; `zoo build` runs the
check on its device first.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from netembench.zoo import exact

# aten operator -> why its result cannot depend on the machine.
AUDITED_OPS: dict[str, str] = {
    **dict.fromkeys(
        [
            "_to_copy", "alias", "amax", "arange", "as_strided", "bitwise_and", "bitwise_xor", "cat",
            "clamp", "clamp_", "clone", "copy_", "detach", "empty", "empty_like", "eq", "expand",
            "fill_", "frexp", "full", "full_like", "gt", "index", "index_select", "lift_fresh", "lt",
            "movedim", "nextafter", "permute", "reshape", "round", "round_", "rshift",
            "__rshift__", "select", "slice", "squeeze", "stack", "t", "threshold_backward",
            "transpose", "unbind", "unsqueeze", "view", "where", "zeros", "zeros_like", "lshift",
            "__lshift__", "_unsafe_view", "split", "split_with_sizes", "sum", "new_zeros",
            "isfinite", "all", "abs", "ge", "le", "ne", "resize_", "set_", "_local_scalar_dense",
            "contiguous", "mm", "bmm", "neg", "floor", "gather",
        ],
        "exact",
    ),
    **dict.fromkeys(["add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_"], "correctly rounded"),
    "sqrt": "on CUDA only (sqrt.rn, IEEE); on CPU exact.sqrt runs numpy's",
}
NUMPY_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


class OpAudit(TorchDispatchMode):
    """Records every tensor operation run inside it that the audit does not allow: an operator
    outside `AUDITED_OPS`, a float32 `sqrt`, a division by a Python scalar, a scalar that is not a
    float32 value, a floating-point `sum`, or a GEMM whose operands are not integers small enough
    for every partial sum to be exact."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        problem = audit_call(func._overloadpacket.__name__, args)
        if problem:
            self.problems.add(problem)
        return func(*args, **(kwargs or {}))


def audit_call(name: str, args: tuple) -> str | None:
    """Why one call could round differently on another machine, or None."""
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    floating = any(t.is_floating_point() for t in tensors)
    scalars = [a for a in args if isinstance(a, float)]
    if name not in AUDITED_OPS:
        return f"{name}: not audited"
    if name == "sqrt" and tensors[0].device.type != "cuda":
        return "sqrt on the CPU: MKL's vector square root is not correctly rounded (use exact.sqrt)"
    if name in ("div", "div_") and scalars:
        return f"{name} by a Python scalar: CUDA multiplies by its rounded reciprocal"
    if floating and any(exact.f32(c) != c for c in scalars) and tensors[0].dtype == torch.float32:
        return f"{name} with a constant that is not a float32 value: {scalars}"
    if name == "sum" and floating:
        return "sum of floating-point values: its order depends on the kernel (use exact.fixed_sum)"
    if name in ("mm", "bmm"):
        return _gemm_problem(name, tensors[0], tensors[1])
    return None


def _gemm_problem(name: str, a: torch.Tensor, b: torch.Tensor) -> str | None:
    if not (torch.equal(a, a.round()) and torch.equal(b, b.round())):
        return f"{name} of operands that are not integers: its sums round in a kernel-dependent order"
    limit = 2.0**24 if a.dtype == torch.float32 else 2.0**53
    bound = a.abs().amax().double() * b.abs().amax().double() * a.shape[-1]
    if bound > limit:
        return f"{name} whose sums may exceed 2**{int(math.log2(limit))}: not exact"
    return None


def round_to_float(q: Fraction, precision: int, min_exponent: int, max_exponent: int) -> float:
    """`q` rounded to the nearest binary float (ties to even) with `precision` significant bits,
    normal exponents `min_exponent..max_exponent`, gradual underflow and overflow to infinity."""
    if q == 0:
        return 0.0
    sign, q = (-1.0 if q < 0 else 1.0), abs(q)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1  # now 2**e <= q < 2**(e + 1)
    quantum = max(e, min_exponent) - (precision - 1)
    scaled = q / Fraction(2) ** quantum
    n, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest > scaled.denominator or (2 * rest == scaled.denominator and n % 2):
        n += 1
    if n * Fraction(2) ** quantum >= Fraction(2) ** (max_exponent + 1):
        return sign * math.inf
    return sign * math.ldexp(n, quantum)


FORMATS = {np.float32: (24, -126, 127), np.float64: (53, -1022, 1023)}


def exact_sqrt(x: float, precision: int) -> Fraction:
    """A rational in the same rounding interval as sqrt(x) (x >= 0) for `precision` bits: the exact
    root where it is rational, else a point strictly between two integers of a scale on which every
    rounding boundary is an integer."""
    q = Fraction(x)
    k = 2 * (precision + 4) - (q.numerator.bit_length() - q.denominator.bit_length()) // 2 * 2
    k += k % 2 + 2 * max(0, q.denominator.bit_length())
    n = q * Fraction(2) ** k
    root = math.isqrt(n.numerator // n.denominator)
    if root * root == n and n.denominator == 1:
        return Fraction(root) / Fraction(2) ** (k // 2)
    return (Fraction(root) + Fraction(1, 2)) / Fraction(2) ** (k // 2)


def _floats(rng: np.random.Generator, n: int, dtype, low: int, high: int) -> np.ndarray:
    """Random signs, full random significands, exponents uniform in [low, high]."""
    bits = FORMATS[dtype][0]
    significand = (rng.integers(1 << (bits - 1), 1 << bits, n) | 1).astype(np.float64)
    exponent = rng.integers(low, high + 1, n) - (bits - 1)
    sign = rng.choice([-1.0, 1.0], n)
    return (sign * np.ldexp(significand, exponent)).astype(dtype)


def _specials(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    tiny, sub = float(info.tiny), float(info.smallest_subnormal)
    values = [0.0, sub, 3 * sub, tiny - sub, tiny, 1.0, 1.0 + float(info.eps), 2.0, 0.5, float(info.max)]
    return np.array(values + [-v for v in values], dtype=dtype)


def adversarial_pairs(op: str, dtype, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Operand pairs for `op` that sit near rounding boundaries: ties and near-ties of sums, quotients
    near midpoints, products and sums in the subnormal range, wide exponent spreads."""
    rng = np.random.default_rng([seed, len(op)])
    bits, low, high = FORMATS[dtype]
    a = _floats(rng, n, dtype, low - bits, high - 2)
    if op in ("add", "sub"):
        spread = rng.integers(0, bits + 8, n)
        b = (a.astype(np.float64) * np.ldexp(1.0 + rng.integers(0, 8, n) / 8, -spread)).astype(dtype)
        b[::3] = np.ldexp(1.0, np.frexp(a[::3])[1] - bits - 1).astype(dtype)  # exact half-ulp ties
    elif op == "mul":
        a = _floats(rng, n, dtype, low // 2 - bits // 2, high // 2)
        b = _floats(rng, n, dtype, low // 2 - bits // 2, high // 2)
    else:  # div: numerators chosen so that quotients fall next to midpoints
        b = _floats(rng, n, dtype, low // 2, high // 2)
        mid = _floats(rng, n, dtype, low // 2, high // 2).astype(np.float64)
        mid = mid + np.ldexp(np.sign(mid), np.frexp(mid)[1] - bits - 1)
        a = (mid * b.astype(np.float64)).astype(dtype)
    specials = _specials(dtype)
    grid_a, grid_b = np.meshgrid(specials, specials)
    return np.concatenate([a, grid_a.ravel()]), np.concatenate([b, grid_b.ravel()])


def adversarial_roots(dtype, n: int, seed: int) -> np.ndarray:
    """Non-negative inputs whose square roots fall next to midpoints, exact squares, subnormals."""
    rng = np.random.default_rng([seed, 0x5A7])
    bits, low, high = FORMATS[dtype]
    m = np.abs(_floats(rng, n, dtype, low // 2, high // 2)).astype(np.float64)
    mid = m + np.ldexp(1.0, np.frexp(m)[1] - bits - 1)
    near = (mid * mid).astype(dtype)
    neighbours = [np.nextafter(near, np.inf), np.nextafter(near, 0), near]
    squares = (np.floor(m / np.ldexp(1.0, np.frexp(m)[1] - bits // 2)) ** 2).astype(dtype)
    wide = np.abs(_floats(rng, n, dtype, low - bits, high))
    return np.concatenate([*neighbours, squares, wide, np.abs(_specials(dtype))])


def _reference(op: str, a: float, b: float, dtype) -> float:
    """The IEEE result of `a op b` in `dtype` (round to nearest even), from exact rationals; NaN
    where the check does not apply (non-finite operands, division by zero)."""
    if not (math.isfinite(a) and math.isfinite(b)) or (op == "div" and b == 0):
        return math.nan
    qa, qb = Fraction(a), Fraction(b)
    value = {"add": qa + qb, "sub": qa - qb, "mul": qa * qb, "div": qa / qb if b else 0}[op]
    if op in ("mul", "div"):
        sign = math.copysign(1.0, a) * math.copysign(1.0, b)
    elif value == 0:  # an exact zero sum is +0 unless both terms are -0
        b_signed = b if op == "add" else -b
        sign = -1.0 if math.copysign(1.0, a) < 0 and math.copysign(1.0, b_signed) < 0 else 1.0
    else:
        sign = 1.0 if value > 0 else -1.0
    return math.copysign(round_to_float(abs(value), *FORMATS[dtype]), sign)


def _compare(name: str, got: np.ndarray, want: np.ndarray, inputs: tuple[np.ndarray, ...]) -> list[str]:
    """Bitwise comparison (signed zeros count; NaN references are not checked)."""
    checked = ~np.isnan(want)
    dtype = got.dtype
    same = got.view(f"u{dtype.itemsize}") == want.astype(dtype).view(f"u{dtype.itemsize}")
    bad = np.flatnonzero(checked & ~same)
    if not len(bad):
        return []
    i = bad[0]
    args = ", ".join(repr(float(x[i])) for x in inputs)
    return [
        f"{name}: {len(bad)} of {int(checked.sum())} results are not correctly rounded "
        f"(first: {name}({args}) gave {float(got[i])!r}, exact {float(want[i])!r})"
    ]


def torch_ops(sqrt: Callable[[torch.Tensor], torch.Tensor] = exact.sqrt) -> dict[str, Callable]:
    """The correctly rounded tensor operations a build runs, as `check_arithmetic` calls them."""
    return {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "sqrt": sqrt}


def check_arithmetic(
    device: str | torch.device = "cpu", n: int = 2000, seed: int = 0, sqrt: Callable | None = None
) -> list[str]:
    """Problems with this machine's arithmetic for the operations that decide a zoo (empty: none):
    float32 and float64 tensor operations on `device`, a tensor times each float32 constant of
    the trainer, and numpy's float64 operations, against exactly rounded rational results."""
    ops = torch_ops(sqrt or exact.sqrt)
    problems: list[str] = []
    for dtype, tdtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        for op in ("add", "sub", "mul", "div"):
            a, b = adversarial_pairs(op, dtype, n, seed)
            want = np.array([_reference(op, x, y, dtype) for x, y in zip(a.tolist(), b.tolist())])
            ta, tb = (torch.from_numpy(v).to(device) for v in (a, b))
            problems += _compare(f"torch {op} {tdtype}", ops[op](ta, tb).cpu().numpy(), want, (a, b))
            if dtype is np.float64:
                with np.errstate(all="ignore"):
                    problems += _compare(f"numpy {op} float64", NUMPY_OPS[op](a, b), want, (a, b))
        roots = adversarial_roots(dtype, n, seed)
        want = np.array([round_to_float(exact_sqrt(x, FORMATS[dtype][0]), *FORMATS[dtype]) for x in roots.tolist()])
        if dtype is np.float32:
            got = ops["sqrt"](torch.from_numpy(roots).to(device)).cpu().numpy()
            problems += _compare("square root of the trainer (float32)", got, want, (roots,))
        else:
            problems += _compare("numpy sqrt float64", np.sqrt(roots), want, (roots,))
    return problems + _check_constants(device, n, seed)


def _check_constants(device, n: int, seed: int) -> list[str]:
    """A float32 tensor times a Python float that is a float32 (as the trainer's constants are)."""
    a, _ = adversarial_pairs("mul", np.float32, n, seed + 1)
    problems = []
    for constant in (0.9, 0.1, 0.999, 0.001, 1e-8, 0.0625, 1.0 / 3.0):
        c = exact.f32(constant)
        want = np.array([_reference("mul", x, c, np.float32) for x in a.tolist()])
        got = (torch.from_numpy(a).to(device) * c).cpu().numpy()
        problems += _compare(f"torch mul by the constant {c!r}", got, want, (a, np.full_like(a, c)))
    return problems


@functools.cache
def machine_problems(device: str) -> tuple[str, ...]:
    """`check_arithmetic` at a size fit to run before every build (0.6 s on 2 cores), once per
    device and process."""
    return tuple(check_arithmetic(device, n=300))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netembench.zoo.rounding", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="device whose tensor arithmetic to check")
    parser.add_argument("-n", type=int, default=2000, help="adversarial cases per operation")
    args = parser.parse_args(argv)
    problems = check_arithmetic(args.device, args.n)
    for line in problems:
        print(line)
    print("arithmetic: correctly rounded" if not problems else f"arithmetic: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

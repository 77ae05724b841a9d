"""Population training speed and the price of machine-independent arithmetic, measured in one run.

Three trainers train the same models (same initialisation, data stream and hyper-parameters as the
poly-seed spec):
- `exact`: netembench's trainer (zoo 1.2.0): every operation exact or correctly rounded, so
  bit-identical on every CPU, GPU and thread count;
- `exact-1.1`: zoo 1.1.0's trainer, the same but with `torch.sqrt` in Adam (MKL's vector square
  root on CPU, not correctly rounded) and a division by a scalar: what the 1.2.0 fix costs;
- `blas`: zoo 1.0.0's trainer (float32 MKL batched matmuls, fused Adam), the reference whose
  rounding depends on the CPU: what machine-independent arithmetic costs.
They are timed in alternation over several rounds (the median is reported), so a machine whose
speed drifts affects all alike; the headline figures are ratios within one run and model-steps per
second. A per-model loop (`nn.Sequential`, autograd) can be timed with `--naive-models N`; it is
information, not a goal (its speed moved 5x between two runs on one machine). Also prints the
training memory per model; writes benchmarks/results/zoo.json.

    python benchmarks/bench_zoo.py --quick            # about 2 minutes on 2 CPU cores
    python benchmarks/bench_zoo.py --device cuda --models 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from netembench import __version__
from netembench.zoo import population, rng
from netembench.zoo.build import build_zoo
from netembench.zoo.population import (
    Arch,
    TrainConfig,
    init_population,
    polyval,
    train_one_reference,
    train_population,
    training_inputs,
    training_layout,
)


class Adam11(population.ElementwiseAdam):
    """Zoo 1.1.0's Adam step: `torch.sqrt` (not correctly rounded on CPU) and a scalar division."""

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr: float) -> None:
        self.beta_powers = (self.beta_powers[0] * self.betas[0], self.beta_powers[1] * self.betas[1])
        b1, b2 = self.betas
        step_size = lr / (1.0 - self.beta_powers[0])
        root_correction = (1.0 - self.beta_powers[1]) ** 0.5
        for p, g, m, v in zip(self.params, grads, self.exp_avg, self.exp_avg_sq):
            m.mul_(b1).add_(g * (1.0 - b1))
            v.mul_(b2).add_((g * g).mul_(1.0 - b2))
            denom = v.sqrt().div_(root_correction).add_(self.eps)
            p.sub_((m / denom).mul_(step_size))


def train_exact_11(arch: Arch, coef: torch.Tensor, keys: torch.Tensor, config: TrainConfig) -> None:
    with mock.patch.object(population, "ElementwiseAdam", Adam11):
        train_population(arch, coef, keys, config)
from netembench.zoo.spec import resolve_spec


def train_blas(arch: Arch, coef: torch.Tensor, keys: torch.Tensor, config: TrainConfig) -> None:
    """Zoo 1.0.0's training loop, for timing: float32 BLAS matmuls and torch's fused Adam, whose
    rounding depends on the CPU (the trained tensors are discarded)."""
    pop = init_population(arch, keys)
    coef = coef.to(device=keys.device, dtype=torch.float32)
    params = training_layout(pop)
    for p in params:
        p.grad = torch.zeros_like(p)
    opt = torch.optim.Adam(params, lr=config.lr, fused=True)
    w_in, b_in, *hidden, w_out, b_out = params
    relu_grad = torch.ops.aten.threshold_backward
    for step in range(config.steps):
        x = training_inputs(keys, step, config.batch_size)
        y = polyval(coef, x)
        acts = [torch.addcmul(b_in[:, None, :], x[:, :, None], w_in[:, None, 0, :]).clamp_(min=0)]
        for w, b in zip(hidden[0::2], hidden[1::2]):
            acts.append(torch.bmm(acts[-1], w).add_(b[:, None, :]).clamp_(min=0))
        out = torch.bmm(acts[-1], w_out[:, :, None])[..., 0].add_(b_out[:, None])
        g = out.sub_(y).mul_(2.0 / config.batch_size)
        torch.bmm(g[:, None, :], acts[-1], out=w_out.grad[:, None, :])
        torch.sum(g, 1, out=b_out.grad)
        g_act = g[:, :, None] * w_out[:, None, :]
        for i in range(len(hidden) // 2 - 1, -1, -1):
            w, b = hidden[2 * i], hidden[2 * i + 1]
            g_z = relu_grad(g_act, acts[i + 1], 0.0)
            torch.bmm(acts[i].transpose(1, 2), g_z, out=w.grad)
            torch.sum(g_z, 1, out=b.grad)
            g_act = torch.bmm(g_z, w.transpose(1, 2))
        g_z = relu_grad(g_act, acts[0], 0.0)
        torch.bmm(x[:, None, :], g_z, out=w_in.grad)
        torch.sum(g_z, 1, out=b_in.grad)
        for group in opt.param_groups:
            group["lr"] = config.lr_at(step)
        opt.step()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer steps, no zoo build")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", type=int, default=1000, help="vectorised population size")
    parser.add_argument("--steps", type=int, help="vectorised steps per round (default 300, quick 100)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds (median reported)")
    parser.add_argument("--naive-models", type=int, default=0, help="also time a per-model loop (information)")
    parser.add_argument("--naive-steps", type=int, default=300)
    parser.add_argument(
        "--memory-models", type=int, default=4000, help="population size for the memory figure"
    )
    parser.add_argument(
        "--build",
        default=None,
        help="also time building this spec (default poly-seed unless --quick; 'none')",
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "zoo.json"))
    args = parser.parse_args()

    device = torch.device(args.device)
    spec = resolve_spec("poly-seed")
    arch = Arch.parse(spec.splits[0].arch)
    steps = args.steps or (100 if args.quick else 300)
    tasks = spec.sample_tasks()
    coef = torch.as_tensor(tasks.coef[np.arange(args.models) % len(tasks)])
    keys = rng.model_keys(1, torch.arange(args.models)).to(device)
    config = TrainConfig(**{**spec.training.__dict__, "steps": steps})
    print(
        f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads; arch {arch.name}, "
        f"batch {config.batch_size}, {args.models} models x {steps} steps, {args.rounds} rounds"
    )
    trainers = {"exact": train_population, "exact-1.1": train_exact_11, "blas": train_blas}
    for fn in trainers.values():  # warm-up
        fn(arch, coef[:8], keys[:8], TrainConfig(**{**config.__dict__, "steps": 5}))

    seconds: dict[str, list[float]] = {k: [] for k in trainers}
    for _ in range(args.rounds):
        for name, fn in trainers.items():
            seconds[name].append(timed(lambda: fn(arch, coef, keys, config), device))
    rate = {k: args.models * steps / statistics.median(v) for k, v in seconds.items()}
    for k in seconds:
        print(
            f"{k:>9}: {rate[k]:,.0f} model-steps/s (median of {', '.join(f'{s:.2f}' for s in seconds[k])} s)"
        )
    result = {
        "benchmark": "zoo",
        "netembench": __version__,
        "torch": torch.__version__,
        "device": args.device,
        "device_name": torch.cuda.get_device_name()
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "arch": arch.name,
        "batch_size": config.batch_size,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": args.models,
        "steps": steps,
        "seconds": seconds,
        "model_steps_per_s": rate,
        "exact_over_blas_cost": rate["blas"] / rate["exact"],
        "fix_cost_over_1_1": rate["exact-1.1"] / rate["exact"],
    }
    print(f"exact/blas cost: {result['exact_over_blas_cost']:.2f}x the time of zoo 1.0.0's trainer")
    print(f"1.2.0 fix cost: {result['fix_cost_over_1_1']:.2f}x the time of zoo 1.1.0's trainer")

    if args.naive_models:
        cpu_coef, cpu_keys = coef.cpu(), keys.cpu()
        naive = []
        for _ in range(args.rounds):
            naive.append(
                timed(
                    lambda: [
                        train_one_reference(arch, cpu_coef[m], cpu_keys[m], config, steps=args.naive_steps)
                        for m in range(args.naive_models)
                    ],
                    torch.device("cpu"),
                )
            )
        naive_rate = args.naive_models * args.naive_steps / statistics.median(naive)
        result["naive"] = {
            "models": args.naive_models,
            "steps": args.naive_steps,
            "seconds": naive,
            "model_steps_per_s": naive_rate,
        }
        print(f"    naive: {naive_rate:,.0f} model-steps/s (one model at a time)")

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        train_population(arch, coef, keys, TrainConfig(**{**config.__dict__, "steps": 3}))
        per_model = (torch.cuda.max_memory_allocated() - base) / args.models
        capacity = torch.cuda.get_device_properties(device).total_memory
    else:
        m = args.memory_models
        more = torch.as_tensor(tasks.coef[np.arange(m) % len(tasks)])
        before = peak_rss_bytes()
        train_population(
            arch, more, rng.model_keys(1, torch.arange(m)), TrainConfig(**{**config.__dict__, "steps": 3})
        )
        per_model = max(peak_rss_bytes() - before, 0) / m
        capacity = 141e9
    result["memory"] = {
        "bytes_per_model": per_model,
        "models_in": capacity,
        "largest_population": int(capacity // per_model),
    }
    print(
        f"training memory: {per_model / 1024:.1f} KiB per model ({'measured on the GPU' if device.type == 'cuda' else 'CPU peak RSS growth'}); "
        f"{capacity / 1e9:.0f} GB hold {int(capacity // per_model):,} models of {arch.name} at batch {config.batch_size}"
    )

    build = args.build or (None if args.quick else "poly-seed")
    if build and build != "none":
        with tempfile.TemporaryDirectory() as tmp:
            result["build"] = {
                "zoo": build,
                "seconds": timed(
                    lambda: build_zoo(resolve_spec(build), Path(tmp) / "zoo", device=args.device, quiet=True),
                    device,
                ),
            }
        print(f"build {build} from nothing: {result['build']['seconds']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

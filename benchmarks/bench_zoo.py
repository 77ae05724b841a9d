"""Population training speed: the vectorised trainer against a plain per-model loop, in one run.

Both train the same models (same initialisation, same data stream, same hyper-parameters as the
poly-seed spec); the per-model loop (`nn.Sequential`, autograd, one model at a time) runs a few
models for a few hundred steps and is extrapolated. Prints model-steps per second for both and ends
with `vectorised/naive speedup: X`; writes benchmarks/results/zoo.json (or --out).

    python benchmarks/bench_zoo.py --quick            # < 2 minutes on 2 CPU cores
    python benchmarks/bench_zoo.py --device cuda --models 100000 --naive-models 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from netembench import __version__, rng
from netembench.build import build_zoo
from netembench.population import Arch, fit_rel_mse, train_one_reference, train_population
from netembench.spec import resolve_spec


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer models and steps, no zoo build")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", type=int, help="vectorised population size (default 1000)")
    parser.add_argument("--steps", type=int, help="vectorised steps (default: the spec's, quick 300)")
    parser.add_argument("--naive-models", type=int, default=3)
    parser.add_argument("--naive-steps", type=int, default=300)
    parser.add_argument("--build", default=None, help="also time building this spec from nothing (default: poly-seed unless --quick; 'none' to skip)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "zoo.json"))
    args = parser.parse_args()

    device = torch.device(args.device)
    spec = resolve_spec("poly-seed")
    arch = Arch.parse(spec.splits[0].arch)
    models = args.models or 1000
    steps = args.steps or (300 if args.quick else spec.training.steps)
    tasks = spec.sample_tasks()
    coef = torch.as_tensor(tasks.coef[np.arange(models) % len(tasks)])
    keys = rng.model_keys(1, torch.arange(models))
    config = spec.training.__class__(**{**spec.training.__dict__, "steps": steps})

    print(f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads; arch {arch.name}, batch {config.batch_size}")
    train_population(arch, coef[:8], keys[:8].to(device), config.__class__(**{**config.__dict__, "steps": 5}))  # warm-up
    sync(device)
    start = time.perf_counter()
    pop = train_population(arch, coef, keys.to(device), config)
    sync(device)
    vec_seconds = time.perf_counter() - start
    vec_rate = models * steps / vec_seconds
    fit = fit_rel_mse(pop, coef).numpy()
    print(f"vectorised: {models} models x {steps} steps in {vec_seconds:.2f} s = {vec_rate:,.0f} model-steps/s (median fit {np.median(fit):.1e})")

    result = {
        "benchmark": "zoo", "netembench": __version__, "torch": torch.__version__, "device": args.device,
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "arch": arch.name, "batch_size": config.batch_size,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "vectorised": {"models": models, "steps": steps, "seconds": vec_seconds, "model_steps_per_s": vec_rate},
    }
    if args.naive_models:
        start = time.perf_counter()
        for m in range(args.naive_models):
            train_one_reference(arch, coef[m], keys[m], config, steps=args.naive_steps)
        naive_seconds = time.perf_counter() - start
        naive_rate = args.naive_models * args.naive_steps / naive_seconds
        print(f"naive loop: {args.naive_models} models x {args.naive_steps} steps in {naive_seconds:.2f} s = {naive_rate:,.0f} model-steps/s")
        per_zoo = models * steps / naive_rate
        print(f"naive loop, extrapolated to the same {models} models x {steps} steps: {per_zoo:.0f} s")
        result["naive"] = {"models": args.naive_models, "steps": args.naive_steps, "seconds": naive_seconds, "model_steps_per_s": naive_rate}
        result["speedup"] = vec_rate / naive_rate
    build = args.build or (None if args.quick else "poly-seed")
    if build and build != "none":
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            build_zoo(resolve_spec(build), Path(tmp) / "zoo", device=args.device, quiet=True)
            result["build"] = {"zoo": build, "seconds": time.perf_counter() - start}
        print(f"build {build} from nothing: {result['build']['seconds']:.1f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if "speedup" in result:
        print(f"vectorised/naive speedup: {result['speedup']:.0f}")


if __name__ == "__main__":
    main()

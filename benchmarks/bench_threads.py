"""The exact trainer's throughput at 1 and 2 torch threads, on the cores as found and beside one
more CPU-bound process: the figures behind netembench's default thread count (`netembench.threads`).

Trains poly-seed's architecture and hyper-parameters on `--models` models for `--steps` steps,
alternating thread counts over several rounds (the median is reported), first as the machine is,
then with a `while True: pass` loop running beside it. Each condition records the load average
before it, since "as found" is idle only on a machine nobody else uses. Writes
benchmarks/results/threads.json.

    python benchmarks/bench_threads.py          # minutes on busy cores: 2 threads collapse there
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from netembench import __version__
from netembench.threads import idle_cores
from netembench.zoo import rng
from netembench.zoo.population import Arch, TrainConfig, train_population
from netembench.zoo.spec import resolve_spec


def measure(args: argparse.Namespace, counts: list[int]) -> dict[str, object]:
    """Model-steps per second of the exact trainer at each thread count (median of the rounds)."""
    spec = resolve_spec("poly-seed")
    arch = Arch.parse(spec.splits[0].arch)
    tasks = spec.sample_tasks()
    coef = torch.as_tensor(tasks.coef[np.arange(args.models) % len(tasks)])
    keys = rng.model_keys(1, torch.arange(args.models))
    config = TrainConfig(**{**spec.training.__dict__, "steps": args.steps})
    load = os.getloadavg()[0]
    train_population(arch, coef[:8], keys[:8], TrainConfig(**{**config.__dict__, "steps": 5}))  # warm-up
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(args.rounds):
        for n in counts:
            torch.set_num_threads(n)
            start = time.perf_counter()
            train_population(arch, coef, keys, config)
            seconds[n].append(time.perf_counter() - start)
    return {
        "load_average_before": round(load, 2),
        "netembench_would_start_with": idle_cores(),
        "seconds": {str(n): [round(s, 3) for s in v] for n, v in seconds.items()},
        "model_steps_per_s": {
            str(n): round(args.models * args.steps / statistics.median(v)) for n, v in seconds.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=600, help="population size (poly-seed's)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "threads.json"))
    args = parser.parse_args()
    counts = sorted({1, min(2, os.cpu_count() or 1)})
    conditions = {"as found": measure(args, counts)}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(2.0)  # let the loop take its share of the cores
        conditions["beside one busy loop"] = measure(args, counts)
    finally:
        busy.kill()
        busy.wait()
    for name, c in conditions.items():
        rates = ", ".join(f"{n} thread(s) {r:,} model-steps/s" for n, r in c["model_steps_per_s"].items())
        print(f"{name:<22} load {c['load_average_before']:>5}: {rates}")
    result = {
        "benchmark": "threads",
        "netembench": __version__,
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": args.models,
        "steps": args.steps,
        "rounds": args.rounds,
        "conditions": conditions,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

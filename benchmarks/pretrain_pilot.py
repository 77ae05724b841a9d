"""Pilot for the pretraining zoos: time per model and fit (relative MSE on the fine grid) per
architecture, step count and task kind, on a sample of pretraining tasks.

Usage: OMP_NUM_THREADS=1 python benchmarks/pretrain_pilot.py 1 1-16-16-1,1-32-32-1 1000,2000 96
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from netembench.zoo import rng
from netembench.zoo.population import Arch, TrainConfig, fit_rel_mse, train_population
from netembench.zoo.pretrain import KINDS, Pretrain1DFamily, Pretrain2DFamily


def main(dim: int, archs: list[str], steps: list[int], n: int) -> None:
    family = (Pretrain1DFamily if dim == 1 else Pretrain2DFamily)(n_tasks=n)
    tasks = family.sample(99)  # a pilot seed; no canonical exclusion needed to measure fits
    coef = torch.as_tensor(tasks.coef)
    keys = rng.model_keys(rng.key_from_text("pretrain-pilot"), torch.arange(n))
    batch = 32 if dim == 1 else 64
    for arch in archs:
        for s in steps:
            start = time.perf_counter()
            pop = train_population(Arch.parse(arch), coef, keys, TrainConfig(steps=s, batch_size=batch))
            took = time.perf_counter() - start
            fit = fit_rel_mse(pop, coef).numpy()
            per_kind = ", ".join(
                f"{KINDS[k]} {np.median(fit[tasks.family == k]):.1e}/{fit[tasks.family == k].max():.1e}"
                for k in range(len(KINDS))
            )
            print(
                f"{arch} steps {s} batch {batch}: {took / n * 1000:.1f} ms/model ({n * s / took:,.0f} model-steps/s); "
                f"fit median {np.median(fit):.1e} p99 {np.quantile(fit, 0.99):.1e} max {fit.max():.1e}; "
                f"misses 1e-2: {(fit > 1e-2).sum()}; by kind (median/max): {per_kind}",
                flush=True,
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2].split(","), [int(s) for s in sys.argv[3].split(",")], int(sys.argv[4]))

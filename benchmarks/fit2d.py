"""Choose the 2-D tracks' architecture and training length from a measured fit bar.

Trains 2-W-W-1 populations on `separated2d` tasks for a grid of widths, steps and batch sizes (the
exact trainer, as zoos are built) and prints the median and worst relative MSE on the 129 x 129
grid against issue #13's bar (median <= 1e-3, worst <= 1e-2), with the training time. Writes
`benchmarks/results/fit2d.json`.

    python benchmarks/fit2d.py [--tasks 10 --seeds 10]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from netembench.zoo import rng
from netembench.zoo.population import Arch, TrainConfig, fit_rel_mse, train_population
from netembench.zoo.tasks2d import Separated2DFamily

BAR_MEDIAN, BAR_WORST = 1e-3, 1e-2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 48, 64])
    parser.add_argument("--steps", type=int, nargs="+", default=[2000, 4000])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "fit2d.json"))
    args = parser.parse_args()
    tasks = Separated2DFamily(n_tasks=args.tasks, min_distance=0.15).sample(1)
    task_ids = torch.arange(args.tasks).repeat_interleave(args.seeds)
    coef = torch.as_tensor(tasks.coef[task_ids])
    keys = rng.model_keys(rng.key_from_text("fit2d"), torch.arange(len(task_ids)))
    rows = []
    for width in args.widths:
        for steps in args.steps:
            arch = Arch(width=width, depth=2, inputs=2)
            config = TrainConfig(steps=steps, batch_size=args.batch_size)
            start = time.perf_counter()
            pop = train_population(arch, coef, keys, config)
            seconds = time.perf_counter() - start
            fit = fit_rel_mse(pop, coef)
            row = {
                "arch": arch.name,
                "steps": steps,
                "batch_size": args.batch_size,
                "models": len(task_ids),
                "median": float(fit.median()),
                "worst": float(fit.max()),
                "meets_bar": bool(fit.median() <= BAR_MEDIAN and fit.max() <= BAR_WORST),
                "model_steps_per_s": len(task_ids) * steps / seconds,
            }
            rows.append(row)
            print(
                f"{row['arch']:>10} {steps:>5} steps: median {row['median']:.2e} worst {row['worst']:.2e} "
                f"{'meets' if row['meets_bar'] else 'misses'} the bar; {row['model_steps_per_s']:,.0f} model-steps/s",
                flush=True,
            )
    Path(args.out).write_text(json.dumps({"bar": [BAR_MEDIAN, BAR_WORST], "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

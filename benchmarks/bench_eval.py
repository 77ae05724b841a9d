"""Harness speed: probe-set throughput (closed-form gradients vs autograd, side by side, on the same
batch) and the wall time of `netembench eval baselines/grad_bins --zoo poly-seed` (zoo built if
missing). Writes benchmarks/results/eval.json (or --out).

    python benchmarks/bench_eval.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from netembench import __version__
from netembench.probes import forward_with_gradients
from netembench.registry import load_zoo

ROOT = Path(__file__).resolve().parent.parent


def autograd_probes(pop, x):
    """The reference: outputs and input-gradients by autograd, regions from activation patterns."""
    x = x.clone().requires_grad_()
    h, masks = x[..., None], []
    for i, (w, b) in enumerate(zip(pop.weights, pop.biases)):
        h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
        if i < len(pop.weights) - 1:
            masks.append(h > 0)
            h = torch.relu(h)
    (grad,) = torch.autograd.grad(h[..., 0].sum(), x)
    pattern = torch.cat(masks, -1)
    changed = (pattern[:, 1:] != pattern[:, :-1]).any(-1)
    region = torch.cat([torch.zeros_like(changed[:, :1]), changed], 1).long().cumsum(1)
    return h[..., 0].detach(), grad, region


def rate(fn, pop, x, repeats: int) -> float:
    fn(pop, x)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(pop, x)
    return repeats * len(pop) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "eval.json"))
    args = parser.parse_args()
    zoo = load_zoo("poly-seed", build_if_missing=True, device=args.device)
    group = zoo.groups("train")[0]
    pop = zoo.population(group).to(args.device)
    x = (torch.rand(len(pop), 64, device=args.device) * 2 - 1).sort(1).values
    closed, auto = rate(forward_with_gradients, pop, x, args.repeats), rate(autograd_probes, pop, x, args.repeats)
    print(f"probe sets ({len(pop)} models x 64 points, {group.arch.name}): closed form {closed:,.0f} models/s, "
          f"autograd {auto:,.0f} models/s, ratio {closed / auto:.1f}x")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "netembench.cli", "eval", str(ROOT / "baselines" / "grad_bins"), "--zoo", "poly-seed",
               "--out", str(Path(tmp) / "r.json"), "--quiet", "--device", args.device]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ})
        wall = time.perf_counter() - start
        inner = json.loads((Path(tmp) / "r.json").read_text())["timings"]["total_seconds"]
    print(f"netembench eval baselines/grad_bins --zoo poly-seed: {wall:.1f} s wall ({inner:.1f} s of evaluation, the rest start-up)")
    result = {
        "benchmark": "eval", "netembench": __version__, "torch": torch.__version__, "device": args.device,
        "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "probe_models_per_s": {"closed_form": closed, "autograd": auto, "ratio": closed / auto, "models": len(pop), "points": 64},
        "eval_grad_bins_poly_seed": {"wall_seconds": wall, "evaluation_seconds": inner},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

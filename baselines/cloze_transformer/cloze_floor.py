"""How low can the cloze error go? Floors of the masked-gradient NMSE on a zoo's test split.

    python baselines/cloze_transformer/cloze_floor.py --zoo poly-fine      # writes logs/cloze-floor-<zoo>.json

Same evaluation draws, masks and pooled NMSE as the harness, for predictors that are *given* more
than any embedder gets:
- `task_derivative`: the true derivative of the model's task polynomial at each masked point;
- `task_region_mean`: the same, averaged over the probe points of each linear region (the network's
  gradient is constant on a region, so this is the better oracle);
- `cubic_fit`: a least-squares cubic through the visible gradients (it knows the task degree).
A network's gradient is a staircase around the task's derivative, so even the oracles leave an
error; their ratio to neighbour interpolation bounds what a cloze model can reach.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from netembench.features import region_mean
from netembench.metrics import ClozeTally, reference_predictions
from netembench.probes import PROTOCOL_V1, draw_probes, evaluation_keys
from netembench.registry import load_zoo
from netembench.tasks import N_COEF

HERE = Path(__file__).resolve().parent


def task_derivative(coef: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d/dx of monomial polynomials `coef [B, N_COEF]` at `x [B, N]`."""
    powers = torch.arange(1, N_COEF, dtype=x.dtype)
    return (coef[:, None, 1:] * powers * x[..., None] ** (powers - 1)).sum(-1)


def cubic_fit(x: torch.Tensor, grad: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Least-squares cubic (Legendre basis) through the visible gradients, evaluated everywhere."""
    basis = torch.stack([torch.special.legendre_polynomial_p(x, k) for k in range(4)], -1)
    weighted = basis * (~hidden)[..., None]
    coef = torch.linalg.solve(weighted.transpose(1, 2) @ basis, weighted.transpose(1, 2) @ grad[..., None])
    return (basis @ coef)[..., 0]


def floors(zoo_name: str, cache: str | None = None) -> dict:
    zoo = load_zoo(zoo_name, cache=cache, build_if_missing=True)
    coefs = torch.as_tensor(zoo.tasks.coef, dtype=torch.float64)
    names = ("interp", "task_derivative", "task_region_mean", "cubic_fit")
    pooled: dict[str, list[float]] = {name: [] for name in names}
    for draw in range(PROTOCOL_V1.n_draws):
        tallies = {name: ClozeTally.empty() for name in names}
        for group in zoo.groups("test"):
            pop, ids = zoo.population(group), torch.as_tensor(group.table["model_id"])
            probes = draw_probes(pop, ids, evaluation_keys(zoo.fingerprint, draw, pop))
            x, truth, hidden = probes.x.double(), probes.grad.double(), probes.mask
            derivative = task_derivative(coefs[torch.as_tensor(group.table["task_id"])], x)
            predictions = {
                "interp": reference_predictions(x, truth.masked_fill(hidden, 0.0), hidden)["interp"],
                "task_derivative": derivative,
                "task_region_mean": region_mean(derivative, probes.region),
                "cubic_fit": cubic_fit(x, truth, hidden),
            }
            for name, pred in predictions.items():
                tallies[name].add(pred, truth, hidden, group.table["model_id"])
        for name in names:
            pooled[name].append(tallies[name].nmse()[0])
    means = {name: float(np.mean(v)) for name, v in pooled.items()}
    return {
        "zoo": zoo.spec.ref,
        "fingerprint": zoo.fingerprint,
        "split": "test",
        "draws": PROTOCOL_V1.n_draws,
        "pooled_nmse": means,
        "ratio_to_interp": {name: means[name] / means["interp"] for name in names},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--out", help="JSON path (default: logs/cloze-floor-<zoo>.json)")
    args = parser.parse_args(argv)
    result = floors(args.zoo, args.cache_dir)
    out = Path(args.out or HERE / "logs" / f"cloze-floor-{result['zoo']}.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    for name, ratio in result["ratio_to_interp"].items():
        print(f"{name:18s} pooled NMSE {result['pooled_nmse'][name]:.4f}   {ratio:.2f}x interpolation")


if __name__ == "__main__":
    main()

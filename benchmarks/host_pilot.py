"""Pilot of the host tracks' embedders: probe accuracy of the gradient integration and of the
outputs along a component's projection, at N points, profiles read on [-lim, lim], over a few
pilot draws (not the harness's draws). Used to choose the profile grid and N (benchmarks/host_pilot.md).

    python benchmarks/host_pilot.py <host zoo folder> <N> <lim> [draws]
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import torch

from netembench.eval.features import integrate, resample
from netembench.eval.hostfeatures import component_direction, projected_inputs, sorted_along
from netembench.eval.metrics import probe_correct
from netembench.eval.probes import draw_probes, evaluation_keys
from netembench.eval.tracks import TRACKS
from netembench.zoo.store import Zoo

zoo = Zoo(sys.argv[1]); n = int(sys.argv[2]); lim = float(sys.argv[3]); draws = int(sys.argv[4]) if len(sys.argv) > 4 else 1
proto = dataclasses.replace(TRACKS["host-fine"].protocol, n_points=n)
grid = torch.linspace(-lim, lim, 64)
def feats(p):
    d = component_direction(p.x, p.grad); t, dudt = projected_inputs(p.x, d)
    slope = (p.grad * d[:, None, :]).sum(-1) * dudt[:, None]
    ts, sl, y = sorted_along(t, slope, p.y)
    f = resample(ts, integrate(ts, sl), grid); f = f - f.mean(1, keepdim=True)
    o = resample(ts, y, grid); o = o - o.mean(1, keepdim=True)
    return {"integ": f.numpy(), "out": o.numpy()}
accs = {"integ": [], "out": []}
for draw in range(draws):
    res = {}
    for split in ("train", "test"):
        g = zoo.groups(split)[0]; pop = zoo.population(g)
        p = draw_probes(pop, torch.as_tensor(g.table["model_id"]), evaluation_keys("pilot", draw, pop), proto)
        res[split] = (feats(p), g.table["task_id"])
    for k in accs:
        accs[k].append(probe_correct(res["train"][0][k], res["train"][1], res["test"][0][k], res["test"][1]).mean())
print(f"N={n} grid +-{lim}: " + "  ".join(f"{k} {np.mean(v):.3f}" for k, v in accs.items()))

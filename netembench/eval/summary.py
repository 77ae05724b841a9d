"""A track's scores over evaluation draws, summarised as a result file records them."""

from __future__ import annotations

import numpy as np

from netembench.eval import metrics as M
from netembench.eval.tracks import Track


def summarise(
    track: Track,
    has_unseen: bool,
    width: int | None,
    draws: dict[str, list],
    per_model: dict[str, list[np.ndarray]],
    test_table: dict,
) -> dict:
    """`{"metrics", "info"}`: every score's mean, std and draws, the main score's bootstrap interval
    over test models (grouped by architecture on per-architecture tracks), and notes on what was
    omitted."""
    out: dict = {}
    arch_keys = [k for k in draws if k.startswith("arch_probe_accuracy/")]
    for k, v in draws.items():
        if k == "cloze_left_out" or k in arch_keys or k.startswith("budget/"):
            continue
        out[k] = M.summary(v)
    out["budget_curve"] = {
        k.split("/", 1)[1]: M.summary(v) for k, v in draws.items() if k.startswith("budget/")
    }
    if arch_keys:
        out["arch_probe_accuracy"] = {k.split("/", 1)[1]: M.summary(draws[k]) for k in arch_keys}
        main_draws = np.mean([draws[k] for k in arch_keys], axis=0).tolist()
        groups = test_table["arch"]
        out["main_score"] = M.summary(
            main_draws, M.bootstrap_ci(np.mean(per_model["probe_accuracy"], axis=0), groups)
        )
    else:
        main = track.main
        out["main_score"] = M.summary(draws[main], M.bootstrap_ci(np.mean(per_model[main], axis=0)))
        out[main] = {**out[main], "ci95": out["main_score"]["ci95"]}
    info = {"main_metric": track.main, "embedding_dim": width}
    if "cluster_ami" not in draws:
        info["clustering"] = "omitted: the test split has one model per task"
    if has_unseen and "unseen_cluster_ami" not in draws:
        info["unseen_clustering"] = "omitted: the unseen split has one model per task"
    info["twins"] = (
        "each test model's functional twin (hidden units permuted, rescaled by factors in "
        "[1/4, 4]) probed at its inputs; same-task distances to "
        + ("other test models" if "cluster_ami" in draws else "train models (one test model per task)")
    )
    if "cloze_left_out" in draws:
        info["cloze_models_left_out_one_region"] = int(draws["cloze_left_out"][0])
    return {"metrics": out, "info": info}

"""Figures for the model card: training curves, a 2-D PCA of test-split embeddings coloured by task,
and predicted vs true gradients for a few test models with the masked regions shaded.

    python baselines/cloze_transformer/plots.py --zoo poly-seed --out baselines/cloze_transformer/figures
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from embedder import load_checkpoint  # noqa: E402

from netembench.probes import draw_probes, evaluation_keys  # noqa: E402
from netembench.registry import load_zoo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True)
    parser.add_argument("--out", default=str(HERE / "figures"))
    args = parser.parse_args()
    zoo = load_zoo(args.zoo)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_checkpoint(HERE / "checkpoints" / f"{zoo.spec.ref}.safetensors")
    log = json.loads((HERE / "logs" / f"{zoo.spec.ref}.json").read_text())

    titles = {"cloze": "cloze loss (NMSE on masked points)", "nce": "InfoNCE loss", "decode": "CLS decoding loss (NMSE)"}
    keys = [k for k in titles if k in log["train"][0]]
    fig, ax = plt.subplots(1, len(keys) + 1, figsize=(4 * len(keys) + 4, 3.5))
    for key, axis in zip(keys, ax):
        axis.plot([r["step"] for r in log["train"]], [r[key] for r in log["train"]], label="train", lw=0.8)
        axis.plot([r["step"] for r in log["validation"]], [r[key] for r in log["validation"]], "o-", label="validation")
        axis.set(title=titles[key], xlabel="step", yscale="log")
        axis.legend()
    scored = [r for r in log["validation"] if "probe_accuracy" in r]
    ax[-1].plot([r["step"] for r in scored], [r["probe_accuracy"] for r in scored], "o-", color="tab:green")
    ax[-1].set(title="validation probe accuracy", xlabel="step", ylim=(0, 1))
    fig.suptitle(f"cloze_transformer on {zoo.spec.ref}")
    fig.tight_layout()
    fig.savefig(out / f"{zoo.spec.name}-training.png", dpi=100)
    plt.close(fig)

    group = zoo.groups("test")[0]
    ids = torch.as_tensor(group.table["model_id"])
    pop = zoo.population(group)
    probes = draw_probes(pop, ids, evaluation_keys(zoo.fingerprint, 0, pop))
    with torch.no_grad():
        emb = model.embed(probes.x, probes.grad, torch.zeros_like(probes.mask)).numpy()
        pred = model.cloze(probes.x, probes.grad.masked_fill(probes.mask, 0.0), probes.mask, probes.region).numpy()
    centred = emb - emb.mean(0)
    coords = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    fig, ax = plt.subplots(figsize=(6, 5))
    tasks = group.table["task_id"]
    sc = ax.scatter(coords[:, 0], coords[:, 1], c=tasks, cmap="tab10" if tasks.max() < 10 else "viridis", s=12)
    ax.set(title=f"{zoo.spec.ref}: test embeddings (PCA), coloured by task", xlabel="PC 1", ylabel="PC 2")
    fig.colorbar(sc, label="task id")
    fig.tight_layout()
    fig.savefig(out / f"{zoo.spec.name}-embeddings.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(2, 2, figsize=(10, 6))
    for axis, i in zip(axes.flat, np.linspace(0, len(ids) - 1, 4).astype(int)):
        x, m = probes.x[i].numpy(), probes.mask[i].numpy()
        for j in np.flatnonzero(m):
            axis.axvspan(x[max(j - 1, 0)] if j else -1, x[j], color="grey", alpha=0.15, lw=0)
        axis.step(x, probes.grad[i].numpy(), where="mid", color="black", lw=1.5, label="true dy/dx")
        axis.plot(x[m], pred[i][m], "o", color="tab:red", ms=4, label="predicted (masked)")
        axis.set_title(f"model {int(ids[i])}, task {int(tasks[i])}", fontsize=9)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("cloze predictions on masked regions (shaded)")
    fig.tight_layout()
    fig.savefig(out / f"{zoo.spec.name}-cloze.png", dpi=100)
    plt.close(fig)
    print(f"wrote figures to {out}")


if __name__ == "__main__":
    main()

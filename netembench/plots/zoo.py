"""Figures of a zoo (the research note's priorities 1 and 4): its tasks, a few models' fits, and a
model's piecewise-constant gradient with its region boundaries against the true derivative. 2-D
zoos: `plots2d`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.polynomial import polynomial as P

from netembench.eval.probes import forward_with_gradients
from netembench.zoo.host import is_host_family
from netembench.zoo.store import Zoo
from netembench.zoo.tasks import GRID, evaluate


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("plots need matplotlib: pip install 'netembench[plots]'") from None
    return plt


def plot_zoo(zoo: Zoo, out: str | Path, n_models: int = 6) -> list[Path]:
    """Write tasks.png, fits.png and gradients.png into `out`; return their paths."""
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = zoo.tasks
    if is_host_family(zoo.spec.tasks):  # components of host networks
        from netembench.plots.host import plot_host_zoo

        return plot_host_zoo(plt, zoo, out)
    if tasks.dim == 2:
        from netembench.plots.zoo2d import plot_zoo_2d

        return plot_zoo_2d(plt, zoo, out)
    values = evaluate(tasks.coef, GRID)
    paths = []

    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("tab10" if tasks.family.max() < 10 else "viridis")
    for t in range(len(tasks)):
        colour = cmap(
            tasks.family[t] % 10 if tasks.family.max() < 10 else tasks.family[t] / max(1, tasks.family.max())
        )
        ax.plot(
            GRID,
            values[t],
            color=colour,
            lw=0.8,
            ls="--" if tasks.unseen[t] else "-",
            alpha=0.9 if len(tasks) <= 60 else 0.3,
        )
    ax.set(
        title=f"{zoo.spec.ref}: {len(tasks)} tasks (dashed: unseen); min RMS distance {tasks.min_distance:.3f}",
        xlabel="x",
        ylabel="p(x)",
    )
    paths.append(_save(fig, out / "tasks.png"))

    group = zoo.groups("test")[0]
    rows = np.linspace(0, len(group) - 1, n_models).astype(int)
    pop = zoo.population(group, rows)
    grid = torch.as_tensor(GRID, dtype=torch.float32).expand(len(rows), -1).contiguous()
    y, grad, region = forward_with_gradients(pop, grid)
    cols = 3
    fig, axes = plt.subplots(int(np.ceil(len(rows) / cols)), cols, figsize=(11, 6), squeeze=False)
    for ax, i in zip(axes.flat, range(len(rows))):
        task = int(group.table["task_id"][rows[i]])
        ax.plot(GRID, values[task], color="black", lw=2, label="task")
        ax.plot(GRID, y[i].numpy(), color="tab:orange", lw=1, label="model")
        ax.set_title(
            f"model {group.table['model_id'][rows[i]]} (task {task}), rel. MSE {group.table['train_rel_mse'][rows[i]]:.1e}",
            fontsize=8,
        )
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{zoo.spec.ref}: test models ({group.arch.name}) against their tasks")
    paths.append(_save(fig, out / "fits.png"))

    fig, ax = plt.subplots(figsize=(8, 4.5))
    task = int(group.table["task_id"][rows[0]])
    ax.plot(
        GRID, P.polyval(GRID, P.polyder(tasks.coef[task])), color="black", lw=2, label="p'(x) of the task"
    )
    ax.plot(
        GRID,
        grad[0].numpy(),
        color="tab:blue",
        lw=1,
        drawstyle="steps-mid",
        label="model dy/dx (closed form)",
    )
    bounds = GRID[1:][np.diff(region[0].numpy()) > 0]
    for b in bounds:
        ax.axvline(b, color="grey", lw=0.4, alpha=0.6)
    ax.set(
        title=f"model {group.table['model_id'][rows[0]]}: {int(region[0].max()) + 1} linear regions on [-1, 1] (grey: boundaries)",
        xlabel="x",
        ylabel="dy/dx",
    )
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "gradients.png"))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path

"""Figures of a zoo (the research note's priorities 1 and 4): its tasks, a few models' fits, and a
model's piecewise-constant gradient with its region boundaries against the true derivative. 2-D
zoos: `zoo2d`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.polynomial import polynomial as P

from netembench.eval.probes import forward_with_gradients
from netembench.plots.figure import pyplot, save
from netembench.plots.host import plot_host_zoo
from netembench.plots.zoo2d import plot_zoo_2d
from netembench.zoo.host import is_host_family
from netembench.zoo.store import Zoo
from netembench.zoo.tasks import GRID, evaluate


def plot_zoo(zoo: Zoo, out: str | Path, n_models: int = 6) -> list[Path]:
    """Write tasks.png, fits.png and gradients.png into `out`; return their paths."""
    plt = pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if is_host_family(zoo.spec.tasks):  # components of host networks
        return plot_host_zoo(plt, zoo, out)
    if zoo.tasks.dim == 2:
        return plot_zoo_2d(plt, zoo, out)
    group = zoo.groups("test")[0]
    rows = np.linspace(0, len(group) - 1, n_models).astype(int)
    return [
        save(tasks_figure(plt, zoo), out / "tasks.png"),
        save(fits_figure(plt, zoo, group, rows), out / "fits.png"),
        save(gradient_figure(plt, zoo, group, rows[0]), out / "gradients.png"),
    ]


def tasks_figure(plt, zoo: Zoo):
    """Every task of a 1-D zoo, coloured by family (dashed: unseen)."""
    tasks = zoo.tasks
    values = evaluate(tasks.coef, GRID)
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
    return fig


def fits_figure(plt, zoo: Zoo, group, rows: np.ndarray):
    """A few models of `group` against their tasks."""
    values = evaluate(zoo.tasks.coef, GRID)
    pop = zoo.population(group, rows)
    grid = torch.as_tensor(GRID, dtype=torch.float32).expand(len(rows), -1).contiguous()
    y, _, _ = forward_with_gradients(pop, grid)
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
    return fig


def gradient_figure(plt, zoo: Zoo, group, row: int):
    """One model's gradient in closed form, its region boundaries, and the task's derivative."""
    pop = zoo.population(group, np.array([row]))
    grid = torch.as_tensor(GRID, dtype=torch.float32)[None].contiguous()
    _, grad, region = forward_with_gradients(pop, grid)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    task = int(group.table["task_id"][row])
    ax.plot(
        GRID, P.polyval(GRID, P.polyder(zoo.tasks.coef[task])), color="black", lw=2, label="p'(x) of the task"
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
        title=f"model {group.table['model_id'][row]}: {int(region[0].max()) + 1} linear regions on [-1, 1] (grey: boundaries)",
        xlabel="x",
        ylabel="dy/dx",
    )
    ax.legend(fontsize=8)
    return fig

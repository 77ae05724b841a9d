"""Figures of a 2-D zoo: its tasks as contour maps, and a model's gradient field with its linear
regions beside its task's true gradient field (the research note's vector fields)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from netembench.eval.probes import forward_with_gradients
from netembench.plots.figure import save
from netembench.zoo import tasks2d
from netembench.zoo.store import Zoo


def _grid(n: int) -> np.ndarray:
    side = np.linspace(-1.0, 1.0, n)
    return np.stack(np.meshgrid(side, side, indexing="ij"), -1)  # [n, n, 2]; [i, j] = (x1_i, x2_j)


def task_gradients(coef: np.ndarray, points: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """The true gradient of one task at `points [..., 2]` (central differences of the cubic: exact
    to ~1e-9)."""
    e = np.eye(2) * h
    return np.stack(
        [
            (tasks2d.evaluate(coef, points + e[k]) - tasks2d.evaluate(coef, points - e[k])) / (2 * h)
            for k in range(2)
        ],
        -1,
    )


def contour_panels(axes, coef: np.ndarray, titles: list[str], n: int = 65) -> None:
    """One contour map per task on `axes`."""
    pts = _grid(n)
    for ax, c, title in zip(axes, coef, titles):
        v = tasks2d.evaluate(c, pts)
        ax.contourf(pts[..., 0], pts[..., 1], v, levels=12, cmap="RdBu_r")
        ax.contour(pts[..., 0], pts[..., 1], v, levels=12, colors="k", linewidths=0.3)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")


def plot_zoo_2d(plt, zoo: Zoo, out: Path) -> list[Path]:
    """tasks.png (contour maps) and gradients.png (a test model's field and regions vs its task's)."""
    tasks = zoo.tasks
    shown = min(len(tasks), 20)
    cols = 5
    fig, axes = plt.subplots(
        int(np.ceil(shown / cols)), cols, figsize=(11, 2.3 * np.ceil(shown / cols)), squeeze=False
    )
    titles = [
        f"task {t} (family {tasks.family[t]}){' unseen' if tasks.unseen[t] else ''}" for t in range(shown)
    ]
    contour_panels(axes.flat, tasks.coef[:shown], titles)
    for ax in list(axes.flat)[shown:]:
        ax.axis("off")
    fig.suptitle(
        f"{zoo.spec.ref}: {len(tasks)} tasks (first {shown}); min RMS distance {tasks.min_distance:.3f}"
    )
    paths = [save(fig, out / "tasks.png")]

    group = zoo.groups("test")[0]
    pop = zoo.population(group, np.array([0]))
    task = int(group.table["task_id"][0])
    fine = _grid(201)
    _, grad, region = forward_with_gradients(
        pop, torch.as_tensor(fine.reshape(1, -1, 2), dtype=torch.float32)
    )
    regions = region[0].numpy().reshape(201, 201)
    arrows = _grid(17)
    _, model_grad, _ = forward_with_gradients(
        pop, torch.as_tensor(arrows.reshape(1, -1, 2), dtype=torch.float32)
    )
    model_grad = model_grad[0].numpy().reshape(17, 17, 2)
    true_grad = task_gradients(tasks.coef[task], arrows)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2))
    shuffled = np.random.default_rng(0).permutation(int(regions.max()) + 1)[regions]
    left.imshow(
        shuffled.T, origin="lower", extent=(-1, 1, -1, 1), cmap="tab20", alpha=0.45, interpolation="nearest"
    )
    left.quiver(arrows[..., 0], arrows[..., 1], model_grad[..., 0], model_grad[..., 1], color="tab:blue")
    left.set_title(
        f"model {group.table['model_id'][0]} ({group.arch.name}): dy/dx and its "
        f"{int(regions.max()) + 1} linear regions on a 201² grid",
        fontsize=9,
    )
    right.contourf(
        arrows[..., 0],
        arrows[..., 1],
        tasks2d.evaluate(tasks.coef[task], arrows),
        levels=12,
        cmap="RdBu_r",
        alpha=0.5,
    )
    right.quiver(arrows[..., 0], arrows[..., 1], true_grad[..., 0], true_grad[..., 1], color="black")
    right.set_title(f"task {task}: its true gradient field over its contour map", fontsize=9)
    for ax in (left, right):
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), xlabel="x1", ylabel="x2", aspect="equal")
    paths.append(save(fig, out / "gradients.png"))
    return paths


def plot_samplers(plt, path: Path, n: int = 10, seed: int = 0) -> Path:
    """docs/tasks2d.png: tasks of the naive sampler (independent monomial coefficients) above those
    of the orthonormal one the families use, with the share of variance a plane explains."""
    rng = np.random.default_rng(seed)
    rows = [("naive", tasks2d.naive_polynomial), ("orthonormal (used)", tasks2d.orthonormal_polynomial)]
    fig, axes = plt.subplots(2, n, figsize=(1.6 * n, 3.8))
    for r, (label, draw) in enumerate(rows):
        coef = np.stack([draw(rng) for _ in range(n)])
        contour_panels(axes[r], coef, [f"plane {p:.0%}" for p in tasks2d.plane_share(coef)])
        axes[r][0].set_ylabel(label, fontsize=9)
    fig.suptitle("2-D tasks from two samplers (share of each task's variance a tilted plane explains)")
    return save(fig, path)

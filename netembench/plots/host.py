"""Figures of a host zoo (DESIGN §16): for one test host, the distribution of its stem's
activations (2 principal components), each component's function along its projection against its
task, and the gradient field each component presents in activation space (projected on the same
2 principal components)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from netembench.eval.hostprobes import canonical_component
from netembench.eval.probes import forward_with_gradients
from netembench.zoo.build import model_keys
from netembench.zoo.host import host_inputs, host_normal, stem_forward
from netembench.zoo.hostbuild import host_layout, hosts_for
from netembench.zoo.population import Arch, polyval
from netembench.zoo.store import Zoo

POINTS = 2000


def host_in_test_split(zoo: Zoo, index: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the table rows of one test host's components `[K]`, the test split's table)."""
    table = zoo.table("test")
    rows = np.arange(len(table["model_id"]))
    layout = host_layout(table, rows, zoo.spec.tasks.components, zoo.spec.seed)
    return layout[index], table


def plot_host_zoo(plt, zoo: Zoo, out: Path) -> list[Path]:
    """Write host.png (activations, components against tasks, gradient fields) into `out`."""
    members, table = host_in_test_split(zoo)
    group = next(g for g in zoo.groups("test"))
    pop = zoo.population(group, members)
    arch = Arch.parse(str(table["arch"][members[0]]))
    keys = model_keys(zoo.spec, {k: np.asarray(v) for k, v in table.items()})
    host_keys, hosts = hosts_for(zoo.spec.tasks, arch, members[None, :], keys)
    z = host_normal(host_keys, POINTS, arch.inputs, offset=1 << 43)
    t = host_inputs(hosts, z)[0]  # [K, N]
    stem_w, stem_b, component = canonical_component(pop)
    x = stem_forward(stem_w, stem_b, z.expand(len(members), -1, -1))
    y, grad, _ = forward_with_gradients(component, x)
    xs = x[0].double().numpy()
    centred = xs - xs.mean(0)
    pcs = np.linalg.svd(centred, full_matrices=False)[2][:2]  # [2, W]
    xy = centred @ pcs.T
    k = len(members)
    fig, axes = plt.subplots(2, k + 1, figsize=(4 * (k + 1), 8))
    axes[0, 0].scatter(xy[:, 0], xy[:, 1], s=2, alpha=0.4)
    axes[0, 0].set_title(f"stem activations (PC 1-2), {float((xs == 0).mean()):.0%} zeros")
    axes[1, 0].hist(xs.reshape(-1), bins=60, color="grey")
    axes[1, 0].set_title("activation values (all units)")
    coef = torch.as_tensor(zoo.tasks.coef[table["task_id"][members]], dtype=torch.float32)
    target = polyval(coef, t.clamp(-1, 1)).numpy()
    for j in range(k):
        ax = axes[0, j + 1]
        order = np.argsort(t[j].numpy())
        g = y[j].numpy() - y[j].numpy().mean() + target[j].mean()
        ax.plot(t[j].numpy()[order], target[j][order], "k-", lw=2, label=f"task {table['task_id'][members[j]]}")
        ax.scatter(t[j].numpy(), g, s=2, c="tab:red", label="component (mean-matched)")
        ax.set_xlabel("projection t")
        ax.set_title(f"component {j}: model {table['model_id'][members[j]]}")
        ax.legend(fontsize=7)
        field = grad[j].double().numpy() @ pcs.T
        sub = slice(0, POINTS, 8)
        axes[1, j + 1].quiver(xy[sub, 0], xy[sub, 1], field[sub, 0], field[sub, 1], angles="xy", width=0.003)
        axes[1, j + 1].set_title(f"component {j}: gradient field (PC 1-2)")
    fig.suptitle(f"{zoo.spec.ref}: one test host (K = {k} components, trained on their sum only)")
    fig.tight_layout()
    path = out / "host.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]

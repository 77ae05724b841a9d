"""Building host zoos: which components share a host, and training each architecture's hosts.

`build.py` calls `train_host_rows` for specs whose task family is a host family (DESIGN §16). A
row of the model table is one component (a task, a host seed); the components of one (split,
seed) are grouped into hosts of K distinct tasks by `host.host_assignment`. A host's key is the
key of its first component (lowest model id), so a private salt reaches hosts as it reaches models.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from netembench.zoo import rng
from netembench.zoo.host import HostFamily, Hosts, host_assignment, init_hosts
from netembench.zoo.hosttrain import host_fit, train_hosts
from netembench.zoo.population import Arch, Population, TrainConfig


def host_layout(models: dict[str, np.ndarray], rows: np.ndarray, components: int, seed: int) -> np.ndarray:
    """The rows (indices into the table) in training order, host-major: `[H, K]`, each host's
    components by model id."""
    sub = {k: v[rows] for k, v in models.items()}
    host = host_assignment(sub, components, rng.key_from_text(f"netembench-zoo-seed:{seed}"))
    order = np.lexsort((sub["model_id"], host))
    return rows[order].reshape(-1, components)


def hosts_for(
    family: HostFamily, arch: Arch, layout: np.ndarray, keys: torch.Tensor
) -> tuple[torch.Tensor, Hosts]:
    """(host keys `[H]`, the hosts' stems and projections) of a layout from `host_layout`."""
    host_keys = keys[torch.as_tensor(layout[:, 0])]
    return host_keys, init_hosts(host_keys, family.components, arch.width, arch.inputs, family)


def train_host_rows(
    family: HostFamily,
    seed: int,
    config: TrainConfig,
    arch: Arch,
    coef_of_task: np.ndarray,
    models: dict[str, np.ndarray],
    rows: np.ndarray,
    keys: torch.Tensor,
    device: torch.device,
    progress: Callable[[int], None] | None = None,
) -> tuple[Population, np.ndarray]:
    """Train the hosts of `rows` (one architecture) and return the stored components in the order
    of `rows`, with their fits (`hosttrain.host_fit`)."""
    layout = host_layout(models, rows, family.components, seed)
    flat = layout.reshape(-1)
    coef = torch.as_tensor(coef_of_task[models["task_id"][flat]])
    host_keys = keys[torch.as_tensor(layout[:, 0])].to(device)
    stored = train_hosts(
        arch, coef.to(device), keys[torch.as_tensor(flat)].to(device), host_keys, config, family, progress
    )
    hosts = init_hosts(host_keys, family.components, arch.width, arch.inputs, family)
    fit = host_fit(stored, hosts, host_keys, coef.to(device)).cpu().to(torch.float64).numpy()
    position = np.searchsorted(rows, flat)  # rows are increasing: table order within the arch
    back = np.empty(len(flat), dtype=np.int64)
    back[position] = np.arange(len(flat))
    return stored.select(torch.as_tensor(back, device=device)).to("cpu"), fit[back]

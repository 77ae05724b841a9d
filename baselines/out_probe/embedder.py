"""out_probe: the model's outputs resampled at 64 fixed points ("vanilla probing"). Reads outputs,
not gradients: an upper reference for what the gradient view loses."""

from __future__ import annotations

from netembench.features import fixed_grid, resample


class OutProbe:
    name = "out_probe"
    reads = frozenset({"y"})

    def embed(self, batch):
        return resample(batch.x, batch.y, fixed_grid(64, batch.x.device))


def load_embedder():
    return OutProbe()

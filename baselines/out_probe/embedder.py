"""out_probe: the model's outputs resampled at 64 fixed points ("vanilla probing"; in 2-D, fitted by
least squares on a 13 x 13 bilinear grid). Reads outputs, not gradients: an upper reference for what
the gradient view loses."""

from __future__ import annotations

from netembench.features import fixed_grid, resample, value_grid


class OutProbe:
    name = "out_probe"
    reads = frozenset({"y"})
    protocols = frozenset({1, 2})

    def embed(self, batch):
        if batch.x.dim() == 3:
            return value_grid(batch.x, batch.y)
        return resample(batch.x, batch.y, fixed_grid(64, batch.x.device))


def load_embedder():
    return OutProbe()

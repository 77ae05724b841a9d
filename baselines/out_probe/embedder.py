"""out_probe: the model's outputs resampled at 64 fixed points ("vanilla probing"; in 2-D, fitted by
least squares on a 9 x 9 bilinear grid: 0.94 on poly2d-fine at N = 128 and a 1 s probe fit, where
13 x 13 nodes reached 0.96 with fits of up to 100 s). Reads outputs, not gradients: an upper reference for what
the gradient view loses."""

from __future__ import annotations

from netembench.features import fixed_grid, resample, value_grid


class OutProbe:
    name = "out_probe"
    reads = frozenset({"y"})
    protocols = frozenset({1, 2})

    def embed(self, batch):
        if batch.x.dim() == 3:
            return value_grid(batch.x, batch.y, nodes=9)
        return resample(batch.x, batch.y, fixed_grid(64, batch.x.device))


def load_embedder():
    return OutProbe()

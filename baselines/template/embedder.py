"""template: a complete, minimal submission to copy. It passes evaluation as it is.

Copy this folder to `submissions/<your_name>/`, rename the embedder, replace `embed`, then run
`netembench eval submissions/<your_name> --zoo all`. See SUBMITTING.md.
"""

from __future__ import annotations

import torch

from netembench import ProbeBatch
from netembench.eval.features import fixed_grid, resample


class Template:
    name = "template"  # unique on the leaderboard: letters, digits, '_', '-'
    reads = frozenset({"grad"})  # what embed() uses, of {"grad", "y", "weights"}; the rest arrive as None
    supervised = False  # True if training used task ids, families or coefficients

    def embed(self, batch: ProbeBatch) -> torch.Tensor:
        """[B, D] float embeddings from a batch of probe sets (batch.x, batch.grad: [B, N], x sorted)."""
        slopes = resample(batch.x, batch.grad, fixed_grid(32, batch.x.device))  # gradients on a fixed grid
        return torch.cat([slopes, slopes.abs().mean(1, keepdim=True)], dim=1)


def load_embedder() -> Template:
    return Template()

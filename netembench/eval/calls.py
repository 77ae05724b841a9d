"""Calls into a submission, and the checks on what each call returns (harness 1.3).

Every embedding is checked before it is scored: its shape, dtype, width (at most `MAX_WIDTH`, the
same on every call), size per batch (`BATCH_BYTES`), finiteness and magnitude (`MAX_ABS`). A sample
of probe sets and their embeddings is kept and embedded again at the end, in a fresh worker: the
embeddings must be functions of their probe sets (`consistency`).
"""

from __future__ import annotations

import numpy as np
import torch

from netembench.eval import metrics as M
from netembench.eval.consistency import Recheck
from netembench.eval.embedders import BATCH_BYTES, MAX_ABS, MAX_WIDTH, SubmissionError, ZooIdentity
from netembench.eval.probes import ProbeSet


def check_embedding(out: torch.Tensor, b: int, where: str, name: str) -> None:
    """Refuse an `embed` output that is not `[b, D]` finite floats of bounded width, size and magnitude."""
    if out.ndim != 2 or out.shape[0] != b:
        raise SubmissionError(
            f"embedder {name!r}: embed returned shape {tuple(out.shape)} on {where}; expected [{b}, D]"
        )
    if not out.is_floating_point():
        raise SubmissionError(
            f"embedder {name!r}: embed returned dtype {out.dtype} on {where}; expected a float tensor"
        )
    if out.shape[1] > MAX_WIDTH or out.numel() * out.element_size() > BATCH_BYTES:
        raise SubmissionError(
            f"embedder {name!r}: embed returned {out.shape[1]:,} {out.dtype} entries per model on {where}; "
            f"embeddings are at most {MAX_WIDTH:,} wide and {BATCH_BYTES:,} bytes per batch"
        )
    if not torch.isfinite(out).all():
        raise SubmissionError(f"embedder {name!r}: embed returned NaN or inf on {where}")
    if out.shape[1] == 0 or out.abs().max() > MAX_ABS:
        raise SubmissionError(
            f"embedder {name!r}: embed returned {out.shape[1]}-wide embeddings with entries up to "
            f"{float(out.abs().max()) if out.numel() else 0:.3g} on {where}; embeddings need at least one "
            f"entry, each at most {MAX_ABS:g} in size (scale them)"
        )


class Calls:
    """The submission behind a runner (a sandboxed worker, or in-process code you trust), called
    through checks. `width` is the embedding width, fixed by the first answer."""

    def __init__(self, runner, identity: ZooIdentity, recheck: Recheck) -> None:
        self.runner, self.identity, self.recheck = runner, identity, recheck
        self.width: int | None = None

    @property
    def name(self) -> str:
        return self.runner.info.name

    def embed(self, probes: ProbeSet, where: str, keep: bool = True, runner=None) -> np.ndarray:
        """Embeddings `[B, D]` of a batch of probe sets (`keep`: remember some for the recheck)."""
        out = (runner or self.runner).call("embed", probes.batch(self.runner.info.reads, masked=False), where)
        check_embedding(out, len(probes.x), where, self.name)
        if self.width is None:
            self.width = out.shape[1]
        elif out.shape[1] != self.width:
            raise SubmissionError(
                f"embedder {self.name!r}: embedding width changed from {self.width} to {out.shape[1]} on {where}"
            )
        embedding = M.to_numpy(out)
        if keep:
            self.recheck.keep(probes, embedding)
        return embedding

    def predict_masked(self, probes: ProbeSet, where: str) -> torch.Tensor:
        """A cloze embedder's predictions of the masked gradients, shaped like `probes.grad`."""
        pred = self.runner.call("predict_masked", probes.batch(self.runner.info.reads, masked=True), where)
        if (
            tuple(pred.shape) != tuple(probes.grad.shape)
            or not pred.is_floating_point()
            or not torch.isfinite(pred).all()
        ):
            raise SubmissionError(
                f"embedder {self.name!r}: predict_masked returned shape {tuple(pred.shape)}, dtype {pred.dtype} on {where}; "
                f"expected finite floats of shape {list(probes.grad.shape)}"
            )
        return pred

    def recheck_in_fresh_worker(self) -> None:
        """Embed the kept sample again in a fresh worker: a submission that remembered its first
        answers (and so repeats them whatever the batch) starts from nothing there."""
        fresh = self.runner.fresh()
        try:
            if fresh is not self.runner:
                fresh.prepare(self.identity)
            self.recheck.verify(lambda p, where: self.embed(p, where, keep=False, runner=fresh), self.name)
        finally:
            if fresh is not self.runner:
                fresh.close()

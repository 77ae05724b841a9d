"""Probe sets of a split, drawn and shown to the submission as harness 1.3 seals them, and the
embeddings it returns, put back in model-id order (so scores do not depend on batching).

Every draw shows the models of a split in a fresh random order under random ids, and a model's
inputs are keyed on its weights rather than its id, so neither order, ids nor inputs tell which
model (hence which task) a probe set came from. Each test model's functional twin (`twins`) is
probed at its original's inputs. A cloze embedder also predicts the masked gradients of the test
split, tallied beside the mean-fill and neighbour-interpolation references on the same masks.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np
import torch

from netembench.eval import metrics as M
from netembench.eval.calls import Calls
from netembench.eval.probes import ProbeSet, Protocol, draw_probes, evaluation_keys
from netembench.eval.snapshot import Snapshot
from netembench.eval.twins import functional_twin

EXAMPLES = 3  # cloze examples kept for the results site (the test models with the lowest ids)


@dataclass
class SplitEmbeddings:
    """Embeddings of one split and one draw, in model-id order, with their metadata."""

    x: np.ndarray
    table: dict[str, np.ndarray]
    cloze: M.ClozeTally | None = None
    references: dict[str, M.ClozeTally] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)  # cloze predictions of a few test models
    twins: np.ndarray | None = None  # embeddings of the models' functional twins, same order


@dataclass
class ClozeRecord:
    """A split's cloze predictions against the truth, with the references on the same masks, and
    the predictions of the models in `shown` (1-D only) kept as examples."""

    shown: set[int]
    tally: M.ClozeTally = field(default_factory=M.ClozeTally.empty)
    references: dict[str, M.ClozeTally] = field(
        default_factory=lambda: {k: M.ClozeTally.empty() for k in ("interp", "meanfill")}
    )
    examples: list[dict] = field(default_factory=list)

    def add(self, probes: ProbeSet, pred: torch.Tensor, ids: np.ndarray, task_ids: np.ndarray, version: int) -> None:
        truth = probes.grad.to(torch.float64)
        # The sealed worker answers on the CPU whatever the device; the probes are on the harness's.
        self.tally.add(pred.to(truth.device, torch.float64), truth, probes.mask, ids)
        hide = probes.mask if truth.dim() == 2 else probes.mask[..., None]
        for name, ref in M.reference_predictions(probes.x.double(), truth.masked_fill(hide, 0.0), probes.mask).items():
            self.references[name].add(ref, truth, probes.mask, ids)
        for i in np.flatnonzero(np.isin(ids, list(self.shown)) & (version == 1)):
            values = (("x", probes.x), ("grad", probes.grad), ("pred", pred), ("mask", probes.mask))
            self.examples.append(
                {"model_id": int(ids[i]), "task_id": int(task_ids[i]), **{k: _rounded(v[i]) for k, v in values}}
            )


@dataclass
class _Parts:
    embeddings: list[np.ndarray] = field(default_factory=list)
    twins: list[np.ndarray] = field(default_factory=list)
    tables: list[dict[str, np.ndarray]] = field(default_factory=list)


class SplitDrawer:
    """Draws the probe sets of a split's models in batches and has `calls` embed them."""

    def __init__(self, calls: Calls, data: Snapshot, fingerprint: str, batch_size: int, device: torch.device) -> None:
        self.calls, self.data, self.fingerprint = calls, data, fingerprint
        self.batch_size, self.device = batch_size, device
        # The model order and ids shown to the submission: random, never the same twice.
        self.secret = np.random.default_rng(secrets.randbits(128))

    def embed_split(
        self, split: str, draw: int, protocol: Protocol, cloze: bool = False, twins: bool = False
    ) -> SplitEmbeddings:
        groups = self.data.groups[split]
        shown = set(np.sort(np.concatenate([g.table["model_id"] for g in groups]))[:EXAMPLES].tolist())
        record = ClozeRecord(shown) if cloze else None
        parts = _Parts()
        for group in groups:
            pop = self.data.population(group)
            order = self.secret.permutation(len(group))
            for start in range(0, len(group), self.batch_size):
                rows = order[start : start + self.batch_size]
                where = f"split {split!r}, draw {draw}, batch {start // self.batch_size}"
                self._embed_batch(pop, group.table, rows, draw, protocol, where, parts, record, twins)
        table = {k: np.concatenate([t[k] for t in parts.tables]) for k in parts.tables[0]}
        order = np.argsort(table["model_id"], kind="stable")
        return SplitEmbeddings(
            np.concatenate(parts.embeddings)[order],
            {k: v[order] for k, v in table.items()},
            record.tally if record else None,
            record.references if record else {},
            sorted(record.examples, key=lambda e: e["model_id"]) if record else [],
            np.concatenate(parts.twins)[order] if twins else None,
        )

    def _embed_batch(self, pop, table, rows, draw, protocol, where, parts: _Parts, record, twins: bool) -> None:
        batch_pop = pop.select(torch.as_tensor(rows, device=self.device))
        opaque = torch.as_tensor(self.secret.integers(0, 2**62, size=len(rows)))
        keys = evaluation_keys(self.fingerprint, draw, batch_pop)
        probes = draw_probes(batch_pop, opaque, keys, protocol)
        parts.embeddings.append(self.calls.embed(probes, where))
        if twins:  # probed at the original's inputs (the same keys), under fresh opaque ids
            twin_ids = torch.as_tensor(self.secret.integers(0, 2**62, size=len(rows)))
            twin = draw_probes(functional_twin(batch_pop, keys), twin_ids, keys, protocol)
            parts.twins.append(self.calls.embed(twin, f"{where} (functional twins)"))
        if record is not None:
            pred = self.calls.predict_masked(probes, where)
            record.add(probes, pred, table["model_id"][rows], table["task_id"][rows], protocol.version)
        parts.tables.append({k: v[rows] for k, v in table.items()})


def _rounded(t: torch.Tensor) -> list:
    return [round(float(v), 5) if t.is_floating_point() else bool(v) for v in t.tolist()]

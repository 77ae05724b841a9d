"""Evaluate an embedder on a zoo, the same way every time (harness 1.3).

For each of the protocol's evaluation draws: probe every model of the needed splits in batches,
embed, check the output, and score. Embeddings are put in model-id order before scoring, so the
scores do not depend on batching. Cloze embedders are also scored on the masked gradients of the
test split, beside the mean-fill and neighbour-interpolation references on the same masks.

What the submission sees is sealed (DESIGN §12): it runs in a sandboxed worker process (`worker`,
`sandbox`) and gets copies of probe batches; the zoo's tables and weights are read before any of its
code runs (`snapshot`); every draw shows the models of a split in a fresh random order under
random ids, and a model's inputs are keyed on its weights rather than its id, so neither order,
ids nor inputs tell which model (hence which task) a probe set came from without a rebuilt zoo.
Metrics are computed here, never there. Embeddings are bounded (`MAX_WIDTH`, `BATCH_BYTES`), and a
sample is embedded again at the end in other batches: they must be functions of their probe sets
(`consistency`).

Functional twins (`twins`): every draw also embeds each test model's twin (permuted, rescaled
hidden units; the same function), probed at its original's inputs, for `twin_recall_at_1` and
`twin_distance_ratio`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from netembench.eval import metrics as M
from netembench.eval.consistency import Recheck
from netembench.eval.deadline import Overrun, deadline
from netembench.eval.embedders import (
    BATCH_BYTES,
    MAX_ABS,
    MAX_WIDTH,
    InProcessRunner,
    Submission,
    SubmissionError,
    Unsupported,
    ZooIdentity,
)
from netembench.eval.probes import Protocol, ProbeSet, draw_probes, evaluation_keys
from netembench.progress import track
from netembench.eval.snapshot import Snapshot, take
from netembench.eval.summary import summarise
from netembench.zoo.store import Zoo
from netembench.eval.tracks import track_for
from netembench.eval.twins import functional_twin

HARNESS_VERSION = "1.3.0"


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


class Evaluator:
    def __init__(
        self,
        runner,
        zoo: Zoo,
        device: str = "cpu",
        batch_size: int = 512,
        quiet: bool = False,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.runner, self.zoo, self.device, self.batch_size, self.quiet = (
            runner,
            zoo,
            torch.device(device),
            batch_size,
            quiet,
        )
        self.track = track_for(zoo.name, zoo.tasks.dim)
        self.protocol = self.track.protocol
        self.width: int | None = None
        self.scoring = 0.0  # seconds spent scoring the current draw (bounded by the runner's timeout)
        # Tables, labels and weights, read before any call into the submission (DESIGN §12).
        self.data = snapshot or take(zoo, self.device)
        # The model order and ids shown to the submission: random, never the same twice.
        self._secret = np.random.default_rng(secrets.randbits(128))
        self.recheck = Recheck(np.random.default_rng(secrets.randbits(128)))
        version = self.protocol.version
        if version not in runner.info.protocols:
            raise Unsupported(
                f"{runner.info.name} handles protocol v{'/v'.join(map(str, sorted(runner.info.protocols)))} only; "
                f"{zoo.spec.ref} has {self.protocol.dim}-D inputs (protocol v{version}); an embedder that "
                f"handles them declares protocols = {{1, 2}}"
            )
        runner.prepare(ZooIdentity(zoo.name, zoo.version, zoo.fingerprint))

    @property
    def name(self) -> str:
        return self.runner.info.name

    def embed_split(
        self, split: str, draw: int, protocol: Protocol, cloze: bool = False, twins: bool = False
    ) -> SplitEmbeddings:
        parts, twin_parts, tables, examples = [], [], [], []
        tally, refs = (
            (M.ClozeTally.empty(), {k: M.ClozeTally.empty() for k in ("interp", "meanfill")})
            if cloze
            else (None, {})
        )
        groups = self.data.groups[split]
        shown = set(np.sort(np.concatenate([g.table["model_id"] for g in groups]))[:EXAMPLES].tolist())
        for group in groups:
            pop = self.data.population(group)
            order = self._secret.permutation(len(group))
            for start in range(0, len(group), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch_pop = pop.select(torch.as_tensor(rows, device=self.device))
                opaque = torch.as_tensor(self._secret.integers(0, 2**62, size=len(rows)))
                keys = evaluation_keys(self.zoo.fingerprint, draw, batch_pop)
                probes = draw_probes(batch_pop, opaque, keys, protocol)
                where = f"split {split!r}, draw {draw}, batch {start // self.batch_size}"
                parts.append(self._embed(probes, where))
                if twins:  # probed at the original's inputs (the same keys), under fresh opaque ids
                    twin_ids = torch.as_tensor(self._secret.integers(0, 2**62, size=len(rows)))
                    twin = draw_probes(functional_twin(batch_pop, keys), twin_ids, keys, protocol)
                    twin_parts.append(self._embed(twin, f"{where} (functional twins)"))
                if cloze:
                    ids = group.table["model_id"][rows]
                    pred = self._cloze(probes, where, tally, refs, ids)
                    for i in np.flatnonzero(np.isin(ids, list(shown)) & (protocol.version == 1)):
                        examples.append(
                            {
                                "model_id": int(ids[i]),
                                "task_id": int(group.table["task_id"][rows[i]]),
                                **{
                                    k: _rounded(v[i])
                                    for k, v in (
                                        ("x", probes.x),
                                        ("grad", probes.grad),
                                        ("pred", pred),
                                        ("mask", probes.mask),
                                    )
                                },
                            }
                        )
                tables.append({k: v[rows] for k, v in group.table.items()})
        table = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
        order = np.argsort(table["model_id"], kind="stable")
        x = np.concatenate(parts)[order]
        return SplitEmbeddings(
            x,
            {k: v[order] for k, v in table.items()},
            tally,
            refs,
            sorted(examples, key=lambda e: e["model_id"]),
            np.concatenate(twin_parts)[order] if twins else None,
        )

    def _recheck(self) -> None:
        """Embed the kept sample again in a fresh worker: a submission that remembered its first
        answers (and so repeats them whatever the batch) starts from nothing there."""
        fresh = self.runner.fresh()
        try:
            if fresh is not self.runner:
                fresh.prepare(ZooIdentity(self.zoo.name, self.zoo.version, self.zoo.fingerprint))
            self.recheck.verify(lambda p, where: self._embed(p, where, keep=False, runner=fresh), self.name)
        finally:
            if fresh is not self.runner:
                fresh.close()

    def _embed(self, probes: ProbeSet, where: str, keep: bool = True, runner=None) -> np.ndarray:
        out = (runner or self.runner).call("embed", probes.batch(self.runner.info.reads, masked=False), where)
        b = len(probes.x)
        if out.ndim != 2 or out.shape[0] != b:
            raise SubmissionError(
                f"embedder {self.name!r}: embed returned shape {tuple(out.shape)} on {where}; expected [{b}, D]"
            )
        if not out.is_floating_point():
            raise SubmissionError(
                f"embedder {self.name!r}: embed returned dtype {out.dtype} on {where}; expected a float tensor"
            )
        if out.shape[1] > MAX_WIDTH or out.numel() * out.element_size() > BATCH_BYTES:
            raise SubmissionError(
                f"embedder {self.name!r}: embed returned {out.shape[1]:,} {out.dtype} entries per model on {where}; "
                f"embeddings are at most {MAX_WIDTH:,} wide and {BATCH_BYTES:,} bytes per batch"
            )
        if not torch.isfinite(out).all():
            raise SubmissionError(f"embedder {self.name!r}: embed returned NaN or inf on {where}")
        if out.shape[1] == 0 or out.abs().max() > MAX_ABS:
            raise SubmissionError(
                f"embedder {self.name!r}: embed returned {out.shape[1]}-wide embeddings with entries up to "
                f"{float(out.abs().max()) if out.numel() else 0:.3g} on {where}; embeddings need at least one "
                f"entry, each at most {MAX_ABS:g} in size (scale them)"
            )
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

    def _cloze(
        self,
        probes: ProbeSet,
        where: str,
        tally: M.ClozeTally,
        refs: dict[str, M.ClozeTally],
        ids: np.ndarray,
    ):
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
        truth = probes.grad.to(torch.float64)
        # The sealed worker answers on the CPU whatever the device; the probes are on the harness's.
        tally.add(pred.to(truth.device, torch.float64), truth, probes.mask, ids)
        hide = probes.mask if truth.dim() == 2 else probes.mask[..., None]
        for name, ref in M.reference_predictions(
            probes.x.double(), truth.masked_fill(hide, 0.0), probes.mask
        ).items():
            refs[name].add(ref, truth, probes.mask, ids)
        return pred

    def run(self) -> dict:
        """Every metric of the zoo's track: `{name: {mean, std, per_draw[, ci95]}}`, the budget curve,
        `info`, and `figures` (draw 0's embedding map and cloze examples, for the results site)."""
        splits = self.zoo.splits
        draws: dict[str, list] = {}
        per_model: dict[str, list[np.ndarray]] = {}
        figures: dict = {}
        self.iterations: list[int] = []
        n = self.protocol.n_draws
        for draw in track(range(n), n, f"eval {self.name} on {self.zoo.spec.ref}", "draw", self.quiet):
            train = self.embed_split("train", draw, self.protocol)
            test = self.embed_split("test", draw, self.protocol, cloze=self.runner.info.cloze, twins=True)
            unseen = self.embed_split("unseen", draw, self.protocol) if "unseen" in splits else None
            self.scoring = 0.0
            scores, correct = self._scored(self._score, train, test, unseen)
            for n in self.protocol.budgets:
                if n == self.protocol.n_points:  # the main score itself
                    arch = [v for k, v in scores.items() if k.startswith("arch_probe_accuracy/")]
                    scores[f"budget/{n}"] = (
                        float(np.mean(arch)) if self.track.per_arch else scores[self.track.main]
                    )
                else:
                    p = self.protocol.at(n)
                    budget = self.embed_split("train", draw, p), self.embed_split("test", draw, p)
                    scores[f"budget/{n}"] = self._scored(self._main, *budget)
            if draw == 0:
                figures = {"embedding_map": M.embedding_map(test.x, test.table["task_id"])}
                if test.examples:
                    figures["cloze_examples"] = test.examples
            for k, v in scores.items():
                draws.setdefault(k, []).append(v)
            for k, v in correct.items():
                per_model.setdefault(k, []).append(v)
        self._recheck()
        out = summarise(self.track, "unseen" in splits, self.width, draws, per_model, test.table)
        out["figures"] = figures
        if self.iterations:
            out["info"]["probe_iterations"] = {
                "max": max(self.iterations),
                "median": float(np.median(self.iterations)),
            }
        return out

    def _scored(self, score, *args):
        """`score(*args)` within what is left of this draw's scoring time: scoring counts against the
        runner's timeout (--timeout) like a call into the submission does."""
        timeout = getattr(self.runner, "timeout", None)
        start = time.perf_counter()
        try:
            with deadline(None if timeout is None else timeout - self.scoring):
                return score(*args)
        except Overrun:
            raise SubmissionError(
                f"embedder {self.name!r}: scoring one draw of its {self.width:,}-wide embeddings took "
                f"more than the {timeout:g} s timeout (--timeout bounds each call into the submission "
                "and the scoring of each draw); narrower embeddings score faster"
            ) from None
        finally:
            self.scoring += time.perf_counter() - start

    def _probe(
        self, train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray
    ) -> np.ndarray:
        correct, iterations = M.probe_fit(train, train_y, test, test_y)
        self.iterations.append(iterations)
        return correct

    def _main(self, train: SplitEmbeddings, test: SplitEmbeddings) -> float:
        """The track's main score of one draw at one probe-set size."""
        if self.track.retrieval:
            return float(
                M.retrieval_correct(train.x, train.table["task_id"], test.x, test.table["task_id"]).mean()
            )
        correct = self._probe(train.x, train.table["task_id"], test.x, test.table["task_id"])
        if self.track.per_arch:
            return float(
                np.mean(
                    [
                        correct[test.table["arch"] == a].mean()
                        for a in dict.fromkeys(test.table["arch"].tolist())
                    ]
                )
            )
        return float(correct.mean())

    def _score(self, train: SplitEmbeddings, test: SplitEmbeddings, unseen: SplitEmbeddings | None):
        ty, sy = train.table["task_id"], test.table["task_id"]
        scale = M.Standardiser(train.x)
        scores = {"knn_accuracy": float(M.knn_correct(train.x, ty, test.x, sy).mean())}
        correct = {}
        if self.track.probe:
            probe = correct["probe_accuracy"] = self._probe(train.x, ty, test.x, sy)
            scores["probe_accuracy"] = float(probe.mean())
        if self.clusterable(test):  # with one test model per task, k-means is trivially perfect
            scores["cluster_ami"], scores["cluster_v_measure"] = M.clustering(test.x, sy, scale)
        others = test if self.clusterable(test) else train
        recall, scores["twin_distance_ratio"] = M.twin_scores(
            test.x, test.twins, sy, others.x, others.table["task_id"]
        )
        scores["twin_recall_at_1"] = float(recall.mean())
        if unseen is not None and self.clusterable(unseen):
            scores["unseen_cluster_ami"] = M.clustering(unseen.x, unseen.table["task_id"], scale)[0]
        if self.track.coarse:
            scores["coarse_probe_accuracy"] = float(
                self._probe(train.x, train.table["family_id"], test.x, test.table["family_id"]).mean()
            )
        if self.track.retrieval:
            hit = M.retrieval_correct(train.x, ty, test.x, sy)
            scores["retrieval_recall_at_1"], correct["retrieval_recall_at_1"] = float(hit.mean()), hit
            if unseen is not None:
                cheb = self.zoo.tasks.chebyshev
                scores["unseen_coef_r2"] = M.coef_r2(
                    train.x, cheb[ty], unseen.x, cheb[unseen.table["task_id"]]
                )
        if self.track.per_arch:
            for arch in dict.fromkeys(test.table["arch"].tolist()):
                scores[f"arch_probe_accuracy/{arch}"] = float(probe[test.table["arch"] == arch].mean())
        if test.cloze is not None:
            pooled, median, left_out = test.cloze.nmse()
            scores.update(
                {"cloze_nmse_pooled": pooled, "cloze_nmse_median": median, "cloze_left_out": float(left_out)}
            )
            scores["interp_nmse_pooled"] = test.references["interp"].nmse()[0]
            scores["meanfill_nmse_pooled"] = test.references["meanfill"].nmse()[0]
        return scores, correct

    @staticmethod
    def clusterable(split: SplitEmbeddings) -> bool:
        """Clustering scores mean something only when every task has several models."""
        return bool(np.unique(split.table["task_id"], return_counts=True)[1].min() >= 2)


def _rounded(t: torch.Tensor) -> list:
    return [round(float(v), 5) if t.is_floating_point() else bool(v) for v in t.tolist()]


DEFAULT_TIMEOUT = 600.0  # seconds per call into a submission (`netembench eval --timeout`)


def evaluate(
    submission: Submission | str | Path,
    zoo: Zoo,
    device: str = "cpu",
    batch_size: int = 512,
    quiet: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    runner=None,
    snapshot: Snapshot | None = None,
) -> dict:
    """Run every metric of the zoo's track; returns `{"metrics", "info", "timings", "submission"}`.

    A path or `module:callable` runs sealed in a sandboxed worker (as `netembench eval` does); an
    already-loaded `Submission` runs in this process (code you trust). `runner` reuses a running one,
    `snapshot` the zoo as read before that runner started (else it is read here, before any call).
    """
    from netembench.eval.worker import WorkerRunner

    start = time.perf_counter()
    snapshot = snapshot or take(zoo, device)
    own = runner is None
    if own:
        runner = (
            InProcessRunner(submission, device)
            if isinstance(submission, Submission)
            else WorkerRunner(submission, device, timeout)
        )
    try:
        seconds_before = runner.seconds
        ev = Evaluator(runner, zoo, device=device, batch_size=batch_size, quiet=quiet, snapshot=snapshot)
        result = ev.run()
    except BaseException:  # an interrupt or a failure: the worker's tree ends now
        if own:
            runner.close(kill=True)
        raise
    if own:
        runner.close()
    result["timings"] = {
        "total_seconds": time.perf_counter() - start,
        "embedder_seconds": runner.seconds - seconds_before,
    }
    result["submission"] = runner.info
    result["isolated"] = isinstance(runner, WorkerRunner)
    result["sealed"] = bool(getattr(runner, "sealed", False))
    result["protocol"] = ev.protocol.as_dict()
    return result

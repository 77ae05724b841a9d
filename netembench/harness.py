"""Evaluate an embedder on a zoo, the same way every time (harness v1).

For each of the protocol's evaluation draws: probe every model of the needed splits in batches,
embed, check the output, and score. Embeddings are put in model-id order before scoring, so the
scores do not depend on batching. Cloze embedders are also scored on the masked gradients of the
test split, beside the mean-fill and neighbour-interpolation references on the same masks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from netembench import metrics as M
from netembench.embedders import Submission, SubmissionError, Unsupported
from netembench.population import Population
from netembench.probes import PROTOCOL_V1, Protocol, ProbeSet, draw_probes, evaluation_keys
from netembench.store import Zoo

HARNESS_VERSION = "1.0.0"


@dataclass(frozen=True)
class Track:
    """What a zoo is scored on: its main score and the track-specific extras."""

    main: str = "probe_accuracy"
    coarse: bool = False  # coarse (family) probe accuracy and the N = 16 probe accuracy
    retrieval: bool = False  # retrieval recall@1 and coefficient R^2 on unseen tasks
    per_arch: bool = False  # probe accuracy per test architecture


TRACKS = {
    "poly-seed": Track(),
    "poly-fine": Track(coarse=True),
    "poly-many": Track(main="retrieval_recall_at_1", retrieval=True),
    "poly-xarch": Track(main="arch_probe_accuracy", per_arch=True),
}
N16 = 16


@dataclass
class SplitEmbeddings:
    """Embeddings of one split and one draw, in model-id order, with their metadata."""

    x: np.ndarray
    table: dict[str, np.ndarray]
    cloze: M.ClozeTally | None = None
    references: dict[str, M.ClozeTally] = field(default_factory=dict)


class Evaluator:
    def __init__(self, submission: Submission, zoo: Zoo, device: str = "cpu", batch_size: int = 512, quiet: bool = False,
                 protocol: Protocol = PROTOCOL_V1) -> None:
        self.sub, self.zoo, self.device, self.batch_size, self.quiet = submission, zoo, torch.device(device), batch_size, quiet
        self.protocol = protocol
        self.track = TRACKS.get(zoo.name, Track())
        self.width: int | None = None
        self.seconds_embedding = 0.0
        self._populations: dict[tuple[str, str], Population] = {}  # (split, arch) -> weights on the device
        to = getattr(submission.embedder, "to", None)
        if callable(to):
            to(self.device)
        prepare = getattr(submission.embedder, "prepare", None)  # optional: per-zoo set-up, e.g. a checkpoint
        if callable(prepare):
            try:
                prepare(zoo)
            except Unsupported:
                raise
            except Exception as err:  # noqa: BLE001 - user code
                raise SubmissionError(f"embedder {submission.name!r} raised {type(err).__name__} in prepare for {zoo.spec.ref}: {err}") from err

    def embed_split(self, split: str, draw: int, protocol: Protocol, cloze: bool = False) -> SplitEmbeddings:
        parts, tables = [], []
        tally, refs = (M.ClozeTally.empty(), {k: M.ClozeTally.empty() for k in ("interp", "meanfill")}) if cloze else (None, {})
        for group in self.zoo.groups(split):
            key = (split, group.arch.name)
            if key not in self._populations:
                self._populations[key] = self.zoo.population(group).to(self.device)
            pop = self._populations[key]
            ids = torch.as_tensor(group.table["model_id"])
            for start in range(0, len(group), self.batch_size):
                rows = slice(start, start + self.batch_size)
                keys = evaluation_keys(self.zoo.fingerprint, ids[rows], draw)
                probes = draw_probes(pop.select(rows), ids[rows], keys, protocol)
                where = f"split {split!r}, draw {draw}, models {int(ids[rows][0])}..{int(ids[rows][-1])}"
                parts.append(self._embed(probes, where))
                if cloze:
                    self._cloze(probes, where, tally, refs)
            tables.append(group.table)
        table = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
        order = np.argsort(table["model_id"], kind="stable")
        x = np.concatenate(parts)[order]
        return SplitEmbeddings(x, {k: v[order] for k, v in table.items()}, tally, refs)

    def _call(self, method: str, batch, where: str):
        start = time.perf_counter()
        try:
            with torch.no_grad():
                out = getattr(self.sub.embedder, method)(batch)
        except Unsupported:
            raise
        except Exception as err:  # noqa: BLE001 - user code
            hint = ""
            if isinstance(err, (AttributeError, TypeError)) and "NoneType" in str(err):
                hint = f" (batch fields not declared in `reads` are None; it declares {sorted(self.sub.reads)})"
            raise SubmissionError(f"embedder {self.sub.name!r} raised {type(err).__name__} in {method} on {where}: {err}{hint}") from err
        self.seconds_embedding += time.perf_counter() - start
        if not isinstance(out, torch.Tensor):
            raise SubmissionError(f"embedder {self.sub.name!r}: {method} returned {type(out).__name__} on {where}; expected a torch.Tensor")
        return out

    def _embed(self, probes: ProbeSet, where: str) -> np.ndarray:
        out = self._call("embed", probes.batch(self.sub.reads, masked=False), where)
        b = len(probes.x)
        if out.ndim != 2 or out.shape[0] != b:
            raise SubmissionError(f"embedder {self.sub.name!r}: embed returned shape {tuple(out.shape)} on {where}; expected [{b}, D]")
        if not out.is_floating_point():
            raise SubmissionError(f"embedder {self.sub.name!r}: embed returned dtype {out.dtype} on {where}; expected a float tensor")
        if not torch.isfinite(out).all():
            raise SubmissionError(f"embedder {self.sub.name!r}: embed returned NaN or inf on {where}")
        if self.width is None:
            self.width = out.shape[1]
        elif out.shape[1] != self.width:
            raise SubmissionError(f"embedder {self.sub.name!r}: embedding width changed from {self.width} to {out.shape[1]} on {where}")
        return M.to_numpy(out)

    def _cloze(self, probes: ProbeSet, where: str, tally: M.ClozeTally, refs: dict[str, M.ClozeTally]) -> None:
        pred = self._call("predict_masked", probes.batch(self.sub.reads, masked=True), where)
        if tuple(pred.shape) != tuple(probes.x.shape) or not pred.is_floating_point() or not torch.isfinite(pred).all():
            raise SubmissionError(
                f"embedder {self.sub.name!r}: predict_masked returned shape {tuple(pred.shape)}, dtype {pred.dtype} on {where}; "
                f"expected finite floats of shape {list(probes.x.shape)}"
            )
        truth = probes.grad.to(torch.float64)
        tally.add(pred.to(torch.float64), truth, probes.mask)
        for name, ref in M.reference_predictions(probes.x.double(), truth.masked_fill(probes.mask, 0.0), probes.mask).items():
            refs[name].add(ref, truth, probes.mask)

    def run(self) -> dict:
        """Every metric of the zoo's track: `{name: {mean, std, per_draw[, ci95]}}` plus `info`."""
        splits = self.zoo.splits
        draws: dict[str, list] = {}
        per_model: dict[str, list[np.ndarray]] = {}
        bar = tqdm(range(self.protocol.n_draws), desc=f"eval {self.sub.name} on {self.zoo.spec.ref}", unit="draw",
                   disable=True if self.quiet else None)
        for draw in bar:
            train = self.embed_split("train", draw, self.protocol)
            test = self.embed_split("test", draw, self.protocol, cloze=self.sub.is_cloze)
            scores, correct = self._score(train, test, self.embed_split("unseen", draw, self.protocol) if "unseen" in splits else None)
            if self.track.coarse:
                p16 = Protocol(n_points=N16)
                tr16, te16 = self.embed_split("train", draw, p16), self.embed_split("test", draw, p16)
                scores["probe_accuracy_n16"] = float(M.probe_correct(tr16.x, tr16.table["task_id"], te16.x, te16.table["task_id"]).mean())
            for k, v in scores.items():
                draws.setdefault(k, []).append(v)
            for k, v in correct.items():
                per_model.setdefault(k, []).append(v)
        return self._summarise(draws, per_model, test.table)

    def _score(self, train: SplitEmbeddings, test: SplitEmbeddings, unseen: SplitEmbeddings | None):
        ty, sy = train.table["task_id"], test.table["task_id"]
        scale = M.Standardiser(train.x)
        probe = M.probe_correct(train.x, ty, test.x, sy)
        scores = {"probe_accuracy": float(probe.mean()), "knn_accuracy": float(M.knn_correct(train.x, ty, test.x, sy).mean())}
        if self.clusterable(test):  # with one test model per task, k-means is trivially perfect
            scores["cluster_ami"], scores["cluster_v_measure"] = M.clustering(test.x, sy, scale)
        correct = {"probe_accuracy": probe}
        if unseen is not None and self.clusterable(unseen):
            scores["unseen_cluster_ami"] = M.clustering(unseen.x, unseen.table["task_id"], scale)[0]
        if self.track.coarse:
            scores["coarse_probe_accuracy"] = float(M.probe_correct(train.x, train.table["family_id"], test.x, test.table["family_id"]).mean())
        if self.track.retrieval:
            hit = M.retrieval_correct(train.x, ty, test.x, sy)
            scores["retrieval_recall_at_1"], correct["retrieval_recall_at_1"] = float(hit.mean()), hit
            if unseen is not None:
                cheb = self.zoo.tasks.chebyshev
                scores["unseen_coef_r2"] = M.coef_r2(train.x, cheb[ty], unseen.x, cheb[unseen.table["task_id"]])
        if self.track.per_arch:
            for arch in dict.fromkeys(test.table["arch"].tolist()):
                scores[f"arch_probe_accuracy/{arch}"] = float(probe[test.table["arch"] == arch].mean())
        if test.cloze is not None:
            pooled, median, left_out = test.cloze.nmse()
            scores.update({"cloze_nmse_pooled": pooled, "cloze_nmse_median": median, "cloze_left_out": float(left_out)})
            scores["interp_nmse_pooled"] = test.references["interp"].nmse()[0]
            scores["meanfill_nmse_pooled"] = test.references["meanfill"].nmse()[0]
        return scores, correct

    @staticmethod
    def clusterable(split: SplitEmbeddings) -> bool:
        """Clustering scores mean something only when every task has several models."""
        return bool(np.unique(split.table["task_id"], return_counts=True)[1].min() >= 2)

    def _summarise(self, draws: dict[str, list], per_model: dict[str, list[np.ndarray]], test_table: dict) -> dict:
        out: dict = {}
        arch_keys = [k for k in draws if k.startswith("arch_probe_accuracy/")]
        for k, v in draws.items():
            if k == "cloze_left_out" or k in arch_keys:
                continue
            out[k] = M.summary(v)
        if arch_keys:
            out["arch_probe_accuracy"] = {k.split("/", 1)[1]: M.summary(draws[k]) for k in arch_keys}
            main_draws = np.mean([draws[k] for k in arch_keys], axis=0).tolist()
            groups = test_table["arch"]
            out["main_score"] = M.summary(main_draws, M.bootstrap_ci(np.mean(per_model["probe_accuracy"], axis=0), groups))
        else:
            main = self.track.main
            out["main_score"] = M.summary(draws[main], M.bootstrap_ci(np.mean(per_model[main], axis=0)))
            out[main] = {**out[main], "ci95": out["main_score"]["ci95"]}
        info = {"main_metric": self.track.main, "embedding_dim": self.width}
        if "cluster_ami" not in draws:
            info["clustering"] = "omitted: the test split has one model per task"
        if "unseen" in self.zoo.splits and "unseen_cluster_ami" not in draws:
            info["unseen_clustering"] = "omitted: the unseen split has one model per task"
        if "cloze_left_out" in draws:
            info["cloze_models_left_out_one_region"] = int(draws["cloze_left_out"][0])
        return {"metrics": out, "info": info}


def evaluate(submission: Submission, zoo: Zoo, device: str = "cpu", batch_size: int = 512, quiet: bool = False) -> dict:
    """Run every metric of the zoo's track; returns `{"metrics", "info", "timings"}`."""
    start = time.perf_counter()
    ev = Evaluator(submission, zoo, device=device, batch_size=batch_size, quiet=quiet)
    result = ev.run()
    result["timings"] = {"total_seconds": time.perf_counter() - start, "embedder_seconds": ev.seconds_embedding}
    return result

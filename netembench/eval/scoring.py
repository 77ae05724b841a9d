"""The scores of one evaluation draw, by metric family (harness 1.1+, `metrics` computes them):
identification (k-NN, linear probe), clustering, functional twins, unseen tasks, coarse labels,
retrieval, per-architecture probes and cloze. What a track reports is its `Track`'s choice.

Scoring counts against the runner's timeout (--timeout) like a call into the submission does: a
submission cannot stall the harness with embeddings that take hours to score.
"""

from __future__ import annotations

import time

import numpy as np

from netembench.eval import metrics as M
from netembench.eval.deadline import Overrun, deadline
from netembench.eval.drawing import SplitEmbeddings
from netembench.eval.embedders import SubmissionError
from netembench.eval.tracks import Track
from netembench.zoo.sampler import TaskSet

Scores = dict[str, float]
Correct = dict[str, np.ndarray]  # per test model: was it identified (for intervals over models)


def clusterable(split: SplitEmbeddings) -> bool:
    """Clustering scores mean something only when every task has several models."""
    return bool(np.unique(split.table["task_id"], return_counts=True)[1].min() >= 2)


class Scorer:
    """Scores of a track's draws; `iterations` records every probe fit's solver iterations."""

    def __init__(self, track: Track, tasks: TaskSet, name: str, timeout: float | None) -> None:
        self.track, self.tasks, self.name, self.timeout = track, tasks, name, timeout
        self.iterations: list[int] = []
        self.scoring = 0.0  # seconds spent scoring the current draw

    def start_draw(self) -> None:
        self.scoring = 0.0

    def timed(self, score, *args):
        """`score(*args)` within what is left of this draw's scoring time."""
        start = time.perf_counter()
        try:
            with deadline(None if self.timeout is None else self.timeout - self.scoring):
                return score(*args)
        except Overrun:
            raise SubmissionError(
                f"embedder {self.name!r}: scoring one draw of its {args[0].x.shape[1]:,}-wide embeddings took "
                f"more than the {self.timeout:g} s timeout (--timeout bounds each call into the submission "
                "and the scoring of each draw); narrower embeddings score faster"
            ) from None
        finally:
            self.scoring += time.perf_counter() - start

    def probe(self, train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray) -> np.ndarray:
        correct, iterations = M.probe_fit(train, train_y, test, test_y)
        self.iterations.append(iterations)
        return correct

    def main(self, train: SplitEmbeddings, test: SplitEmbeddings) -> float:
        """The track's main score of one draw at one probe-set size."""
        ty, sy = train.table["task_id"], test.table["task_id"]
        if self.track.retrieval:
            return float(M.retrieval_correct(train.x, ty, test.x, sy).mean())
        correct = self.probe(train.x, ty, test.x, sy)
        if self.track.per_arch:
            archs = test.table["arch"]
            return float(np.mean([correct[archs == a].mean() for a in dict.fromkeys(archs.tolist())]))
        return float(correct.mean())

    def score(
        self, train: SplitEmbeddings, test: SplitEmbeddings, unseen: SplitEmbeddings | None
    ) -> tuple[Scores, Correct]:
        """Every score of the track on one draw, in the order result files list them."""
        scores: Scores = {}
        correct: Correct = {}
        scale = M.Standardiser(train.x)
        self._identification(train, test, scores, correct)
        if clusterable(test):  # with one test model per task, k-means is trivially perfect
            scores["cluster_ami"], scores["cluster_v_measure"] = M.clustering(test.x, test.table["task_id"], scale)
        self._twins(train, test, scores)
        if unseen is not None and clusterable(unseen):
            scores["unseen_cluster_ami"] = M.clustering(unseen.x, unseen.table["task_id"], scale)[0]
        if self.track.coarse:
            fy, gy = train.table["family_id"], test.table["family_id"]
            scores["coarse_probe_accuracy"] = float(self.probe(train.x, fy, test.x, gy).mean())
        if self.track.retrieval:
            self._retrieval(train, test, unseen, scores, correct)
        if self.track.per_arch:
            archs = test.table["arch"]
            for arch in dict.fromkeys(archs.tolist()):
                scores[f"arch_probe_accuracy/{arch}"] = float(correct["probe_accuracy"][archs == arch].mean())
        if test.cloze is not None:
            scores.update(cloze_scores(test))
        return scores, correct

    def _identification(self, train: SplitEmbeddings, test: SplitEmbeddings, scores: Scores, correct: Correct) -> None:
        ty, sy = train.table["task_id"], test.table["task_id"]
        scores["knn_accuracy"] = float(M.knn_correct(train.x, ty, test.x, sy).mean())
        if self.track.probe:
            probe = correct["probe_accuracy"] = self.probe(train.x, ty, test.x, sy)
            scores["probe_accuracy"] = float(probe.mean())

    def _twins(self, train: SplitEmbeddings, test: SplitEmbeddings, scores: Scores) -> None:
        others = test if clusterable(test) else train
        recall, scores["twin_distance_ratio"] = M.twin_scores(
            test.x, test.twins, test.table["task_id"], others.x, others.table["task_id"]
        )
        scores["twin_recall_at_1"] = float(recall.mean())

    def _retrieval(self, train, test, unseen, scores: Scores, correct: Correct) -> None:
        ty, sy = train.table["task_id"], test.table["task_id"]
        hit = M.retrieval_correct(train.x, ty, test.x, sy)
        scores["retrieval_recall_at_1"], correct["retrieval_recall_at_1"] = float(hit.mean()), hit
        if unseen is not None:
            cheb = self.tasks.chebyshev
            scores["unseen_coef_r2"] = M.coef_r2(train.x, cheb[ty], unseen.x, cheb[unseen.table["task_id"]])


def cloze_scores(test: SplitEmbeddings) -> Scores:
    """Cloze NMSE of the test split's masked gradients, and of the two references on its masks."""
    pooled, median, left_out = test.cloze.nmse()
    return {
        "cloze_nmse_pooled": pooled,
        "cloze_nmse_median": median,
        "cloze_left_out": float(left_out),
        "interp_nmse_pooled": test.references["interp"].nmse()[0],
        "meanfill_nmse_pooled": test.references["meanfill"].nmse()[0],
    }

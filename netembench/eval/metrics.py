"""Scores of embeddings, with fixed and documented hyper-parameters (harness 1.1).

Every scorer takes embeddings in canonical model order (by model id) and is deterministic. Probes,
k-NN and ridge are fitted on `train` embeddings and scored elsewhere; clustering is unsupervised.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import adjusted_mutual_info_score, r2_score, v_measure_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from netembench.eval.features import fill_hidden, mean_fill, nearest_fill

SEED = 0
PROBE_C = 10.0  # inverse L2 strength of the logistic-regression probe (on standardised features)
# Newton-CG reaches the probe objective's optimum: on integ's poly-fine features it converged in 21
# iterations (0.24 s), where harness 1.0's lbfgs stopped after 498 (5.7 s) short of it.
PROBE_SOLVER = "newton-cg"
PROBE_TOL = 1e-6
PROBE_MAX_ITER = 1000
KNN_K = 5  # cosine k-NN, votes weighted by inverse distance (poly-many has 2 train models per task)
KMEANS_N_INIT = 10
RIDGE_ALPHA = 1.0  # embedding -> Chebyshev coefficients (standardised features)
BOOTSTRAP_SAMPLES = 1000
CONFIDENCE = 0.95

HYPERPARAMETERS = {
    "probe": {
        "model": f"LogisticRegression({PROBE_SOLVER}, multinomial)",
        "C": PROBE_C,
        "tol": PROBE_TOL,
        "max_iter": PROBE_MAX_ITER,
        "features": "standardised on train",
    },
    "knn": {"k": KNN_K, "metric": "cosine", "weights": "distance"},
    "kmeans": {"n_clusters": "number of tasks", "n_init": KMEANS_N_INIT, "features": "standardised on train"},
    "ridge": {"alpha": RIDGE_ALPHA, "target": "Chebyshev coefficients", "r2": "variance-weighted"},
    "bootstrap": {"samples": BOOTSTRAP_SAMPLES, "confidence": CONFIDENCE, "over": "test models"},
    "seed": SEED,
}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence sklearn's convergence and degenerate-clustering warnings (constant embedders)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Number of distinct clusters")
        yield


class Standardiser:
    """Zero mean, unit variance per feature, fitted on the train embeddings."""

    def __init__(self, train: np.ndarray) -> None:
        self.scaler = StandardScaler().fit(train)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.scaler.transform(x)


def probe_fit(
    train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray
) -> tuple[np.ndarray, int]:
    """(per test model: did a linear probe fitted on train embeddings predict its label?, the
    solver's iterations)."""
    scale = Standardiser(train)
    with _quiet():
        clf = LogisticRegression(
            C=PROBE_C, solver=PROBE_SOLVER, tol=PROBE_TOL, max_iter=PROBE_MAX_ITER, random_state=SEED
        ).fit(scale(train), train_y)
    return clf.predict(scale(test)) == test_y, int(np.max(clf.n_iter_))


def probe_correct(train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray) -> np.ndarray:
    """Per test model: did a linear probe fitted on train embeddings predict its label?"""
    return probe_fit(train, train_y, test, test_y)[0]


def knn_correct(train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray) -> np.ndarray:
    clf = KNeighborsClassifier(n_neighbors=min(KNN_K, len(train)), metric="cosine", weights="distance").fit(
        train, train_y
    )
    return clf.predict(test) == test_y


def retrieval_correct(
    train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray
) -> np.ndarray:
    """Per test model: is its nearest train model (cosine similarity) of the same task?"""
    a = train / np.linalg.norm(train, axis=1, keepdims=True).clip(1e-12)
    b = test / np.linalg.norm(test, axis=1, keepdims=True).clip(1e-12)
    return train_y[np.argmax(b @ a.T, axis=1)] == test_y


def clustering(x: np.ndarray, labels: np.ndarray, scale: Standardiser) -> tuple[float, float]:
    """(AMI, V-measure) of k-means with as many clusters as labels."""
    k = len(np.unique(labels))
    with _quiet():
        pred = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=SEED).fit_predict(scale(x))
    return float(adjusted_mutual_info_score(labels, pred)), float(v_measure_score(labels, pred))


def coef_r2(train: np.ndarray, train_coef: np.ndarray, test: np.ndarray, test_coef: np.ndarray) -> float:
    """R^2 of a ridge regression from embedding to task coefficients, fitted on train models."""
    scale = Standardiser(train)
    ridge = Ridge(alpha=RIDGE_ALPHA).fit(scale(train), train_coef)
    return float(r2_score(test_coef, ridge.predict(scale(test)), multioutput="variance_weighted"))


@dataclass
class ClozeTally:
    """Masked-gradient errors of one draw, accumulated over batches (per model), pooled in model-id
    order so that the (shuffled) batch order cannot change a bit of the result."""

    sq_error: list[np.ndarray]
    n_masked: list[np.ndarray]
    variance: list[np.ndarray]
    model_id: list[np.ndarray]

    @classmethod
    def empty(cls) -> ClozeTally:
        return cls([], [], [], [])

    def add(self, pred: Tensor, truth: Tensor, mask: Tensor, model_id: np.ndarray) -> None:
        """Gradients `[B, N]` (v1) or `[B, N, d]` (v2: squared norms and summed variances)."""
        self.model_id.append(np.asarray(model_id))
        m = mask.to(truth.dtype)
        sq, var = (pred - truth) ** 2, truth.var(1, unbiased=False)
        if truth.dim() == 3:
            sq, var = sq.sum(-1), var.sum(-1)
        self.sq_error.append((sq * m).sum(1).cpu().numpy())
        self.n_masked.append(m.sum(1).cpu().numpy())
        self.variance.append(var.clamp_min(1e-12).cpu().numpy())

    def nmse(self) -> tuple[float, float, int]:
        """(pooled NMSE, median per-model NMSE, models left out for having one region).

        A model's NMSE is its mean squared error (squared norm, in d > 1) on masked points over the
        variance (summed over components) of its gradient across all probe points; pooled NMSE sums
        errors and normalisers over models.
        """
        order = np.argsort(np.concatenate(self.model_id), kind="stable")
        err, n, var = (np.concatenate(v)[order] for v in (self.sq_error, self.n_masked, self.variance))
        scored = n > 0
        pooled = err[scored].sum() / (n[scored] * var[scored]).sum()
        per_model = err[scored] / (n[scored] * var[scored])
        return float(pooled), float(np.median(per_model)), int((~scored).sum())


def reference_predictions(x: Tensor, grad: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """The non-learned cloze references, on the same masks: neighbour interpolation (in d > 1,
    the nearest visible point's gradient) and mean-fill."""
    interp = fill_hidden(x, grad, mask) if x.dim() == 2 else nearest_fill(x, grad, mask)
    return {"interp": interp, "meanfill": mean_fill(grad, mask)}


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


def twin_scores(
    test: np.ndarray, twins: np.ndarray, labels: np.ndarray, others: np.ndarray, other_labels: np.ndarray
) -> tuple[np.ndarray, float]:
    """(per test model: is its twin strictly its nearest neighbour, by cosine, among the test
    models and their twins?, median cosine distance to the twin over the median distance to another
    model of the same task, taken from `others` (row i of `others` is never test model i itself,
    unless `others` is `test`, where the diagonal is skipped))."""
    a, t = _unit_rows(test), _unit_rows(twins)
    n = len(a)
    sims = a @ np.concatenate([a, t]).T
    sims[np.arange(n), np.arange(n)] = -np.inf
    own = sims[np.arange(n), n + np.arange(n)]
    sims[np.arange(n), n + np.arange(n)] = -np.inf
    recall = own > sims.max(1)
    distance = 1.0 - (_unit_rows(test) @ _unit_rows(others).T)
    same = labels[:, None] == other_labels[None, :]
    if others is test:
        same[np.arange(n), np.arange(n)] = False
    twin_distance = np.median(1.0 - own)
    same_task = np.median(distance[same])
    ratio = float(twin_distance / same_task) if same_task > 1e-12 else float(twin_distance > 1e-12)
    return recall, ratio


def bootstrap_ci(per_model: np.ndarray, groups: np.ndarray | None = None) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean over models (of the mean of group means, when
    `groups` is given: models are resampled within each group)."""
    gen = np.random.default_rng(SEED)
    groups = np.zeros(len(per_model), dtype=int) if groups is None else groups
    stats = np.zeros(BOOTSTRAP_SAMPLES)
    for g in np.unique(groups):
        values = per_model[groups == g]
        idx = gen.integers(0, len(values), size=(BOOTSTRAP_SAMPLES, len(values)))
        stats += values[idx].mean(1)
    stats /= len(np.unique(groups))
    tail = (1.0 - CONFIDENCE) / 2.0 * 100.0
    return float(np.percentile(stats, tail)), float(np.percentile(stats, 100.0 - tail))


def summary(per_draw: list[float], ci: tuple[float, float] | None = None) -> dict:
    """`{mean, std, per_draw}` (+ `ci95`) of a metric over evaluation draws."""
    values = np.asarray(per_draw, dtype=float)
    out = {"mean": float(values.mean()), "std": float(values.std()), "per_draw": [float(v) for v in values]}
    if ci is not None:
        out["ci95"] = [ci[0], ci[1]]
    return out


def embedding_map(x: np.ndarray, labels: np.ndarray) -> dict:
    """The first two principal components of embeddings (for the results site), rounded."""
    centred = (x - x.mean(0)) / x.std(0).clip(1e-12)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T if vt.shape[0] >= 2 else np.pad(centred @ vt.T, ((0, 0), (0, 1)))
    return {
        "pc1": np.round(coords[:, 0], 4).tolist(),
        "pc2": np.round(coords[:, 1], 4).tolist(),
        "task_id": labels.tolist(),
    }


def to_numpy(x: Tensor) -> np.ndarray:
    return x.detach().to(torch.float64).cpu().numpy()

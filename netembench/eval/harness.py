"""Evaluate an embedder on a zoo, the same way every time (harness 1.3): the evaluation read top to
bottom. For each of the protocol's evaluation draws, the probe sets of the train, test and unseen
splits are drawn and embedded (`drawing`), through checked calls into the submission (`calls`), and
scored (`scoring`), at the track's probe-set size and at every size of its budget curve. At the end a
sample is embedded again in a fresh worker (`consistency`), and the draws are summarised (`summary`).

What the submission sees is sealed (DESIGN §12): it runs in a sandboxed worker process (`worker`,
`sandbox`) and gets copies of probe batches; the zoo's tables and weights are read before any of its
code runs (`snapshot`). Metrics are computed here, never there.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import numpy as np
import torch

from netembench.eval import metrics as M
from netembench.eval.calls import Calls
from netembench.eval.consistency import Recheck
from netembench.eval.drawing import SplitDrawer, SplitEmbeddings
from netembench.eval.embedders import InProcessRunner, Submission, Unsupported, ZooIdentity
from netembench.eval.scoring import Correct, Scorer, Scores
from netembench.eval.snapshot import Snapshot, take
from netembench.eval.summary import summarise
from netembench.eval.tracks import track_for
from netembench.progress import track
from netembench.zoo.store import Zoo

HARNESS_VERSION = "1.3.0"
DEFAULT_TIMEOUT = 600.0  # seconds per call into a submission (`netembench eval --timeout`)


class Evaluator:
    """One evaluation of the submission behind `runner` on `zoo`'s track."""

    def __init__(
        self,
        runner,
        zoo: Zoo,
        device: str = "cpu",
        batch_size: int = 512,
        quiet: bool = False,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.zoo, self.quiet = zoo, quiet
        self.track = track_for(zoo.name, zoo.tasks.dim)
        self.protocol = self.track.protocol
        version = self.protocol.version
        if version not in runner.info.protocols:
            raise Unsupported(
                f"{runner.info.name} handles protocol v{'/v'.join(map(str, sorted(runner.info.protocols)))} only; "
                f"{zoo.spec.ref} has {self.protocol.dim}-D inputs (protocol v{version}); an embedder that "
                f"handles them declares protocols = {{1, 2}}"
            )
        where = self.protocol.distribution
        if where not in runner.info.distributions:
            raise Unsupported(
                f"{runner.info.name} reads inputs drawn from {'/'.join(sorted(runner.info.distributions))} only; "
                f"{zoo.spec.ref} draws them from {where!r} (docs/protocol.md); an embedder that handles them "
                f"declares distributions = {{{where!r}}}"
            )
        identity = ZooIdentity(zoo.name, zoo.version, zoo.fingerprint)
        self.calls = Calls(runner, identity, Recheck(np.random.default_rng(secrets.randbits(128))))
        # Tables, labels and weights, read before any call into the submission (DESIGN §12).
        data = snapshot or take(zoo, torch.device(device))
        self.drawer = SplitDrawer(self.calls, data, zoo.fingerprint, batch_size, torch.device(device))
        self.scorer = Scorer(self.track, zoo.tasks, runner.info.name, getattr(runner, "timeout", None))
        runner.prepare(identity)

    def run(self) -> dict:
        """Every metric of the zoo's track: `{name: {mean, std, per_draw[, ci95]}}`, the budget curve,
        `info`, and `figures` (draw 0's embedding map and cloze examples, for the results site)."""
        draws: dict[str, list] = {}
        per_model: dict[str, list[np.ndarray]] = {}
        figures: dict = {}
        n = self.protocol.n_draws
        for draw in track(range(n), n, f"eval {self.calls.name} on {self.zoo.spec.ref}", "draw", self.quiet):
            scores, correct, test = self.score_draw(draw)
            if draw == 0:
                figures = {"embedding_map": M.embedding_map(test.x, test.table["task_id"])}
                if test.examples:
                    figures["cloze_examples"] = test.examples
            for k, v in scores.items():
                draws.setdefault(k, []).append(v)
            for k, v in correct.items():
                per_model.setdefault(k, []).append(v)
        self.calls.recheck_in_fresh_worker()
        out = summarise(self.track, "unseen" in self.zoo.splits, self.calls.width, draws, per_model, test.table)
        out["figures"] = figures
        iterations = self.scorer.iterations
        if iterations:
            out["info"]["probe_iterations"] = {"max": max(iterations), "median": float(np.median(iterations))}
        return out

    def score_draw(self, draw: int) -> tuple[Scores, Correct, SplitEmbeddings]:
        """One draw: the splits embedded at the track's probe-set size and scored, then the budget
        curve; returns the scores, which test models were identified, and the test embeddings."""
        embed = self.drawer.embed_split
        train = embed("train", draw, self.protocol)
        test = embed("test", draw, self.protocol, cloze=self.calls.runner.info.cloze, twins=True)
        unseen = embed("unseen", draw, self.protocol) if "unseen" in self.zoo.splits else None
        self.scorer.start_draw()
        scores, correct = self.scorer.timed(self.scorer.score, train, test, unseen)
        self.budget_curve(draw, scores)
        return scores, correct, test

    def budget_curve(self, draw: int, scores: Scores) -> None:
        """The main score at every probe-set size of the protocol's budgets (`budget/<N>`), each size
        drawn afresh; at the track's own size it is the main score already computed."""
        for n in self.protocol.budgets:
            if n == self.protocol.n_points:
                arch = [v for k, v in scores.items() if k.startswith("arch_probe_accuracy/")]
                scores[f"budget/{n}"] = float(np.mean(arch)) if self.track.per_arch else scores[self.track.main]
            else:
                p = self.protocol.at(n)
                budget = self.drawer.embed_split("train", draw, p), self.drawer.embed_split("test", draw, p)
                scores[f"budget/{n}"] = self.scorer.timed(self.scorer.main, *budget)


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

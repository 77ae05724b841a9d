"""What the leaderboard's pages show, whatever their format: the tracks in order, each track's
sections (headline, supervised, private-split, non-canonical, unsealed, superseded), columns and
cells, the suite table's rows, and the entries its figures plot. `markdown.py` and `site.py` lay
them out."""

from __future__ import annotations

from netembench.board.leaderboard import Entry, headline, suite_scores
from netembench.eval.tracks import TRACKS
from netembench.zoo.spec import CANONICAL_TRACKS

METRICS = {
    "main_score": "The track's main score (below), with its 95% bootstrap interval over test models.",
    "probe_accuracy": "Task accuracy of a logistic-regression probe on standardised embeddings, fitted on train models, scored on test models (other seeds).",
    "knn_accuracy": "Task accuracy of 5-nearest-neighbour (cosine, distance-weighted) classification of test models among train models.",
    "cluster_ami": "Adjusted mutual information between k-means clusters of test embeddings (k = number of tasks) and tasks.",
    "cluster_v_measure": "V-measure of the same clustering.",
    "unseen_cluster_ami": "Zero-shot: AMI of k-means clusters of models of tasks never seen in train.",
    "coarse_probe_accuracy": "poly-fine: probe accuracy for the family (coarse label); a sanity check.",
    "budget_curve": "The main score with probe sets of N = 8, 16, 32, 64 and 128 points (64 is the main score; 2-D tracks: 16 to 256, 128 is the main score; host tracks: 16 to 256, 64 is the main score): how few queries an embedder needs.",
    "twin_recall_at_1": "Functional twins: is a test model's nearest neighbour (cosine), among test models and their twins (hidden units permuted and rescaled: the same function), its own twin?",
    "twin_distance_ratio": "Median cosine distance to the twin over the median distance to another model of the same task (0: the symmetry is respected exactly).",
    "retrieval_recall_at_1": "poly-many: is a test model's nearest train model (cosine) of the same task?",
    "unseen_coef_r2": "poly-many: R² of a ridge regression from embedding to Chebyshev coefficients, fitted on train tasks, scored on unseen tasks.",
    "arch_probe_accuracy": "poly-xarch: probe accuracy on each test architecture (the probe is fitted on 1-32-32-1 models).",
    "cloze_nmse_pooled": "Cloze embedders: error on masked gradients, pooled over test models, normalised by each model's gradient variance.",
    "interp_nmse_pooled": "The same error for neighbour interpolation of the masked gradients (reference).",
}
TRACK_TEXT = {
    "poly-seed": "10 separated tasks × 50 seeds: the research note's setting. Main score: probe accuracy.",
    "poly-fine": "5 families × 10 close variants: fine-grained identification. Main score: probe accuracy (fine).",
    "poly-many": "1000 tasks, 4 seeds each. Main score: retrieval recall@1 across seeds (no linear probe: 2 train models per task).",
    "poly-xarch": "poly-fine tasks; probe trained on 1-32-32-1, tested on other architectures. Main score: mean accuracy over test architectures.",
    "poly2d-seed": "2-D inputs (protocol v2, 128 points): 10 separated polynomials in (x1, x2) × 50 seeds. Main score: probe accuracy.",
    "poly2d-fine": "2-D inputs (protocol v2, 128 points): 5 families × 10 close variants × 24 seeds. Main score: probe accuracy (fine).",
    "host-seed": "Components of host networks (protocol v2 on the 32-D activations entering a component, 64 points, inputs from the host's stem): 12 separated tasks, 3 components per host, 50 host seeds. Main score: probe accuracy across hosts.",
    "host-fine": "Components of host networks as host-seed: 5 families × 6 close variants, learnt only through their hosts' summed output. Main score: probe accuracy (fine) across hosts.",
}
READS = (("grad", "gradients"), ("y", "outputs"), ("weights", "weights"))


def columns(track: str, entries: list[Entry]) -> list[str]:
    """The metric columns of a track's tables: those its track reports and some entry has."""
    t = TRACKS.get(track)
    cols = ["probe_accuracy", "knn_accuracy", "cluster_ami", "cluster_v_measure", "unseen_cluster_ami"]
    cols += ["twin_recall_at_1", "twin_distance_ratio"]
    if t and t.coarse:
        cols += ["coarse_probe_accuracy"]
    if t and t.retrieval:
        cols = ["retrieval_recall_at_1", "unseen_coef_r2", *cols]
    if t and t.per_arch:
        archs = sorted({a for e in entries for a in e.data["metrics"].get("arch_probe_accuracy", {})})
        cols = [f"arch_probe_accuracy/{a}" for a in archs] + cols
    if any(e.data["embedder"]["cloze"] for e in entries):
        cols += ["cloze_nmse_pooled", "interp_nmse_pooled"]
    return [c for c in cols if any(value(e, c) is not None for e in entries)]


def value(entry: Entry, column: str) -> dict | None:
    """An entry's `{mean, std, ...}` of a column, or None."""
    metrics = entry.data["metrics"]
    if column.startswith("arch_probe_accuracy/"):
        return metrics.get("arch_probe_accuracy", {}).get(column.split("/", 1)[1])
    return metrics.get(column)


def reads(entry: Entry) -> str:
    """What the embedder reads, in words."""
    names = entry.data["embedder"]["reads"]
    return ", ".join(label for key, label in READS if key in names)


def sections(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """Sections of a track: the headline entries (a private-split score where there is one)
    self-supervised, then supervised; public-split scores of entries headed by a private one;
    non-canonical zoo; unsealed; superseded."""
    key = lambda e: (-e.metric("main_score"), e.name)  # noqa: E731
    top = headline(entries)
    sections = [
        ("self-supervised and non-learned", [e for e in top if not e.data["embedder"]["supervised"]]),
        ("supervised (trained with task labels)", [e for e in top if e.data["embedder"]["supervised"]]),
        (
            "public split of entries headed by their private-split score above",
            [e for e in entries if e.canonical and e not in top],
        ),
        (
            "non-canonical zoo (another build of this zoo version)",
            [e for e in entries if not e.canonical and not e.superseded and not e.unsealed],
        ),
        (
            "unsealed (evaluated without the sandbox; never verified)",
            [e for e in entries if e.unsealed and not e.superseded],
        ),
        (
            "superseded zoo version (kept for reference; not comparable with current versions)",
            [e for e in entries if e.superseded],
        ),
    ]
    return [(title, sorted(group, key=key)) for title, group in sections if group]


def tracks(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """(zoo, its entries): current canonical tracks in suite order, then others, superseded last."""
    superseded = {e.zoo for e in entries if e.superseded}
    zoos = sorted(
        {e.zoo for e in entries},
        key=lambda z: (
            z in superseded,
            CANONICAL_TRACKS.index(z.split("@")[0]) if z.split("@")[0] in CANONICAL_TRACKS else 99,
            z,
        ),
    )
    return [(z, [e for e in entries if e.zoo == z]) for z in zoos]


def suite_rows(entries: list[Entry]) -> list[tuple[str, float | None, dict[str, Entry]]]:
    """(embedder, suite score or None, its headline entries by track), best suite score first."""
    suite = suite_scores(entries)
    top = headline(entries)
    names = sorted({e.name for e in top}, key=lambda n: (-suite.get(n, -1), n))
    return [(n, suite.get(n), {e.track: e for e in top if e.name == n}) for n in names]


def main_cell(entry: Entry) -> str:
    """A suite table cell: the main score, marked when it comes from the private split."""
    return f"{entry.metric('main_score'):.3f}" + (" (private)" if entry.split == "private" else "")


def fmt(value: dict | None) -> str:
    """mean ± std, or a dash."""
    return "—" if value is None else f"{value['mean']:.3f} ± {value['std']:.3f}"


def header_name(column: str) -> str:
    """A column's header text."""
    return column.replace("arch_probe_accuracy/", "acc ").replace("_", " ")


def plotted(group: list[Entry]) -> list[Entry]:
    """A track's current entries for its figures and budget table, one per embedder: its headline
    entry (a private-split score hides the public one), else its non-canonical one."""
    top = headline(group)
    chosen: dict[str, Entry] = {}
    for e in group:
        if e in top or (not e.superseded and not e.canonical and all(t.name != e.name for t in top)):
            chosen.setdefault(e.name, e)
    return [e for e in group if chosen.get(e.name) is e]


def budget_rows(group: list[Entry]) -> list[tuple[Entry, dict[int, float]]]:
    """(entry, main score by probe points N) of each plotted entry with a budget curve."""
    return [
        (e, {int(n): v["mean"] for n, v in e.data["metrics"].get("budget_curve", {}).items()})
        for e in plotted(group)
        if e.data["metrics"].get("budget_curve")
    ]

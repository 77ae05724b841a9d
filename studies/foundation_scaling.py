"""The scaling study: test probe accuracy on poly-fine / poly2d-fine against pretraining-zoo and model size.

    python studies/foundation_scaling.py train --dim 1 --tasks 200 --size small   # one run
    python studies/foundation_scaling.py report                                 # score every run

Every run pretrains from scratch on the models of the first K tasks of pretrain-1d (or -2d), with
the same number of steps at every size (the foundation recipe's optimiser and objective, a shorter
schedule: `STEPS`), so that only the data and the model change. `report` scores each finished run
with the harness's linear probe on the track's test split (`score`: nothing fitted per run but the
probe), and writes the model card's `logs/scaling.json` and `figures/scaling-<track>.svg` (in
baselines/cloze_foundation) and the results site's study files (`leaderboard/studies/`). It lives
outside the submission's folder so that its code is not part of the entry's source hash. Checkpoints stay under `--runs` (not shipped: the logs say how to remake them).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

from netembench.board import figures
from netembench.eval.metrics import probe_correct
from netembench.eval.training import task_subset
from netembench.zoo.source import load_zoo

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "baselines" / "cloze_foundation"
sys.path.insert(0, str(HERE))  # train.py: the recipe, its model and the reference's embedding helper
STEPS = {1: 2000, 2: 600}
TASKS = {1: (200, 632, 2000), 2: (100, 316, 1000)}
SIZES = {"small": (32, 2), "base": (64, 3)}  # d_model, layers
ZOOS = {1: "pretrain-1d", 2: "pretrain-2d"}
TRACKS = {1: "poly-fine", 2: "poly2d-fine"}


def run_name(dim: int, tasks: int, size: str) -> str:
    return f"{dim}d-{tasks}tasks-{size}"


def train(args: argparse.Namespace) -> None:
    import train as recipe

    d_model, layers = SIZES[args.size]
    name = run_name(args.dim, args.tasks, args.size)
    recipe.main([
        "--zoo", args.zoo or ZOOS[args.dim], "--tasks", str(args.tasks), "--steps", str(STEPS[args.dim]),
        "--d-model", str(d_model), "--layers", str(layers), "--out", str(Path(args.runs) / f"{name}.safetensors"),
        "--log", str(Path(args.runs) / f"{name}.json"), *(["--cache-dir", args.cache_dir] if args.cache_dir else []),
        "--quiet",
    ])  # fmt: skip


def score(checkpoint: Path, zoo) -> dict:
    """Test probe accuracy: the harness's linear probe fitted on the track's train-split embeddings
    and scored on its test split, from one fixed unmasked probe draw. It is the main score's probe
    without the harness's four draws, budget curves and other metrics (about a twentieth of a full
    evaluation, which takes up to six minutes on poly-fine); `n_test` gives its binomial noise."""
    import train as recipe

    model = recipe.load_checkpoint(checkpoint)
    start = time.perf_counter()
    train_x, train_y = recipe.REFERENCE.split_embeddings(model, zoo, "train", "cpu")
    test_x, test_y = recipe.REFERENCE.split_embeddings(model, zoo, "test", "cpu")
    correct = probe_correct(train_x, train_y, test_x, test_y)
    return {"test_probe_accuracy": float(correct.mean()), "n_test": len(correct),
            "params": sum(p.numel() for p in model.parameters()), "eval_seconds": time.perf_counter() - start}


def report(args: argparse.Namespace) -> None:
    runs, out = Path(args.runs), {}
    for dim in (1, 2):
        track = load_zoo(TRACKS[dim], cache=args.cache_dir, quiet=True)
        rows = []
        for size in SIZES:
            for tasks in TASKS[dim]:
                name = run_name(dim, tasks, size)
                if not (runs / f"{name}.safetensors").is_file():
                    continue
                log = json.loads((runs / f"{name}.json").read_text())
                models = train_models(pretraining_zoo(log["args"]["zoo"], args.cache_dir), tasks)
                rows.append({"run": name, "size": size, "tasks": tasks, "models": models, "steps": log["steps"],
                             "train_seconds": log["seconds"], **score(runs / f"{name}.safetensors", track)})
                print(json.dumps(rows[-1]), flush=True)
        out[track.spec.ref] = rows
    write(out)


@functools.cache
def pretraining_zoo(ref: str, cache_dir: str | None):
    """A run's pretraining zoo, opened (and verified) once for all the runs that share it."""
    return load_zoo(ref, cache=cache_dir, quiet=True)


def train_models(zoo, tasks: int) -> int:
    """How many networks a run trained on: the rule training applied (`task_subset`)."""
    return sum(len(g) for g in task_subset(zoo.groups("train"), tasks))


def study(track: str, rows: list[dict]) -> dict:
    """The JSON a scaling plot is drawn from (`figures.scaling_curve`)."""
    series: dict[str, dict[str, float]] = {}
    for row in rows:
        d_model, layers = SIZES[row["size"]]
        label = f"width {d_model} × {layers} ({row['params'] / 1000:.0f}k)"
        series.setdefault(label, {})[str(row["models"])] = round(row["test_probe_accuracy"], 4)
    return {"title": "cloze_foundation: does more pretraining data help?", "track": track, "metric": "test probe accuracy",
            "series": series, "source": "studies/foundation_scaling.py"}


def write(out: dict[str, list[dict]]) -> None:
    (HERE / "logs").mkdir(exist_ok=True)
    (HERE / "logs" / "scaling.json").write_text(json.dumps({"steps": STEPS, "sizes": SIZES, "runs": out}, indent=1) + "\n")
    studies = ROOT / "leaderboard" / "studies"
    studies.mkdir(parents=True, exist_ok=True)
    (HERE / "figures").mkdir(exist_ok=True)
    for track, rows in out.items():
        if not rows:
            continue
        data = study(track, rows)
        name = track.split("@")[0]
        (studies / f"cloze_foundation-scaling-{name}.json").write_text(json.dumps(data, indent=1) + "\n")
        svg = figures.scaling_curve(data).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
        (HERE / "figures" / f"scaling-{name}.svg").write_text(svg + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("train", "report"))
    parser.add_argument("--dim", type=int, choices=(1, 2))
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--size", choices=tuple(SIZES))
    parser.add_argument("--zoo", help="the pretraining zoo (default: pretrain-<dim>d from the cache)")
    parser.add_argument("--runs", default="runs/cloze_foundation-scaling", help="where run checkpoints and logs go")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    if args.command == "train":
        if None in (args.dim, args.tasks, args.size):
            parser.error("train needs --dim, --tasks and --size")
        train(args)
    else:
        report(args)


if __name__ == "__main__":
    main()

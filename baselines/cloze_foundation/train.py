"""Pretrain the foundation cloze transformer on a pretraining zoo, or fine-tune a checkpoint on a track.

    python baselines/cloze_foundation/train.py --zoo pretrain-1d --minutes 25      # CPU recipe, 1-D half
    python baselines/cloze_foundation/train.py --zoo pretrain-2d --minutes 25      # CPU recipe, 2-D half
    python baselines/cloze_foundation/train.py --zoo pretrain-1d --tasks 200 --steps 2000 --out s.safetensors
    python baselines/cloze_foundation/train.py --zoo poly-fine --init checkpoints/foundation-1d.safetensors \\
        --steps 600 --lr 5e-4 --out ../cloze_foundation_ft/checkpoints/poly-fine@1.2.0.safetensors

The objective is the cloze transformer's (baselines/cloze_transformer/train.py `step_losses`): cloze
on whole masked linear regions, InfoNCE between two probe draws of the same network, each CLS
decoding the other draw's gradients; on a host zoo (`--view host`, the default for host-* zoos) the
same losses on the 1-D view of a component (baselines/cloze_host). Self-supervised: no task ids
reach the loss. `--monitor TRACK` logs the harness probe's accuracy on that canonical track's
validation split (probe fitted on its train split) as the run goes: model selection only, test
splits are never read. `--tasks K` trains on the models of the first K tasks only (the
data-scaling study).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from netembench.eval.tracks import track_for
from netembench.progress import Progress
from netembench.eval.training import training_batches
from netembench.zoo.source import load_zoo
from netembench.zoo.spec import PRETRAINING_ZOOS

HERE = Path(__file__).resolve().parent


def sibling(name: str, folder: str):
    """A module from another baseline's folder, loaded by path (both folders hold a `train.py`)."""
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", HERE.parent / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = sibling("train", "cloze_transformer")  # step_losses, validation_probe_accuracy
HOST = sibling("train", "cloze_host")  # losses_of, validation_probe_accuracy on 1-D views
ClozeTransformer, Config, load_checkpoint = REFERENCE.ClozeTransformer, REFERENCE.Config, HOST.load_checkpoint


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True, help="pretrain-1d / pretrain-2d, a track, or a zoo folder")
    parser.add_argument("--init", help="checkpoint to start from (fine-tuning)")
    parser.add_argument("--tasks", type=int, help="train on the models of tasks 0 .. K-1 only")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--minutes", type=float, help="stop after this many minutes (the schedule assumes --steps)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--contrastive", type=float, default=1.0)
    parser.add_argument("--decode", type=float, default=1.0)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--view", choices=("uniform", "host"), help="default: host for host-* zoos")
    parser.add_argument("--monitor", help="canonical track whose validation probe accuracy is logged")
    parser.add_argument("--probe-every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", help="checkpoint path (default: checkpoints/foundation-<d>d.safetensors)")
    parser.add_argument("--log", help="JSON log path (default: logs/ beside the checkpoint's name)")
    parser.add_argument("--cache-dir")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def make_model(args: argparse.Namespace, inputs: int) -> ClozeTransformer:
    if args.init:
        return load_checkpoint(Path(args.init)).train()
    return ClozeTransformer(Config(d_model=args.d_model, n_layers=args.layers, d_ff=2 * args.d_model, inputs=inputs))


def monitor_score(model: ClozeTransformer, track: str | None, args: argparse.Namespace) -> float | None:
    """Validation probe accuracy on `track` (None without --monitor)."""
    if not track:
        return None
    zoo = load_zoo(track, cache=args.cache_dir, quiet=True)
    model.eval()
    with torch.no_grad():
        if zoo.name.startswith("host-"):
            score = HOST.validation_probe_accuracy(model, zoo, track_for(zoo.name, 1).protocol)
        else:
            score = REFERENCE.validation_probe_accuracy(model, zoo, args.device)
    model.train()
    return score


def losses(model: ClozeTransformer, views, args: argparse.Namespace) -> tuple[torch.Tensor, dict[str, float]]:
    if args.view == "host":
        return HOST.losses_of(model, views, args.temperature)
    return REFERENCE.step_losses(model, views, args)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    torch.manual_seed(args.seed)
    zoo = load_zoo(args.zoo, cache=args.cache_dir, build_if_missing=True, device=args.device, quiet=args.quiet)
    args.view = args.view or ("host" if zoo.name.startswith("host-") else "uniform")
    inputs = 1 if args.view == "host" else zoo.tasks.dim
    model = make_model(args, inputs).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = lambda s: min(1.0, (s + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    protocol = track_for(zoo.name, 1 if args.view == "host" else zoo.tasks.dim).protocol
    batches = training_batches(zoo, "train", args.batch_size, views=2, protocol=protocol, device=args.device,
                               seed=args.seed, max_tasks=args.tasks)
    held_out = list(zip(range(8), training_batches(zoo, "validation", args.batch_size, views=2, protocol=protocol,
                                                  device=args.device, seed=10_000, max_tasks=args.tasks)))
    log = {"zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "pretraining": zoo.name in PRETRAINING_ZOOS,
           "args": vars(args), "config": model.cfg.as_dict(), "train": [], "validation": []}

    def validate(step: int, probe: bool) -> None:
        model.eval()
        with torch.no_grad():
            parts = [losses(model, views, args)[1] for _, views in held_out]
        model.train()
        entry = {"step": step, **{k: float(np.mean([p[k] for p in parts])) for k in parts[0]}}
        if probe and args.monitor:
            entry["monitor_probe_accuracy"] = monitor_score(model, args.monitor, args)
        log["validation"].append(entry)
        if not args.quiet:
            print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k != "step"), file=sys.stderr)

    start, step = time.perf_counter(), 0
    bar = Progress(args.steps, f"train cloze_foundation on {zoo.spec.ref}", "step", quiet=args.quiet)
    for step in range(args.steps):
        loss, parts = losses(model, next(batches), args)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0:
            log["train"].append({"step": step, **parts, "lr": sched.get_last_lr()[0]})
            bar.set_postfix(**{k: f"{v:.3f}" for k, v in parts.items()})
        bar.update(1)
        out_of_time = bool(args.minutes) and time.perf_counter() - start > args.minutes * 60
        last = step == args.steps - 1 or out_of_time
        if step % 250 == 0 or last:
            validate(step, probe=last or (step > 0 and step % args.probe_every == 0))
        if out_of_time:
            break
    bar.close()
    log["steps"], log["seconds"] = step + 1, time.perf_counter() - start
    save(model, zoo, args, log)


def save(model: ClozeTransformer, zoo, args: argparse.Namespace, log: dict) -> None:
    name = f"foundation-{model.cfg.inputs}d" if zoo.name in PRETRAINING_ZOOS else zoo.spec.ref
    out = Path(args.out or HERE / "checkpoints" / f"{name}.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(model.cfg.as_dict()), "zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint,
            "steps": str(log["steps"]), "seed": str(args.seed), "init": Path(args.init).name if args.init else ""}
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(out), metadata=meta)
    out.chmod(0o644)  # the sandbox runs submissions as nobody: a checkpoint must be world-readable
    log_path = Path(args.log or out.parent.parent / "logs" / f"{out.stem}.json")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(json.dumps(log, indent=1) + "\n")
    print(f"trained {log['steps']} steps in {log['seconds']:.0f} s; checkpoint {out}; log {log_path}")


if __name__ == "__main__":
    main()

"""Train the cloze transformer on a zoo's train split; write a safetensors checkpoint and a JSON log.

    python baselines/cloze_transformer/train.py --zoo poly-seed                 # the CPU recipe
    python baselines/cloze_transformer/train.py --zoo poly-fine --device cuda --steps 20000 --batch-size 256

Every batch is a fresh probe draw of random train models (never validation or test), with whole
linear regions masked as the evaluation protocol does, and a second, unmasked draw of the same
models. Loss: the cloze error on the masked draw's hidden gradients, InfoNCE between the two
draws' CLS projections, and each CLS decoding the other draw's gradients. No task ids, families or
coefficients are used. Validation losses, and every `--probe-every` steps the validation probe
accuracy (the model-selection score), are logged; the final step is the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import ClozeTransformer, Config, cloze_loss, info_nce  # noqa: E402

from netembench import rng  # noqa: E402
from netembench.metrics import probe_correct  # noqa: E402
from netembench.probes import draw_probes  # noqa: E402
from netembench.registry import load_zoo  # noqa: E402
from netembench.store import Zoo  # noqa: E402
from netembench.tracks import track_for  # noqa: E402
from netembench.training import training_batches  # noqa: E402

HERE = Path(__file__).resolve().parent


def step_losses(model: ClozeTransformer, views, args: argparse.Namespace) -> tuple[torch.Tensor, dict[str, float]]:
    """The training objective on two draws of the same models: cloze on the masked draw; for the
    region-blind embeddings of the masked draw and of the other, unmasked one, InfoNCE between
    their projections and each decoding the other draw's gradients."""
    masked, clean = views
    pred = model.cloze(masked.batch.x, masked.batch.grad, masked.batch.mask, masked.batch.region)
    cls_masked = model.embed(masked.batch.x, masked.batch.grad, masked.batch.mask)
    cls_clean = model.embed(clean.batch.x, clean.target, torch.zeros_like(clean.batch.mask))
    everywhere = torch.ones_like(masked.batch.mask)
    losses = {
        "cloze": cloze_loss(pred, masked.target, masked.batch.mask),
        "nce": info_nce(model.projection(cls_masked), model.projection(cls_clean), args.temperature),
        "decode": 0.5 * (cloze_loss(model.decode(cls_masked, clean.batch.x), clean.target, everywhere)
                         + cloze_loss(model.decode(cls_clean, masked.batch.x), masked.target, everywhere)),
    }
    total = losses["cloze"] + args.contrastive * losses["nce"] + args.decode * losses["decode"]
    return total, {k: v.item() for k, v in losses.items()}


@torch.no_grad()
def split_embeddings(model: ClozeTransformer, zoo: Zoo, split: str, device: str, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """CLS embeddings of every model of a split from one fixed unmasked probe draw, and task ids."""
    embeddings, tasks = [], []
    for group in zoo.groups(split):
        pop = zoo.population(group).to(device)
        ids = torch.as_tensor(group.table["model_id"])
        keys = rng.model_keys(rng.key_from_text("netembench-cloze-transformer:selection"), ids)
        for start in range(0, len(ids), chunk):
            rows = slice(start, start + chunk)
            probes = draw_probes(pop.select(rows), ids[rows], keys[rows], protocol_of(zoo))
            embeddings.append(model.embed(probes.x, probes.grad, torch.zeros_like(probes.mask)).cpu().numpy())
        tasks.append(group.table["task_id"])
    return np.concatenate(embeddings), np.concatenate(tasks)


def protocol_of(zoo: Zoo):
    """The zoo's evaluation protocol (v1 for 1-D tracks, v2 at the track's N for 2-D ones)."""
    return track_for(zoo.name, zoo.tasks.dim).protocol


def validation_probe_accuracy(model: ClozeTransformer, zoo: Zoo, device: str) -> float:
    """Model-selection score: task accuracy of the harness's linear probe fitted on train-split
    embeddings and scored on validation-split ones. Task ids are read here, never by the loss."""
    train, train_y = split_embeddings(model, zoo, "train", device)
    val, val_y = split_embeddings(model, zoo, "validation", device)
    return float(probe_correct(train, train_y, val, val_y).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=4000, help="optimiser steps (default: the CPU recipe, ~15 min on 2 cores)")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes instead (not reproducible step for step)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--contrastive", type=float, default=1.0, help="weight of the InfoNCE loss")
    parser.add_argument("--decode", type=float, default=1.0, help="weight of the CLS -> gradient-function decoding loss")
    parser.add_argument("--temperature", type=float, default=0.1, help="InfoNCE temperature")
    parser.add_argument("--d-model", type=int, default=Config.d_model)
    parser.add_argument("--layers", type=int, default=Config.n_layers)
    parser.add_argument("--probe-every", type=int, default=1000, help="also log the validation probe accuracy every this many steps (always at the end)")
    parser.add_argument("--out", help="checkpoint path (default: checkpoints/<zoo>@<version>.safetensors)")
    parser.add_argument("--log", help="JSON log path (default: logs/<zoo>@<version>.json)")
    parser.add_argument("--cache-dir")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    zoo = load_zoo(args.zoo, cache=args.cache_dir, build_if_missing=True, device=args.device, quiet=args.quiet)
    cfg = Config(d_model=args.d_model, n_layers=args.layers, d_ff=2 * args.d_model, inputs=zoo.tasks.dim)
    model = ClozeTransformer(cfg).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, min(100, args.steps // 10))
    schedule = lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    protocol = protocol_of(zoo)
    train = training_batches(zoo, "train", args.batch_size, views=2, protocol=protocol, device=args.device, seed=args.seed)
    val_batches = list(zip(range(8), training_batches(zoo, "validation", args.batch_size, views=2, protocol=protocol, device=args.device, seed=10_000)))
    log = {"zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "args": vars(args), "config": cfg.as_dict(), "train": [], "validation": []}

    def validate(step: int, final: bool = False) -> None:
        model.eval()
        with torch.no_grad():
            losses = [step_losses(model, views, args)[1] for _, views in val_batches]
        entry = {"step": step, **{k: float(np.mean([loss[k] for loss in losses])) for k in losses[0]}}
        if final or (args.probe_every and step % args.probe_every == 0):
            entry["probe_accuracy"] = validation_probe_accuracy(model, zoo, args.device)
        model.train()
        log["validation"].append(entry)

    start = time.perf_counter()
    bar = tqdm(range(args.steps), desc=f"train cloze_transformer on {zoo.spec.ref}", disable=True if args.quiet else None)
    step = 0
    for step in bar:
        loss, parts = step_losses(model, next(train), args)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0:
            log["train"].append({"step": step, **parts, "lr": sched.get_last_lr()[0]})
            bar.set_postfix({k: f"{v:.3f}" for k, v in parts.items()})
        out_of_time = bool(args.minutes) and time.perf_counter() - start > args.minutes * 60
        if step % 250 == 0 or step == args.steps - 1 or out_of_time:
            validate(step, final=step == args.steps - 1 or out_of_time)
        if out_of_time:
            break
    log["steps"] = step + 1
    log["seconds"] = time.perf_counter() - start
    out = Path(args.out or HERE / "checkpoints" / f"{zoo.spec.ref}.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(cfg.as_dict()), "zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "steps": str(step + 1), "seed": str(args.seed)}
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(out), metadata=meta)
    log_path = Path(args.log or HERE / "logs" / f"{zoo.spec.ref}.json")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(json.dumps(log, indent=1) + "\n")
    print(f"trained {step + 1} steps in {log['seconds']:.0f} s; checkpoint {out}; log {log_path}")


if __name__ == "__main__":
    main()

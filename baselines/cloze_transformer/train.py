"""Train the cloze transformer on a zoo's train split; write a safetensors checkpoint and a JSON log.

    python baselines/cloze_transformer/train.py --zoo poly-seed                 # the CPU recipe
    python baselines/cloze_transformer/train.py --zoo poly-fine --device cuda --steps 20000

Every batch is a fresh probe draw of random train models (never validation or test), with whole
linear regions masked as the evaluation protocol does. Loss: the cloze error on masked gradients
of one draw, plus InfoNCE between the CLS projections of that draw and an independent unmasked
draw of the same models. No task ids, families or coefficients are used. Validation losses (the
same objectives on validation models) are logged; the final step is the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import ClozeTransformer, Config, cloze_loss, info_nce  # noqa: E402

from netembench.registry import load_zoo  # noqa: E402
from netembench.training import training_batches  # noqa: E402

HERE = Path(__file__).resolve().parent


def step_losses(model: ClozeTransformer, views, contrastive: float) -> tuple[torch.Tensor, float, float]:
    masked, clean = views
    pred, cls_masked = model(masked.batch.x, masked.batch.grad, masked.batch.mask)
    _, cls_clean = model(clean.batch.x, clean.target, torch.zeros_like(clean.batch.mask))
    cloze = cloze_loss(pred, masked.target, masked.batch.mask)
    nce = info_nce(model.projection(cls_masked), model.projection(cls_clean))
    return cloze + contrastive * nce, cloze.item(), nce.item()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=1500, help="optimiser steps (default: the CPU recipe, ~12 min on 2 cores)")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes instead (not reproducible step for step)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--contrastive", type=float, default=1.0, help="weight of the InfoNCE loss")
    parser.add_argument("--d-model", type=int, default=Config.d_model)
    parser.add_argument("--layers", type=int, default=Config.n_layers)
    parser.add_argument("--out", help="checkpoint path (default: checkpoints/<zoo>@<version>.safetensors)")
    parser.add_argument("--log", help="JSON log path (default: logs/<zoo>@<version>.json)")
    parser.add_argument("--cache-dir")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    zoo = load_zoo(args.zoo, cache=args.cache_dir, build_if_missing=True, device=args.device, quiet=args.quiet)
    cfg = Config(d_model=args.d_model, n_layers=args.layers, d_ff=2 * args.d_model)
    model = ClozeTransformer(cfg).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, min(100, args.steps // 10))
    schedule = lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    train = training_batches(zoo, "train", args.batch_size, views=2, device=args.device, seed=args.seed)
    val_batches = list(zip(range(8), training_batches(zoo, "validation", args.batch_size, views=2, device=args.device, seed=10_000)))
    log = {"zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "args": vars(args), "config": cfg.as_dict(), "train": [], "validation": []}

    def validate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            losses = [step_losses(model, views, args.contrastive)[1:] for _, views in val_batches]
        model.train()
        log["validation"].append({"step": step, "cloze": sum(c for c, _ in losses) / len(losses), "nce": sum(n for _, n in losses) / len(losses)})

    start = time.perf_counter()
    bar = tqdm(range(args.steps), desc=f"train cloze_transformer on {zoo.spec.ref}", disable=True if args.quiet else None)
    step = 0
    for step in bar:
        loss, cloze, nce = step_losses(model, next(train), args.contrastive)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0:
            log["train"].append({"step": step, "cloze": cloze, "nce": nce, "lr": sched.get_last_lr()[0]})
            bar.set_postfix(cloze=f"{cloze:.3f}", nce=f"{nce:.3f}")
        if step % 250 == 0 or step == args.steps - 1:
            validate(step)
        if args.minutes and time.perf_counter() - start > args.minutes * 60:
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

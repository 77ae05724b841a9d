"""Train the weight-space encoder on a zoo's train split; write a safetensors checkpoint and a JSON log.

    python baselines/weight_space/train.py --zoo poly-seed                  # self-supervised (CPU recipe)
    python baselines/weight_space/train.py --zoo poly-seed --supervised     # with task labels

Self-supervised: every step takes a batch of random train-split networks and two augmented copies
of each (`model.augment`: hidden units permuted and rescaled, small weight noise; both copies
compute nearly the network's function); InfoNCE between their projected embeddings, other networks
of the batch as negatives. No task ids, families or coefficients. Supervised (`--supervised`, the
ceiling with labels): cross-entropy on the task id of both copies. Every `--probe-every` steps the
validation probe accuracy (the harness's linear probe, fitted on train embeddings and scored on
validation ones) is logged: the model-selection score. The last step is the checkpoint.
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
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm.auto import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from weight_encoder import Config, WeightEncoder, augment, decode_points, info_nce, outputs_at  # noqa: E402

from netembench.metrics import probe_correct  # noqa: E402
from netembench.population import Population  # noqa: E402
from netembench.registry import load_zoo  # noqa: E402

HERE = Path(__file__).resolve().parent


def split_population(zoo, split: str) -> tuple[Population, np.ndarray]:
    groups = zoo.groups(split)
    archs = {g.arch.name for g in groups}
    if len(archs) != 1:
        raise SystemExit(f"{zoo.spec.ref}: split {split!r} mixes architectures {sorted(archs)}; "
                         "the encoder reads one depth (see the model card)")
    pops = [zoo.population(g) for g in groups]
    pop = Population(pops[0].arch, [torch.cat(t) for t in zip(*[p.weights for p in pops])],
                     [torch.cat(t) for t in zip(*[p.biases for p in pops])])
    return pop, np.concatenate([g.table["task_id"] for g in groups])


@torch.no_grad()
def embed_all(model: WeightEncoder, pop: Population, chunk: int = 512) -> np.ndarray:
    return np.concatenate([model(pop.select(slice(s, s + chunk))).numpy() for s in range(0, len(pop), chunk)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True)
    parser.add_argument("--supervised", action="store_true", help="train on task labels (the supervised variant)")
    parser.add_argument("--steps", type=int, default=2000, help="optimiser steps (the CPU recipe: a few minutes on 2 cores)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--channels", type=int, default=Config.channels)
    parser.add_argument("--max-scale", type=float, default=4.0, help="augmentation: per-unit factors in [1/s, s]")
    parser.add_argument("--noise", type=float, default=0.01, help="augmentation: relative weight noise")
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--decode", type=float, default=1.0,
                        help="weight of decoding the network's own outputs on a grid from its embedding")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probe-every", type=int, default=200)
    parser.add_argument("--out")
    parser.add_argument("--log")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    zoo = load_zoo(args.zoo, build_if_missing=True, quiet=args.quiet)
    train, train_task = split_population(zoo, "train")
    val, val_task = split_population(zoo, "validation")
    n_classes = int(len(zoo.tasks)) if args.supervised else 0
    cfg = Config(depth=train.arch.depth, inputs=train.arch.inputs, channels=args.channels, n_classes=n_classes,
                 decode_points=33 if train.arch.inputs == 1 else 17)
    model = WeightEncoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
    )
    labels = torch.as_tensor(train_task)
    points = decode_points(cfg)
    log = {"zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "args": vars(args), "config": cfg.as_dict(),
           "train": [], "validation": []}

    def validate(step: int) -> None:
        model.eval()
        acc = float(probe_correct(embed_all(model, train), train_task, embed_all(model, val), val_task).mean())
        model.train()
        log["validation"].append({"step": step, "probe_accuracy": acc})
        if not args.quiet:
            print(f"step {step}: validation probe accuracy {acc:.3f}", flush=True)

    start = time.perf_counter()
    for step in tqdm(range(args.steps), desc=f"train weight_space on {zoo.spec.ref}", disable=True if args.quiet else None):
        rows = torch.randint(0, len(train), (args.batch_size,), generator=gen)
        batch = train.select(rows)
        a, b = (model(augment(batch, gen, args.max_scale, args.noise)) for _ in range(2))
        if args.supervised:
            loss = 0.5 * (F.cross_entropy(model.classifier(a), labels[rows]) + F.cross_entropy(model.classifier(b), labels[rows]))
        else:
            target = outputs_at(batch, points)
            decode = 0.5 * (F.mse_loss(model.decoder(a), target) + F.mse_loss(model.decoder(b), target)) / target.var()
            loss = info_nce(model.projection(a), model.projection(b), args.temperature) + args.decode * decode
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 10 == 0:
            log["train"].append({"step": step, "loss": loss.item()})
        if (args.probe_every and step % args.probe_every == 0) or step == args.steps - 1:
            validate(step)
    log["seconds"] = time.perf_counter() - start
    folder = HERE.parent / ("weight_space_supervised" if args.supervised else "weight_space")
    out = Path(args.out or folder / "checkpoints" / f"{zoo.spec.ref}.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(cfg.as_dict()), "zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "steps": str(args.steps)}
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out), metadata=meta)
    log_path = Path(args.log or folder / "logs" / f"{zoo.spec.ref}.json")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(json.dumps(log, indent=1) + "\n")
    print(f"trained {args.steps} steps in {log['seconds']:.0f} s; checkpoint {out}; log {log_path}")


if __name__ == "__main__":
    main()

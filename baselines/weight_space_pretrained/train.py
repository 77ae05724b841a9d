"""Pretrain the weight-space encoder self-supervised on a pretraining zoo (all its networks of one depth).

    python baselines/weight_space_pretrained/train.py --zoo /work/precache/pretrain-1d --monitor poly-fine --steps N
    python baselines/weight_space_pretrained/train.py --zoo /work/precache/pretrain-2d --monitor poly2d-fine --steps N

Why: baselines/weight_space is trained on one track's train split (19 networks per task, 100-2000
steps), while the query readers (cloze_foundation) pretrain on the pretraining zoos' 5,000-12,000
networks. This script gives the weight reader the same data, so that weights and queries are
compared at equal data (issue #22, item 5).

The objective is weight_space's self-supervised recipe, unchanged (baselines/weight_space/train.py,
whose helpers are imported): two augmented copies of each network (hidden units permuted and
rescaled, 1% weight noise), InfoNCE between their projections, and decoding the network's own
outputs on a grid from its embedding. No task ids reach the loss. The encoder reads one depth
(`--depth`, 2: the tracks' depth) and any width, so the zoo's train split is cut into its
architecture groups of that depth (pretrain-1d: 1-16-16-1 and 1-32-32-1; pretrain-2d: 2-32-32-1 and
2-64-64-1), and every step's batch comes from one group, drawn in proportion to the groups' sizes
(a batch must stack: one width). Every draw follows `--seed`. Every `--probe-every` steps the
harness probe's accuracy on the `--monitor` track's validation split (fitted on its train split)
is logged: model selection only, no test split is read. The last step is the checkpoint, written
like weight_space's (safetensors, `config` in the metadata) to checkpoints/<zoo name>.safetensors,
the log to logs/<zoo name>.json.
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
import torch.nn.functional as F
from safetensors.torch import save_file

from netembench.metrics import probe_correct
from netembench.zoo.source import load_zoo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from weight_encoder import Config, WeightEncoder, augment, decode_points, info_nce, outputs_at  # noqa: E402

_spec = importlib.util.spec_from_file_location("weight_space_train", HERE.parent / "weight_space" / "train.py")
WS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(WS)  # split_population (one architecture per split), embed_all


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True, help="pretraining zoo: folder or name (pretrain-1d, pretrain-2d)")
    parser.add_argument("--depth", type=int, default=2, help="hidden layers of the networks the encoder reads")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--minutes", type=float, help="stop early after this many minutes (the schedule assumes --steps)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--channels", type=int, default=Config.channels)
    parser.add_argument("--max-scale", type=float, default=4.0, help="augmentation: per-unit factors in [1/s, s]")
    parser.add_argument("--noise", type=float, default=0.01, help="augmentation: relative weight noise")
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--decode", type=float, default=1.0, help="weight of decoding the network's own outputs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--monitor", help="track (or zoo folder) whose validation probe accuracy is logged")
    parser.add_argument("--probe-every", type=int, default=250)
    parser.add_argument("--cache-dir", help="zoo cache for --monitor (default: NETEMBENCH_CACHE)")
    parser.add_argument("--out", help="checkpoint (default: checkpoints/<zoo name>.safetensors)")
    parser.add_argument("--log", help="JSON log (default: logs/<zoo name>.json)")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def train_groups(zoo, depth: int):
    """The train split's populations of the encoder's depth, one per architecture."""
    groups = [g for g in zoo.groups("train") if g.arch.depth == depth]
    if not groups:
        raise SystemExit(f"{zoo.spec.ref}: no depth-{depth} networks in the train split")
    return [zoo.population(g) for g in groups]


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    zoo = load_zoo(args.zoo, cache=args.cache_dir, quiet=True)
    pops = train_groups(zoo, args.depth)
    sizes = torch.tensor([len(p) for p in pops], dtype=torch.float64)
    inputs = pops[0].arch.inputs
    cfg = Config(depth=args.depth, inputs=inputs, channels=args.channels, decode_points=33 if inputs == 1 else 17)
    model = WeightEncoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))
    )
    points = decode_points(cfg)
    log = {"zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "args": vars(args), "config": cfg.as_dict(),
           "groups": {p.arch.name: len(p) for p in pops}, "train": [], "validation": []}

    monitor = None
    if args.monitor:
        mzoo = load_zoo(args.monitor, cache=args.cache_dir, quiet=True)
        monitor = (mzoo.spec.ref, *WS.split_population(mzoo, "train"), *WS.split_population(mzoo, "validation"))
        log["monitor"] = mzoo.spec.ref

    def validate(step: int) -> None:
        _, train, train_task, val, val_task = monitor
        model.eval()
        acc = float(probe_correct(WS.embed_all(model, train), train_task, WS.embed_all(model, val), val_task).mean())
        model.train()
        log["validation"].append({"step": step, "seconds": time.perf_counter() - start, "probe_accuracy": acc})
        if not args.quiet:
            print(f"step {step}: {monitor[0]} validation probe accuracy {acc:.3f}", flush=True)

    start, step = time.perf_counter(), 0
    for step in range(args.steps):
        group = int(torch.multinomial(sizes, 1, generator=gen))
        rows = torch.randint(0, len(pops[group]), (args.batch_size,), generator=gen)
        batch = pops[group].select(rows)
        a, b = (model(augment(batch, gen, args.max_scale, args.noise)) for _ in range(2))
        target = outputs_at(batch, points)
        decode = 0.5 * (F.mse_loss(model.decoder(a), target) + F.mse_loss(model.decoder(b), target)) / target.var()
        contrast = info_nce(model.projection(a), model.projection(b), args.temperature)
        loss = contrast + args.decode * decode
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 10 == 0:
            log["train"].append({"step": step, "group": pops[group].arch.name, "loss": loss.item(),
                                 "info_nce": contrast.item(), "decode": decode.item()})
            if not args.quiet and step % 50 == 0:
                print(f"step {step} ({time.perf_counter() - start:.0f} s): loss {loss.item():.3f}", flush=True)
        out_of_time = bool(args.minutes) and time.perf_counter() - start > args.minutes * 60
        if monitor and ((args.probe_every and step % args.probe_every == 0) or step == args.steps - 1 or out_of_time):
            validate(step)
        if out_of_time:
            break
    log["steps"], log["seconds"] = step + 1, time.perf_counter() - start
    out = Path(args.out or HERE / "checkpoints" / f"{zoo.name}.safetensors")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"config": json.dumps(cfg.as_dict()), "zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint,
            "steps": str(log["steps"]), "seed": str(args.seed)}
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out), metadata=meta)
    log_path = Path(args.log or HERE / "logs" / f"{zoo.name}.json")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(json.dumps(log, indent=1) + "\n")
    print(f"trained {log['steps']} steps in {log['seconds']:.0f} s; checkpoint {out}; log {log_path}")


if __name__ == "__main__":
    main()

"""Train cloze_host on a host zoo's train split: the cloze transformer's objective on 1-D views.

    python baselines/cloze_host/train.py --zoo host-fine --init baselines/cloze_transformer/checkpoints/poly-fine@1.0.0.safetensors

Every step draws two probe sets of random train components (host protocol: activations and
gradients, whole regions masked in the first), projects both to the 1-D view (`project.py`) and
applies the cloze transformer's losses (cloze on the masked view, InfoNCE between the two views'
CLS projections, each CLS decoding the other view's slopes). Self-supervised: no task ids. The
validation probe accuracy (harness probe, train -> validation) is logged at the end.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from embedder import load_checkpoint  # noqa: E402
from model import ClozeTransformer, Config, cloze_loss, info_nce  # noqa: E402
from project import project_view  # noqa: E402

from netembench.eval.metrics import probe_correct  # noqa: E402
from netembench.eval.probes import draw_probes  # noqa: E402
from netembench.eval.tracks import track_for  # noqa: E402
from netembench.eval.training import training_batches  # noqa: E402
from netembench.zoo import rng  # noqa: E402
from netembench.zoo.source import load_zoo  # noqa: E402


def losses_of(model: ClozeTransformer, views, temperature: float) -> tuple[torch.Tensor, dict[str, float]]:
    masked, clean = views
    a = project_view(masked.batch.x, masked.batch.grad, masked.batch.mask, masked.batch.region)
    b = project_view(clean.batch.x, clean.target, torch.zeros_like(clean.batch.mask), clean.batch.region)
    target_a = a.slope_of(masked.target)
    pred = model.cloze(a.x, a.grad, a.mask, a.region)
    cls_a, cls_b = model.embed(a.x, a.grad, a.mask), model.embed(b.x, b.grad, torch.zeros_like(b.mask))
    every = torch.ones_like(a.mask)
    losses = {
        "cloze": cloze_loss(pred, target_a, a.mask),
        "nce": info_nce(model.projection(cls_a), model.projection(cls_b), temperature),
        "decode": 0.5 * (cloze_loss(model.decode(cls_a, b.x), b.grad, every) + cloze_loss(model.decode(cls_b, a.x), target_a, every)),
    }
    return sum(losses.values()), {k: v.item() for k, v in losses.items()}


@torch.no_grad()
def validation_probe_accuracy(model: ClozeTransformer, zoo, protocol) -> float:
    """Task accuracy of the harness's probe, train -> validation embeddings (model selection only)."""
    out = {}
    for split in ("train", "validation"):
        embs, tasks = [], []
        for group in zoo.groups(split):
            pop = zoo.population(group)
            ids = torch.as_tensor(group.table["model_id"])
            keys = rng.model_keys(rng.key_from_text("netembench-cloze-host:selection"), ids)
            p = draw_probes(pop, ids, keys, protocol)
            v = project_view(p.x, p.grad, torch.zeros_like(p.mask), p.region)
            embs.append(model.embed(v.x, v.grad, v.mask).numpy())
            tasks.append(group.table["task_id"])
        out[split] = (np.concatenate(embs), np.concatenate(tasks))
    return float(probe_correct(*out["train"], *out["validation"]).mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", required=True)
    parser.add_argument("--init", help="checkpoint to start from (a 1-D cloze_transformer checkpoint)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    zoo = load_zoo(args.zoo, cache=args.cache_dir, build_if_missing=False, quiet=True)
    model = load_checkpoint(Path(args.init)).train() if args.init else ClozeTransformer(Config())
    protocol = track_for(zoo.name, 1).protocol
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * s / args.steps))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    batches = training_batches(zoo, "train", args.batch_size, views=2, protocol=protocol, seed=args.seed)
    log = {"zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "args": vars(args), "train": []}
    model.eval()
    log["probe_accuracy_start"] = validation_probe_accuracy(model, zoo, protocol)
    model.train()
    start = time.perf_counter()
    for step in range(args.steps):
        loss, parts = losses_of(model, next(batches), args.temperature)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0:
            log["train"].append({"step": step, **parts})
            print(step, {k: round(v, 4) for k, v in parts.items()}, flush=True)
    log["seconds"] = time.perf_counter() - start
    model.eval()
    log["probe_accuracy_end"] = validation_probe_accuracy(model, zoo, protocol)
    print("validation probe accuracy", log["probe_accuracy_start"], "->", log["probe_accuracy_end"])
    out = HERE / "checkpoints" / f"{zoo.spec.ref}.safetensors"
    meta = {"config": json.dumps(model.cfg.as_dict()), "zoo": zoo.spec.ref, "fingerprint": zoo.fingerprint, "steps": str(args.steps)}
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out), metadata=meta)
    (HERE / "logs" / f"{zoo.spec.ref}.json").write_text(json.dumps(log, indent=1) + "\n")
    print(f"trained {args.steps} steps in {log['seconds']:.0f} s; {out}")


if __name__ == "__main__":
    main()

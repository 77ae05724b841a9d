"""Build a zoo from a spec: sample tasks, train every architecture's population, store it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from netembench import __version__
from netembench.progress import Progress
from netembench.threads import THREADS
from netembench.zoo import rng, rounding
from netembench.zoo.card import render_card
from netembench.zoo.host import is_host_family
from netembench.zoo.hostbuild import train_host_rows
from netembench.zoo.population import Arch, Population, fit_rel_mse, train_population
from netembench.zoo.private import PrivateSalt, is_private_split
from netembench.zoo.shards import Shard, current_shard
from netembench.zoo.spec import ZooSpec
from netembench.zoo.store import (
    FORMAT_VERSION,
    Zoo,
    ZooError,
    atomic_folder,
    check_output,
    coefficient_columns,
    save_safetensors,
    write_manifest,
    write_parquet,
)


def spec_salt(spec: ZooSpec) -> int:
    """The salt of every model key in a zoo: models are keyed by (spec seed, model id)."""
    return rng.key_from_text(f"netembench-zoo-seed:{spec.seed}")


def model_keys(spec: ZooSpec, models: dict[str, np.ndarray], salt: PrivateSalt | None = None) -> torch.Tensor:
    """Every model's key, in table order; with a private `salt`, the keys of every split but train
    and validation are folded with its secret words (`netembench.zoo.private`)."""
    keys = rng.model_keys(spec_salt(spec), torch.as_tensor(models["model_id"]))
    if salt is not None:
        private = torch.as_tensor([is_private_split(s) for s in models["split"]], dtype=torch.bool)
        keys[private] = rng.secret_keys(keys[private], salt.words)
    return keys


def build_zoo(
    spec: ZooSpec,
    out: str | Path,
    device: str = "cpu",
    overwrite: bool = False,
    quiet: bool = False,
    salt: PrivateSalt | None = None,
) -> Zoo:
    """Train and write the zoo `spec` describes into `out`; nothing appears at `out` unless it
    completes. Under torchrun the models are shared out across ranks and rank 0 writes (`shards`).
    With a `salt`, a private build: the test and unseen splits come from it (`netembench.zoo.private`)."""
    out = Path(out)
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but CUDA is not available; use --device cpu")
    check_output(out, overwrite)
    shard, device = current_shard(device)
    _check_arithmetic(spec, device)
    tasks = spec.sample_tasks(salt.words if salt else ())
    models = spec.models(tasks)
    keys = model_keys(spec, models, salt)
    populations, models["train_rel_mse"] = _train(spec, tasks, models, keys, device, shard, quiet)
    _check_fits(spec, populations, models)
    if shard.leader:
        with atomic_folder(out, overwrite) as tmp:
            models["shard"], models["row"] = _write_shards(tmp, spec, models, populations)
            _write_tables(tmp, spec, tasks, models)
            info = _build_info(spec, tasks, models, device)
            if salt is not None:
                info["split"] = "private"  # the salt itself is recorded nowhere
            # Distribution fields are not part of a zoo: recording its fingerprint must not change it.
            (tmp / "spec.toml").write_text(spec.content_spec().to_toml())
            (tmp / "README.md").write_text(render_card(spec, tasks, models, info))
            write_manifest(tmp, info)
    shard.barrier()
    return Zoo(out)


def _check_arithmetic(spec: ZooSpec, device: torch.device) -> None:
    """Refuse to build on a device whose arithmetic would not give the reference bits."""
    problems = rounding.machine_problems(str(device))
    if problems:
        raise ZooError(
            f"building {spec.ref}: {device}'s arithmetic is not correctly rounded, so this build could not "
            f"be the reference: {problems[0]}. 'python -m netembench.zoo.rounding --device {device}' lists every "
            "problem; please report it with your CPU, GPU and library versions"
        )


def _train(
    spec: ZooSpec,
    tasks,
    models: dict[str, np.ndarray],
    keys: torch.Tensor,
    device: torch.device,
    shard: Shard,
    quiet: bool,
) -> tuple[dict[str, Population], np.ndarray]:
    """Every architecture's trained population (on the CPU) and every model's fit, in table order."""
    fits = np.zeros(len(models["model_id"]))
    populations: dict[str, Population] = {}
    bar = Progress(
        len(spec.archs) * spec.training.steps, f"train {spec.ref}", "step", quiet=quiet or not shard.leader
    )

    def step(n: int) -> None:
        bar.update(n)
        THREADS.check()  # another job may have started on these cores

    for arch in spec.archs:
        rows = np.flatnonzero(models["arch"] == arch)
        mine = shard.share(rows)
        bar.set_postfix(arch=arch, models=len(rows))
        if is_host_family(spec.tasks):  # components of host networks, trained end to end (DESIGN §16)
            if len(mine) != len(rows):
                raise ZooError(f"building {spec.ref}: host zoos are built in one process (no torchrun)")
            populations[arch], fits[rows] = train_host_rows(
                spec.tasks, spec.seed, spec.training, Arch.parse(arch), tasks.coef, models, rows, keys, device, step
            )
            continue
        coef = torch.as_tensor(tasks.coef[models["task_id"][mine]])
        pop = train_population(Arch.parse(arch), coef, keys[mine].to(device), spec.training, progress=step)
        fit = fit_rel_mse(pop, coef).to(torch.float64)
        tensors = {k: shard.gather(v, len(rows)).cpu() for k, v in pop.state_dict().items()}
        populations[arch] = Population.from_state_dict(pop.arch, tensors)
        fits[rows] = shard.gather(fit.to(device), len(rows)).cpu().numpy()
    bar.close()
    return populations, fits


def _check_fits(spec: ZooSpec, populations: dict[str, Population], models: dict[str, np.ndarray]) -> None:
    """Refuse a zoo with non-finite weights or a model above the spec's fit bar (nothing is written)."""
    for arch, pop in populations.items():
        if not all(torch.isfinite(t).all() for t in pop.weights + pop.biases):
            raise ZooError(
                f"building {spec.ref}: training diverged on {arch} (non-finite weights); lower [training].lr "
                f"(now {spec.training.lr!r}). Nothing was written"
            )
    fits = models["train_rel_mse"]
    bad = ~(fits <= spec.fit_bar)  # NaN counts as a miss
    if bad.any():
        worst = int(np.nanargmax(np.where(np.isnan(fits), np.inf, fits)))
        raise ZooError(
            f"building {spec.ref}: {int(bad.sum())} of {len(fits)} models miss the fit bar (relative MSE <= "
            f"{spec.fit_bar:g}; worst {fits[worst]:.3g}, model {int(models['model_id'][worst])}); train longer "
            "or raise fit_bar in the spec. Nothing was written"
        )


def _write_shards(folder: Path, spec: ZooSpec, models: dict[str, np.ndarray], pops: dict[str, Population]):
    shard = np.empty(len(models["model_id"]), dtype=object)
    row = np.zeros(len(models["model_id"]), dtype=np.int64)
    for arch, pop in pops.items():
        in_arch = np.flatnonzero(models["arch"] == arch)  # population rows follow this order
        for split in spec.split_names:
            members = np.flatnonzero(models["split"][in_arch] == split)
            for k, start in enumerate(range(0, len(members), spec.shard_size)):
                chunk = members[start : start + spec.shard_size]
                rel = f"weights/{arch}/{split}-{k:05d}.safetensors"
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                first = int(models["model_id"][in_arch[chunk[0]]])
                meta = {
                    "zoo": spec.name,
                    "version": spec.version,
                    "arch": arch,
                    "first_model_id": str(first),
                    "count": str(len(chunk)),
                }
                save_safetensors(pop.select(torch.as_tensor(chunk)).state_dict(), folder / rel, meta)
                shard[in_arch[chunk]] = rel
                row[in_arch[chunk]] = np.arange(len(chunk))
    return shard.astype(str), row


def _write_tables(folder: Path, spec: ZooSpec, tasks, models: dict[str, np.ndarray]) -> None:
    cheb = tasks.chebyshev
    task_cols = {
        "task_id": np.arange(len(tasks), dtype=np.int64),
        "family_id": tasks.family,
        "degree": tasks.degree,
        "unseen": tasks.unseen,
    }
    write_parquet(folder / "tasks.parquet", {**task_cols, **coefficient_columns(tasks.coef, cheb)})
    order = ["model_id", "task_id", "family_id", "seed", "split", "arch", "train_rel_mse", "shard", "row"]
    for split in spec.split_names:
        rows = models["split"] == split
        cols = {k: models[k][rows] for k in order}
        ids = models["task_id"][rows]
        # Tabulated tasks' knot values stay in tasks.parquet (join on task_id): 129 or 1,089 per model
        coefs = {} if tasks.tabulated else coefficient_columns(tasks.coef[ids], cheb[ids])
        write_parquet(folder / "metadata" / f"{split}.parquet", {**cols, **coefs})


def _build_info(spec: ZooSpec, tasks, models: dict[str, np.ndarray], device: torch.device) -> dict:
    fit = {}
    for arch in spec.archs:
        r = models["train_rel_mse"][models["arch"] == arch]
        fit[arch] = {
            "median_rel_mse": float(np.median(r)),
            "max_rel_mse": float(r.max()),
            "models": int(len(r)),
        }
    counts = {s: int((models["split"] == s).sum()) for s in spec.split_names}
    return {
        "zoo": {"name": spec.name, "version": spec.version},
        "generator": {
            "netembench": __version__,
            "torch": torch.__version__.split("+")[0],
            "device": device.type,
            "format_version": FORMAT_VERSION,
        },
        "tasks": {"count": len(tasks), "unseen": int(tasks.unseen.sum()), "min_distance": tasks.min_distance},
        "models": counts,
        "fit": fit,
    }

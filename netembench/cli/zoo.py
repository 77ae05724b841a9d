"""`netembench zoo build|info|verify|diff|plot|list|download|push|remove`."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from netembench.cli.common import CommandError, add_zoo_options, note


def _zoo_build(args: argparse.Namespace) -> None:
    from netembench.zoo.build import build_zoo
    from netembench.zoo.source import cached_path
    from netembench.zoo.spec import resolve_spec

    spec = resolve_spec(args.spec)
    salt = None
    if args.private_salt:
        from netembench.zoo.private import read_salt

        if not args.out:
            raise CommandError("--private-salt needs --out: a private build never goes in the zoo cache")
        salt = read_salt(args.private_salt)
    out = Path(args.out) if args.out else cached_path(spec, args.cache_dir)
    start = time.perf_counter()
    zoo = build_zoo(spec, out, device=args.device, overwrite=args.overwrite, quiet=args.quiet, salt=salt)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 reports
        return
    print(f"built {spec.ref} in {time.perf_counter() - start:.1f} s: {zoo.path}")
    print(f"fingerprint {zoo.fingerprint}")
    note(zoo.canonical_note())


def _zoo_info(args: argparse.Namespace) -> None:
    from netembench.zoo.source import load_zoo

    zoo = load_zoo(args.zoo, cache=args.cache_dir)
    m = zoo.manifest
    print(f"zoo          {zoo.spec.ref}")
    print(f"path         {zoo.path}")
    print(f"fingerprint  {zoo.fingerprint} (content)")
    note(zoo.canonical_note())
    print(
        f"generator    netembench {m['generator']['netembench']}, torch {m['generator']['torch']} on {m['generator']['device']}"
    )
    print(
        f"tasks        {m['tasks']['count']} ({m['tasks']['unseen']} unseen), min pairwise RMS distance {m['tasks']['min_distance']:.4f}"
    )
    print("models       " + ", ".join(f"{s} {n}" for s, n in m["models"].items()))
    print(f"fit (relative MSE {_fit_domain(zoo)}):")
    for arch, f in m["fit"].items():
        print(
            f"  {arch:<14} {f['models']:>6} models   median {f['median_rel_mse']:.2e}   worst {f['max_rel_mse']:.2e}"
        )


def _zoo_verify(args: argparse.Namespace) -> None:
    from netembench.zoo.cache import read_source
    from netembench.zoo.source import cached_path
    from netembench.zoo.spec import resolve_spec
    from netembench.zoo.store import verify_zoo

    path = Path(args.zoo)
    if not path.is_dir():  # a zoo name: its cache folder, checked without loading it
        path = cached_path(resolve_spec(args.zoo), args.cache_dir)
        if not path.is_dir():
            raise CommandError(f"zoo {args.zoo} is not in the cache ({path})")
    splits = (read_source(path) or {}).get("splits")
    problems = verify_zoo(path, splits)
    for p in problems:
        print(f"FAIL {path / p.split(':')[0]}: {p.split(': ', 1)[1]}")
    if problems:
        raise CommandError(
            f"{len(problems)} problem(s) in {path}; re-download or rebuild the zoo (--overwrite)"
        )
    print(
        f"OK {path}: every file matches manifest.json" + (f" (splits {', '.join(splits)})" if splits else "")
    )


def _zoo_diff(args: argparse.Namespace) -> None:
    import json

    from netembench.zoo.diff import diff_zoos
    from netembench.zoo.source import load_zoo

    report = diff_zoos(*(load_zoo(ref, cache=args.cache_dir, quiet=args.quiet) for ref in (args.a, args.b)))
    print(json.dumps(report.as_dict(), indent=1) if args.json else report.format())


def _zoo_plot(args: argparse.Namespace) -> None:
    from netembench.plots.zoo import plot_zoo
    from netembench.zoo.source import load_zoo

    zoo = load_zoo(args.zoo, cache=args.cache_dir)
    if zoo.tasks.tabulated:
        raise CommandError(f"{zoo.spec.ref}: the figures draw polynomial tasks; a pretraining zoo's tabulated tasks are not drawn yet")
    for p in plot_zoo(zoo, args.out):
        print(p)


def _zoo_list(args: argparse.Namespace) -> None:
    from netembench.zoo.cache import cache_dir
    from netembench.zoo.identity import reference_note
    from netembench.zoo.source import cached_zoos
    from netembench.zoo.spec import PRETRAINING_ZOOS, canonical_specs

    cached = cached_zoos(args.cache_dir)
    specs = canonical_specs()
    print(f"cache: {cache_dir(args.cache_dir)}")
    for ref, spec in specs.items():
        status = f"superseded by {spec.superseded_by}" if spec.superseded_by else "current"
        status += ", pretraining" if spec.name in PRETRAINING_ZOOS else ""
        print(f"  {ref:<22} {status:<22} {'cached' if any(r == ref for r, _, _ in cached) else 'not cached'}")
    for ref, folder, fingerprint in cached:
        note = reference_note(ref, fingerprint)
        print(
            f"  {ref:<22} {folder}"
            + (f"\n    {note}" if note else "  (reference build)" if ref in specs else "")
        )


def _zoo_download(args: argparse.Namespace) -> None:
    from netembench.zoo.source import load_zoo

    zoo = load_zoo(args.zoo, cache=args.cache_dir, splits=args.split, quiet=args.quiet)
    where = zoo.source.get("repo", "local build")
    commit = zoo.source.get("commit", "")
    print(f"{zoo.spec.ref} ({', '.join(zoo.splits)}) from {where} {commit[:12]}: {zoo.path}")
    print(f"fingerprint {zoo.fingerprint} (verified)")


def _zoo_push(args: argparse.Namespace) -> None:
    from netembench.zoo.hub import push_zoo
    from netembench.zoo.source import load_zoo

    zoo = load_zoo(args.zoo, cache=args.cache_dir)
    repo, commit = push_zoo(zoo, args.repo_id, tag=args.tag, private=args.private)
    print(
        f"pushed {zoo.spec.ref} (content {zoo.fingerprint[:12]}) to {repo} at {commit}, tagged {args.tag or 'v' + zoo.version}"
    )


def _zoo_remove(args: argparse.Namespace) -> None:
    from netembench.zoo.source import remove_cached

    print(f"removed {remove_cached(args.zoo, args.cache_dir)}")


def add_zoo_parser(sub: Any) -> None:
    """Add `netembench zoo …` to `sub` (the subcommands of `netembench`)."""
    zoo = sub.add_parser("zoo", help="build, inspect, verify and plot model zoos").add_subparsers(
        dest="zoo_command", required=True
    )

    add = partial(_add_command, zoo)
    _add_build_parser(add)
    _add_inspection_parsers(add)
    _add_hub_parsers(add)


def _add_command(zoo: Any, name: str, handler: Callable, help: str) -> argparse.ArgumentParser:
    p = zoo.add_parser(name, help=help, description=help)
    add_zoo_options(p)
    p.set_defaults(handler=handler)
    return p


def _add_build_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("build", _zoo_build, "train a zoo from a spec and store it (atomically)")
    p.add_argument("spec", help="canonical name (poly-seed, poly-seed@1.0.0) or a path to a .toml spec")
    p.add_argument("--out", help="output folder (default: the cache)")
    p.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda"],
        help="train on this device (default cpu)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing zoo at the output folder")
    p.add_argument(
        "--private-salt",
        metavar="FILE",
        help="a private build: test and unseen models from the secret in FILE (>= 32 random bytes; needs --out)",
    )


def _add_inspection_parsers(add: Callable[..., argparse.ArgumentParser]) -> None:
    add("info", _zoo_info, "summarise a zoo: splits, tasks, fit quality").add_argument(
        "zoo", help="zoo folder or name"
    )
    add("verify", _zoo_verify, "recompute every checksum; exit 0 only if all match").add_argument(
        "zoo", help="zoo folder or name"
    )
    p = add(
        "diff",
        _zoo_diff,
        "compare two builds of one spec: which tensors and table columns differ, by how much, and the "
        "first model that differs",
    )
    p.add_argument("a", help="zoo folder, name (poly-seed@1.1.0) or hub repository (org/name[@revision])")
    p.add_argument("b", help="the zoo to compare it with (same forms)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p = add("plot", _zoo_plot, "plot a zoo's tasks, fits and gradients (PNG)")
    p.add_argument("zoo", help="zoo folder or name")
    p.add_argument("--out", required=True, help="folder for the PNG files")


def _add_hub_parsers(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("download", _zoo_download, "download a zoo from the hub (verified, cached) or resolve a name")
    p.add_argument("zoo", help="org/name[@revision], or a canonical name such as poly-seed@1.0.0")
    p.add_argument("--split", action="append", help="download only this split (repeatable)")
    p = add(
        "push",
        _zoo_push,
        "release a zoo: verify it, upload it to a hub dataset repository in one commit, tag it",
    )
    p.add_argument("zoo", help="zoo folder or name")
    p.add_argument(
        "repo_id",
        nargs="?",
        help="org/name (default: the spec's hub_repo, which takes only the reference build)",
    )
    p.add_argument("--tag", help="tag for the commit (default v<zoo version>)")
    p.add_argument("--private", action="store_true")
    add("list", _zoo_list, "list canonical zoos and what the cache holds")
    add("remove", _zoo_remove, "remove a zoo from the cache").add_argument(
        "zoo", help="zoo name, or org/name for hub downloads"
    )


def _fit_domain(zoo) -> str:
    """Where `zoo info`'s fits were measured: the host's input distribution, or a dense grid."""
    from netembench.zoo.host import is_host_family

    if is_host_family(zoo.spec.tasks):
        return "over the host's input distribution, constants removed"
    return f"on a {'1025-point' if zoo.tasks.dim == 1 else '129 x 129'} grid"

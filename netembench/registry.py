"""Where zoos live: the per-user cache, and `load_zoo`, which turns a reference into a `Zoo`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from netembench.spec import SpecError, ZooSpec, resolve_spec
from netembench.store import Zoo, ZooError, read_manifest

CACHE_ENV = "NETEMBENCH_CACHE"


def cache_dir(override: str | Path | None = None) -> Path:
    """`override`, else $NETEMBENCH_CACHE, else $XDG_CACHE_HOME/netembench (~/.cache/netembench)."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "netembench"


def cached_path(spec: ZooSpec, cache: str | Path | None = None) -> Path:
    return cache_dir(cache) / "zoos" / spec.ref


def load_zoo(
    ref: str | Path,
    cache: str | Path | None = None,
    build_if_missing: bool = False,
    device: str = "cpu",
    quiet: bool = False,
) -> Zoo:
    """Open a zoo by folder path, canonical name (`poly-seed`, `poly-seed@1.0.0`) or spec file.

    Named zoos are looked up in the cache; with `build_if_missing` a missing one is built there
    from its spec (saying so), otherwise the error says how to get it. Every zoo is verified.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        return Zoo(path)
    try:
        spec = resolve_spec(str(ref))
    except SpecError:
        if "/" in str(ref) or str(ref).startswith("."):
            raise ZooError(f"no zoo folder at {ref}; give a zoo folder or a zoo name such as 'poly-seed'") from None
        raise
    target = cached_path(spec, cache)
    if target.is_dir():
        return Zoo(target)
    if not build_if_missing:
        raise ZooError(f"zoo {spec.ref} is not in the cache ({target}); build it with 'netembench zoo build {spec.ref}'")
    from netembench.build import build_zoo

    if not quiet:
        print(f"zoo {spec.ref} is not cached: building it locally from its spec into {target}")
    return build_zoo(spec, target, device=device, quiet=quiet)


def cached_zoos(cache: str | Path | None = None) -> list[tuple[str, Path]]:
    """(name@version, folder) of every zoo in the cache."""
    root = cache_dir(cache) / "zoos"
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith("."):
            try:
                zoo = read_manifest(folder)["zoo"]
                out.append((f"{zoo['name']}@{zoo['version']}", folder))
            except (ZooError, KeyError):
                continue
    return out


def remove_cached(ref: str, cache: str | Path | None = None) -> Path:
    spec = resolve_spec(ref)
    target = cached_path(spec, cache)
    if not target.is_dir():
        raise ZooError(f"zoo {spec.ref} is not in the cache ({target})")
    shutil.rmtree(target)
    return target

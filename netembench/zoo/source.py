"""Where zoos live: the per-user cache, and `load_zoo`, which turns a reference into a `Zoo`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from netembench.zoo.hub import HubError, download_zoo, is_hub_ref, offline, open_cached, sidecar
from netembench.zoo.spec import SpecError, ZooSpec, resolve_spec
from netembench.zoo.store import Zoo, ZooError, ZooIntegrityError, read_manifest, sha256_file

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
    splits: list[str] | None = None,
) -> Zoo:
    """Open a zoo by folder, hub repository (`org/name[@revision]`), canonical name (`poly-seed`,
    `poly-seed@1.0.0`) or spec file. Every zoo is verified before use.

    A named zoo comes from the cache, else from the hub repository its spec names (tag
    `v<version>`, checked against the spec's reference fingerprint), else, with `build_if_missing`,
    it is built locally from its spec (saying so); otherwise the error says how to get it.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        return open_cached(path)
    if is_hub_ref(str(ref)):
        repo_id, _, revision = str(ref).partition("@")
        return download_zoo(repo_id, revision or None, cache_dir(cache), splits, quiet=quiet)
    spec = _spec_named(str(ref))
    target = cached_path(spec, cache)
    if target.is_dir():
        return open_cached(target)
    failure = ""
    if spec.hub_repo and not offline():
        try:
            zoo = download_zoo(
                spec.hub_repo, f"v{spec.version}", cache_dir(cache), target=target, quiet=quiet
            )
        except HubError as err:  # its advice is to build locally, which is what follows
            failure = f" ({err.problem})"
        else:
            if spec.reference_fingerprint and zoo.fingerprint != spec.reference_fingerprint:
                shutil.rmtree(target)
                sidecar(target).unlink(missing_ok=True)  # a later local build must not claim this source
                raise ZooIntegrityError(
                    f"the hub copy of {spec.ref} has fingerprint {zoo.fingerprint[:12]}, not the reference "
                    f"{spec.reference_fingerprint[:12]}; it was removed from the cache. Build it locally instead"
                )
            return zoo
    if not build_if_missing:
        raise ZooError(
            f"zoo {spec.ref} is not in the cache ({target}){failure}; build it with 'netembench zoo build {spec.ref}'"
        )
    from netembench.zoo.build import build_zoo

    if not quiet:
        print(f"zoo {spec.ref} is not cached{failure}: building it locally from its spec into {target}")
    return build_zoo(spec, target, device=device, quiet=quiet)


def zoo_name(ref: str | Path) -> str | None:
    """The name@version a zoo reference stands for, known without loading, downloading or building
    it (a zoo folder's manifest, a zoo name, a spec file); None for a hub repository, whose zoo is
    named once downloaded."""
    path = Path(ref).expanduser()
    if path.is_dir():
        zoo = read_manifest(path).get("zoo", {})
        return f"{zoo.get('name')}@{zoo.get('version')}"
    if is_hub_ref(str(ref)):
        return None
    return _spec_named(str(ref)).ref


def _spec_named(ref: str) -> ZooSpec:
    """The spec of a zoo name or spec file; a path-like reference that is neither says so."""
    try:
        return resolve_spec(ref)
    except SpecError:
        if "/" in ref or ref.startswith("."):
            raise ZooError(
                f"no zoo folder at {ref}; give a zoo folder, a hub repository (org/name) or a zoo name such as 'poly-seed'"
            ) from None
        raise


def cached_zoos(cache: str | Path | None = None) -> list[tuple[str, Path, str]]:
    """(name@version, folder, fingerprint as recorded) of every zoo in the cache, built or
    downloaded (read from manifests, not verified)."""
    root = cache_dir(cache)
    folders = sorted((root / "zoos").glob("*")) + sorted((root / "hub").glob("*/*"))
    out = []
    for folder in folders:
        if folder.is_dir() and not folder.name.startswith("."):
            try:
                manifest = read_manifest(folder)
            except ZooError:
                continue
            zoo = manifest.get("zoo", {})
            fingerprint = manifest.get("content_fingerprint") or sha256_file(folder / "manifest.json")
            out.append((f"{zoo.get('name')}@{zoo.get('version')}", folder, fingerprint))
    return out


def remove_cached(ref: str, cache: str | Path | None = None) -> Path:
    """Remove a built zoo (by name) or every cached download of a hub repository (`org/name`)."""
    if is_hub_ref(ref):
        target = cache_dir(cache) / "hub" / ref.partition("@")[0].replace("/", "--")
        if not target.is_dir():
            raise ZooError(f"nothing from hub repository {ref} is in the cache ({target})")
        shutil.rmtree(target)
        return target
    spec = resolve_spec(ref)
    target = cached_path(spec, cache)
    if not target.is_dir():
        raise ZooError(f"zoo {spec.ref} is not in the cache ({target})")
    shutil.rmtree(target)
    sidecar(target).unlink(missing_ok=True)
    return target

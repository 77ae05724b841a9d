"""Where a zoo comes from: `load_zoo` turns a reference into a verified `Zoo`, deciding once
between a folder, the cache, a hub download and a local build.

A named zoo (`poly-seed`, `poly-seed@1.2.0`, a spec file) comes from the cache, else from the hub
repository its spec names (tag `v<version>`, checked against the spec's reference fingerprint),
else, with `build_if_missing`, from a local build of its spec (saying so); otherwise the error says
how to get it. `cache.py` knows the folders, `hub.py` talks to the hub, `build.py` trains.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from netembench.zoo.cache import ZooCache, open_cached, remove_folder
from netembench.zoo.hub import HubError, endpoint, fetch, is_commit, is_hub_ref, offline, resolve_commit
from netembench.zoo.spec import SpecError, ZooSpec, resolve_spec
from netembench.zoo.store import Zoo, ZooError, ZooIntegrityError, read_manifest


def load_zoo(
    ref: str | Path,
    cache: str | Path | None = None,
    build_if_missing: bool = False,
    device: str = "cpu",
    quiet: bool = False,
    splits: list[str] | None = None,
) -> Zoo:
    """Open a zoo by folder, hub repository (`org/name[@revision]`), canonical name (`poly-seed`,
    `poly-seed@1.0.0`) or spec file. Every zoo is verified before use."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return open_cached(path)
    store = ZooCache.at(cache)
    if is_hub_ref(str(ref)):
        repo_id, _, revision = str(ref).partition("@")
        return download(store, repo_id, revision or "main", splits=splits, quiet=quiet)
    spec = spec_named(str(ref))
    target = store.named(spec)
    if target.is_dir():
        return open_cached(target)
    failure = ""
    if spec.hub_repo and not offline():
        try:
            zoo = download(store, spec.hub_repo, f"v{spec.version}", target=target, quiet=quiet)
        except HubError as err:  # its advice is to build locally, which is what follows
            failure = f" ({err.problem})"
        else:
            return _reference_release(spec, zoo)
    if not build_if_missing:
        raise ZooError(
            f"zoo {spec.ref} is not in the cache ({target}){failure}; build it with 'netembench zoo build {spec.ref}'"
        )
    from netembench.zoo.build import build_zoo

    if not quiet:
        print(f"zoo {spec.ref} is not cached{failure}: building it locally from its spec into {target}")
    return build_zoo(spec, target, device=device, quiet=quiet)


def _reference_release(spec: ZooSpec, zoo: Zoo) -> Zoo:
    """A downloaded release, kept only if it is the spec's reference build."""
    if spec.reference_fingerprint and zoo.fingerprint != spec.reference_fingerprint:
        remove_folder(zoo.path)  # a later local build must not claim this source
        raise ZooIntegrityError(
            f"the hub copy of {spec.ref} has fingerprint {zoo.fingerprint[:12]}, not the reference "
            f"{spec.reference_fingerprint[:12]}; it was removed from the cache. Build it locally instead"
        )
    return zoo


def download(
    store: ZooCache,
    repo_id: str,
    revision: str,
    splits: list[str] | None = None,
    target: Path | None = None,
    quiet: bool = False,
) -> Zoo:
    """A hub repository's zoo pinned to the commit `revision` resolves to: the cached copy of that
    commit (offline: of the commit it last resolved to), else downloaded and verified into `target`
    or the repository's cache folder."""
    if offline():
        commit = revision if is_commit(revision) else store.resolved(repo_id).get(revision)
        candidates = [target] if target else [store.download(repo_id, commit or "", s) for s in (splits, None)]
        for folder in candidates if commit else []:
            if folder.is_dir():
                return open_cached(folder)
        raise HubError(
            f"HF_HUB_OFFLINE=1 and {repo_id}@{revision} is not in the cache ({store.root})",
            "go online once, or build the zoo locally",
        )
    commit = resolve_commit(repo_id, revision)
    folder = target or store.download(repo_id, commit, splits)
    if folder.is_dir():
        zoo = open_cached(folder)
        if zoo.source.get("commit") == commit:
            return zoo
        if zoo.source.get("kind") != "hub":
            raise HubError(f"{folder} exists and is not a download of {repo_id}; remove it first")
        shutil.rmtree(folder)  # a cached copy of another commit (a moved tag): replace it
    source = {
        "kind": "hub",
        "repo": repo_id,
        "revision": revision,
        "commit": commit,
        "endpoint": endpoint(),
        "splits": splits,
    }
    with store.placing(folder, source) as tmp:
        fetch(repo_id, commit, tmp, splits, quiet)
    store.remember(repo_id, revision, commit)
    return open_cached(folder)


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
    return spec_named(str(ref)).ref


def spec_named(ref: str) -> ZooSpec:
    """The spec of a zoo name or spec file; a path-like reference that is neither says so."""
    try:
        return resolve_spec(ref)
    except SpecError:
        if "/" in ref or ref.startswith("."):
            raise ZooError(
                f"no zoo folder at {ref}; give a zoo folder, a hub repository (org/name) or a zoo name such as 'poly-seed'"
            ) from None
        raise


def cached_path(spec: ZooSpec, cache: str | Path | None = None) -> Path:
    """Where the zoo a spec names is (or would be) cached."""
    return ZooCache.at(cache).named(spec)


def cached_zoos(cache: str | Path | None = None) -> list[tuple[str, Path, str]]:
    """(name@version, folder, fingerprint as recorded) of every zoo in the cache."""
    return ZooCache.at(cache).zoos()


def remove_cached(ref: str, cache: str | Path | None = None) -> Path:
    """Remove a built zoo (by name) or every cached download of a hub repository (`org/name`)."""
    store = ZooCache.at(cache)
    if is_hub_ref(ref):
        target = store.repository(ref.partition("@")[0])
        if not target.is_dir():
            raise ZooError(f"nothing from hub repository {ref} is in the cache ({target})")
        shutil.rmtree(target)
        return target
    spec = resolve_spec(ref)
    target = store.named(spec)
    if not target.is_dir():
        raise ZooError(f"zoo {spec.ref} is not in the cache ({target})")
    remove_folder(target)
    return target


"""The zoo cache on disk: where built and downloaded zoos live, and where each one came from.

Under the cache root ($NETEMBENCH_CACHE, else $XDG_CACHE_HOME/netembench, ~/.cache/netembench):

    zoos/<name>@<version>/                   a zoo named by its spec: built, or its release downloaded
    hub/<org>--<name>/<commit>[+<split>…]/   a hub repository's zoo, pinned to one commit
    hub/<org>--<name>/refs.json              the commit each tag or branch was last resolved to

A downloaded folder has a sidecar `<folder>.source.json` (repository, revision, commit, splits) that
travels into result files; a folder appears only complete, verified and with its sidecar.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from netembench.zoo.spec import ZooSpec
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


def sidecar(folder: Path) -> Path:
    """Where a cached zoo's source record lives: beside the folder, so the zoo itself stays intact."""
    return Path(str(folder) + ".source.json")


def read_source(folder: Path) -> dict | None:
    """A cached zoo's source record (repository, revision, commit, splits), or None for local builds."""
    path = sidecar(folder)
    return json.loads(path.read_text()) if path.is_file() else None


def open_cached(folder: Path) -> Zoo:
    """Open a cached zoo with its sidecar source record (partial zoos verify their splits only)."""
    source = read_source(folder)
    try:
        return Zoo(folder, source=source, splits=(source or {}).get("splits"))
    except ZooIntegrityError as err:
        raise ZooIntegrityError(
            f"{err} (the cached copy was modified on disk: remove it with 'netembench zoo remove' and download again)"
        ) from None


def remove_folder(folder: Path) -> None:
    """Remove a cached zoo and its source record (a later build must not claim that source)."""
    shutil.rmtree(folder)
    sidecar(folder).unlink(missing_ok=True)


@dataclass(frozen=True)
class ZooCache:
    """One cache root, computed once per command: the folders it holds, by what they are."""

    root: Path

    @classmethod
    def at(cls, override: str | Path | None = None) -> ZooCache:
        return cls(cache_dir(override))

    def named(self, spec: ZooSpec) -> Path:
        """The folder of the zoo a spec names."""
        return self.root / "zoos" / spec.ref

    def repository(self, repo_id: str) -> Path:
        return self.root / "hub" / repo_id.replace("/", "--")

    def download(self, repo_id: str, commit: str, splits: list[str] | None) -> Path:
        """The folder of a hub repository's zoo at `commit` (only `splits`, if given)."""
        return self.repository(repo_id) / (commit + ("+" + "+".join(sorted(splits)) if splits else ""))

    def resolved(self, repo_id: str) -> dict[str, str]:
        """revision → commit, as last resolved online (what offline mode may use)."""
        refs = self.repository(repo_id) / "refs.json"
        return json.loads(refs.read_text()) if refs.is_file() else {}

    def remember(self, repo_id: str, revision: str, commit: str) -> None:
        refs = self.repository(repo_id) / "refs.json"
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(json.dumps({**self.resolved(repo_id), revision: commit}, indent=1, sort_keys=True))

    @contextmanager
    def placing(self, folder: Path, source: dict) -> Iterator[Path]:
        """An empty temporary folder to fill; on success it becomes `folder`, with its source
        record, in one rename. On failure nothing is left behind."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
        try:
            yield tmp
            sidecar(folder).write_text(json.dumps(source, indent=1, sort_keys=True))
            tmp.rename(folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def zoos(self) -> list[tuple[str, Path, str]]:
        """(name@version, folder, fingerprint as recorded) of every zoo here, built or downloaded
        (read from manifests, not verified)."""
        folders = sorted((self.root / "zoos").glob("*")) + sorted((self.root / "hub").glob("*/*"))
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

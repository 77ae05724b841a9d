"""Zoos on the Hugging Face Hub: verified, pinned, cached downloads, and pushes.

A download resolves the revision (tag, branch or commit) to a commit first, fetches that commit
with `huggingface_hub.snapshot_download` into a temporary folder, verifies every file against the
zoo's manifest, and only then moves it into the cache as `hub/<org>--<name>/<commit>[+<splits>]`.
A sidecar `<folder>.source.json` records the repository, revision, commit and splits; it travels
into result files. Endpoint and offline mode are read from `HF_ENDPOINT` and `HF_HUB_OFFLINE` at
call time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from netembench.store import Zoo, ZooError, ZooIntegrityError, split_files, verify_zoo

REPO_TYPE = "dataset"
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class HubError(ZooError):
    """The hub could not provide a zoo; the message says what and how to proceed."""


def is_hub_ref(ref: str) -> bool:
    return bool(_REPO.match(ref.partition("@")[0])) and not Path(ref).exists()


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _repo_dir(cache: Path, repo_id: str) -> Path:
    return cache / "hub" / repo_id.replace("/", "--")


def resolve_commit(repo_id: str, revision: str | None) -> str:
    """The commit a revision points to, asking the hub; errors say what went wrong and what to do."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        info = HfApi(endpoint=endpoint()).dataset_info(repo_id, revision=revision, timeout=20)
    except RepositoryNotFoundError:
        raise HubError(f"unknown hub repository {repo_id!r} at {endpoint()} (or it is private: log in with `hf auth login`)") from None
    except RevisionNotFoundError:
        raise HubError(f"unknown revision {revision!r} of hub repository {repo_id!r}; give a tag, branch or commit that exists") from None
    except Exception as err:  # noqa: BLE001 - connection errors come in many types
        raise HubError(
            f"the hub at {endpoint()} is unreachable ({type(err).__name__}); build the zoo locally instead with "
            "'netembench zoo build NAME', or set HF_HUB_OFFLINE=1 to use the cache"
        ) from None
    return info.sha


def download_zoo(repo_id: str, revision: str | None, cache: Path, splits: list[str] | None = None,
                 target: Path | None = None, quiet: bool = False) -> Zoo:
    """Download (or reuse from the `cache` folder) a zoo pinned to one commit, verified before use."""
    refs_file = _repo_dir(cache, repo_id) / "refs.json"
    refs = json.loads(refs_file.read_text()) if refs_file.is_file() else {}
    rev = revision or "main"
    if offline():
        commit = rev if _COMMIT.match(rev) else refs.get(rev)
        candidates = [target] if target else [_folder(cache, repo_id, commit or "", splits), _folder(cache, repo_id, commit or "", None)]
        for folder in candidates if commit else []:
            if folder.is_dir():
                return open_cached(folder)
        raise HubError(f"HF_HUB_OFFLINE=1 and {repo_id}@{rev} is not in the cache ({cache}); go online once, or build the zoo locally")
    commit = resolve_commit(repo_id, rev)
    folder = target or _folder(cache, repo_id, commit, splits)
    if folder.is_dir():
        zoo = open_cached(folder)
        if zoo.source.get("commit") == commit:
            return zoo
        if zoo.source.get("kind") != "hub":
            raise HubError(f"{folder} exists and is not a download of {repo_id}; remove it first")
        shutil.rmtree(folder)  # a cached copy of another commit (a moved tag): replace it
    _fetch(repo_id, rev, commit, folder, splits, quiet)
    refs_file.parent.mkdir(parents=True, exist_ok=True)
    refs_file.write_text(json.dumps({**refs, rev: commit}, indent=1, sort_keys=True))
    return open_cached(folder)


def sidecar(folder: Path) -> Path:
    """Where a cached zoo's source record lives: beside the folder, so the zoo itself stays intact."""
    return Path(str(folder) + ".source.json")


def read_source(folder: Path) -> dict | None:
    """A cached zoo's source record (repository, revision, commit, splits), or None for local builds."""
    path = sidecar(folder)
    return json.loads(path.read_text()) if path.is_file() else None


def _folder(cache: Path, repo_id: str, commit: str, splits: list[str] | None) -> Path:
    return _repo_dir(cache, repo_id) / (commit + ("+" + "+".join(sorted(splits)) if splits else ""))


def _fetch(repo_id: str, revision: str, commit: str, folder: Path, splits: list[str] | None, quiet: bool) -> None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        if quiet:
            disable_progress_bars()
        try:
            patterns = None
            if splits:
                snapshot_download(repo_id, repo_type=REPO_TYPE, revision=commit, local_dir=tmp, allow_patterns=["manifest.json"], endpoint=endpoint())
                patterns = split_files(json.loads((tmp / "manifest.json").read_text())["files"], splits) + ["manifest.json"]
            snapshot_download(repo_id, repo_type=REPO_TYPE, revision=commit, local_dir=tmp, allow_patterns=patterns, endpoint=endpoint())
        except Exception as err:  # noqa: BLE001
            raise HubError(f"downloading {repo_id}@{commit[:12]} failed ({type(err).__name__}: {err}); try again") from None
        finally:
            if quiet:
                enable_progress_bars()
        shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
        problems = verify_zoo(tmp, splits)
        if problems:
            raise ZooIntegrityError(
                f"the download of {repo_id}@{commit[:12]} failed verification ({'; '.join(problems[:3])}); the hub copy is "
                "corrupt or was altered, nothing was cached"
            )
        source = {"kind": "hub", "repo": repo_id, "revision": revision, "commit": commit, "endpoint": endpoint(), "splits": splits}
        sidecar(folder).write_text(json.dumps(source, indent=1, sort_keys=True))
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def open_cached(folder: Path) -> Zoo:
    """Open a cached zoo with its sidecar source record (partial zoos verify their splits only)."""
    source = read_source(folder)
    try:
        return Zoo(folder, source=source, splits=(source or {}).get("splits"))
    except ZooIntegrityError as err:
        raise ZooIntegrityError(f"{err} (the cached copy was modified on disk: remove it with 'netembench zoo remove' and download again)") from None


def push_zoo(zoo: Zoo, repo_id: str, tag: str | None = None, private: bool = False) -> str:
    """Verify, upload the folder as a dataset repository, and tag the commit (default `v<version>`)."""
    from huggingface_hub import HfApi

    if zoo.partial:
        raise HubError(f"{zoo.path} holds only the splits {zoo.splits}; push a complete zoo")
    problems = verify_zoo(zoo.path)
    if problems:
        raise ZooIntegrityError(f"refusing to push {zoo.path}: it fails verification ({'; '.join(problems[:3])}); rebuild it first")
    api = HfApi(endpoint=endpoint())
    api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
    info = api.upload_folder(repo_id=repo_id, repo_type=REPO_TYPE, folder_path=str(zoo.path),
                             commit_message=f"netembench zoo {zoo.spec.ref} (fingerprint {zoo.fingerprint[:12]})")
    tag = tag or f"v{zoo.version}"
    api.create_tag(repo_id, repo_type=REPO_TYPE, tag=tag, revision=info.oid, tag_message=f"{zoo.spec.ref} {zoo.fingerprint}")
    return info.oid

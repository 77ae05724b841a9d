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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netembench.zoo.store import Zoo, ZooError, ZooIntegrityError, split_files, verify_zoo

REPO_TYPE = "dataset"
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class HubError(ZooError):
    """The hub could not provide a zoo; the message says what went wrong (`problem`) and, where
    the caller does not act on it itself, how to proceed (`fix`)."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem


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
        raise HubError(
            f"unknown hub repository {repo_id!r} at {endpoint()} (or it is private: log in with `hf auth login`)"
        ) from None
    except RevisionNotFoundError:
        raise HubError(
            f"unknown revision {revision!r} of hub repository {repo_id!r}; give a tag, branch or commit that exists"
        ) from None
    except Exception as err:  # noqa: BLE001 - connection errors come in many types
        raise HubError(
            f"the hub at {endpoint()} is unreachable ({type(err).__name__})",
            "build the zoo locally instead with 'netembench zoo build NAME', or set HF_HUB_OFFLINE=1 to use "
            "the cache",
        ) from None
    return info.sha


def download_zoo(
    repo_id: str,
    revision: str | None,
    cache: Path,
    splits: list[str] | None = None,
    target: Path | None = None,
    quiet: bool = False,
) -> Zoo:
    """Download (or reuse from the `cache` folder) a zoo pinned to one commit, verified before use."""
    refs_file = _repo_dir(cache, repo_id) / "refs.json"
    refs = json.loads(refs_file.read_text()) if refs_file.is_file() else {}
    rev = revision or "main"
    if offline():
        commit = rev if _COMMIT.match(rev) else refs.get(rev)
        candidates = (
            [target]
            if target
            else [_folder(cache, repo_id, commit or "", splits), _folder(cache, repo_id, commit or "", None)]
        )
        for folder in candidates if commit else []:
            if folder.is_dir():
                return open_cached(folder)
        raise HubError(
            f"HF_HUB_OFFLINE=1 and {repo_id}@{rev} is not in the cache ({cache})",
            "go online once, or build the zoo locally",
        )
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


def _fetch(
    repo_id: str, revision: str, commit: str, folder: Path, splits: list[str] | None, quiet: bool
) -> None:
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
                snapshot_download(
                    repo_id,
                    repo_type=REPO_TYPE,
                    revision=commit,
                    local_dir=tmp,
                    allow_patterns=["manifest.json"],
                    endpoint=endpoint(),
                )
                patterns = split_files(json.loads((tmp / "manifest.json").read_text())["files"], splits) + [
                    "manifest.json"
                ]
            snapshot_download(
                repo_id,
                repo_type=REPO_TYPE,
                revision=commit,
                local_dir=tmp,
                allow_patterns=patterns,
                endpoint=endpoint(),
            )
        except Exception as err:  # noqa: BLE001
            raise HubError(
                f"downloading {repo_id}@{commit[:12]} failed ({type(err).__name__}: {err}); try again"
            ) from None
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
        source = {
            "kind": "hub",
            "repo": repo_id,
            "revision": revision,
            "commit": commit,
            "endpoint": endpoint(),
            "splits": splits,
        }
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
        raise ZooIntegrityError(
            f"{err} (the cached copy was modified on disk: remove it with 'netembench zoo remove' and download again)"
        ) from None


def push_zoo(
    zoo: Zoo, repo_id: str | None = None, tag: str | None = None, private: bool = False
) -> tuple[str, str]:
    """Release a zoo: verify it, upload the folder (data files and dataset card) to a dataset
    repository in one commit, and tag that commit (default `v<version>`). Returns (repo, commit).

    `repo_id` defaults to the spec's `hub_repo`; a canonical zoo's own repository takes only its
    reference build, so that every download there passes the fingerprint check.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    spec_repo = _canonical_hub_repo(zoo)
    repo_id = repo_id or spec_repo
    if not repo_id:
        raise HubError(f"{zoo.spec.ref} names no hub repository (hub_repo); give one as org/name")
    if not _REPO.match(repo_id):
        raise HubError(f"{repo_id!r} is not a hub repository name of the form org/name")
    if zoo.partial:
        raise HubError(f"{zoo.path} holds only the splits {zoo.splits}; push a complete zoo")
    if zoo.split == "private":
        raise HubError(
            f"refusing to push {zoo.path}: it is a private build (a secret test split); never publish it"
        )
    problems = verify_zoo(zoo.path)
    if problems:
        raise ZooIntegrityError(
            f"refusing to push {zoo.path}: it fails verification ({'; '.join(problems[:3])}); rebuild it first"
        )
    if repo_id == spec_repo and not zoo.is_canonical:
        raise HubError(f"refusing to push {zoo.spec.ref} to {repo_id}: {zoo.canonical_note()}")
    tag = tag or f"v{zoo.version}"
    api = HfApi(endpoint=endpoint())
    files = sorted(p for p in zoo.path.rglob("*") if p.is_file())
    operations = [
        CommitOperationAdd(path_in_repo=p.relative_to(zoo.path).as_posix(), path_or_fileobj=str(p))
        for p in files
    ]
    with _hub_errors(f"pushing {zoo.spec.ref} to {repo_id}"):
        api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
        info = api.create_commit(
            repo_id,
            operations,
            repo_type=REPO_TYPE,
            commit_message=f"netembench zoo {zoo.spec.ref} (content {zoo.fingerprint[:12]})",
            commit_description=f"content fingerprint {zoo.fingerprint}",
        )
        api.create_tag(
            repo_id,
            repo_type=REPO_TYPE,
            tag=tag,
            revision=info.oid,
            tag_message=f"{zoo.spec.ref} {zoo.fingerprint}",
        )
    return repo_id, info.oid


def _canonical_hub_repo(zoo: Zoo) -> str:
    from netembench.zoo.spec import canonical_specs

    spec = canonical_specs().get(zoo.spec.ref)
    return spec.hub_repo if spec else ""


@contextmanager
def _hub_errors(doing: str) -> Iterator[None]:
    """Hub failures of a write as one HubError line that says what to do."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        if status in (401, 403):
            raise HubError(
                f"{doing} was refused ({status}): log in with `hf auth login` or set HF_TOKEN "
                "to a token with write access"
            ) from None
        if status == 409:
            raise HubError(
                f"{doing} conflicts with the repository ({str(err).splitlines()[0]}); "
                "a release tag is never moved: bump the zoo version or pass --tag"
            ) from None
        raise HubError(f"{doing} failed: {str(err).splitlines()[0]}") from None
    except Exception as err:
        if not _is_transport_error(err):
            raise
        raise HubError(
            f"{doing}: the hub at {endpoint()} is unreachable ({type(err).__name__}); try again when online"
        ) from None


def _is_transport_error(err: Exception) -> bool:
    """A connection-level failure, whichever HTTP library the hub client uses (httpx, httpx2, requests)."""
    return isinstance(err, OSError) or any(
        c.__name__ in ("TransportError", "ConnectionError") for c in type(err).__mro__
    )

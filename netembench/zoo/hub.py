"""Talking to the Hugging Face Hub, and nothing else: resolve a revision to a commit, download a
zoo at a commit into a folder (verified), push a release. Where a download goes in the cache, and
whether one is needed at all, is `source.py`'s decision.

Endpoint and offline mode are read from `HF_ENDPOINT` and `HF_HUB_OFFLINE` at call time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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


def is_commit(revision: str) -> bool:
    return bool(_COMMIT.match(revision))


def fetch(repo_id: str, commit: str, into: Path, splits: list[str] | None, quiet: bool) -> None:
    """Download a repository's zoo at `commit` (only `splits`, if given) into the empty folder
    `into` and verify every file against its manifest; a failure says what to do."""
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    if quiet:
        disable_progress_bars()
    try:
        _snapshot(repo_id, commit, into, splits)
    except Exception as err:  # noqa: BLE001
        raise HubError(f"downloading {repo_id}@{commit[:12]} failed ({type(err).__name__}: {err}); try again") from None
    finally:
        if quiet:
            enable_progress_bars()
    shutil.rmtree(into / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    problems = verify_zoo(into, splits)
    if problems:
        raise ZooIntegrityError(
            f"the download of {repo_id}@{commit[:12]} failed verification ({'; '.join(problems[:3])}); the hub copy is "
            "corrupt or was altered, nothing was cached"
        )


def _snapshot(repo_id: str, commit: str, into: Path, splits: list[str] | None) -> None:
    """`snapshot_download` of the files of `splits` (all without), manifest first to list them."""
    from huggingface_hub import snapshot_download

    patterns = None
    if splits:
        snapshot_download(
            repo_id,
            repo_type=REPO_TYPE,
            revision=commit,
            local_dir=into,
            allow_patterns=["manifest.json"],
            endpoint=endpoint(),
        )
        patterns = split_files(json.loads((into / "manifest.json").read_text())["files"], splits) + ["manifest.json"]
    snapshot_download(
        repo_id, repo_type=REPO_TYPE, revision=commit, local_dir=into, allow_patterns=patterns, endpoint=endpoint()
    )


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

from __future__ import annotations

import shutil

import pytest

from netembench.cli import main
from netembench.zoo.hub import HubError, push_zoo
from netembench.zoo.source import load_zoo
from netembench.zoo.store import Zoo, ZooIntegrityError
from tests.hub_server import TOKEN, FakeHub

REPO = "netembench/tiny-zoo"


@pytest.fixture()
def hub(monkeypatch):
    server = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    yield server
    server.close()


def test_tag_resolves_to_a_commit_that_is_recorded(hub, tiny_zoo):
    commit = hub.add(REPO, tiny_zoo.path, refs=("main", "v0.1.0"))
    zoo = load_zoo(f"{REPO}@v0.1.0", quiet=True)
    assert zoo.fingerprint == tiny_zoo.fingerprint
    assert zoo.source == {
        "kind": "hub",
        "repo": REPO,
        "revision": "v0.1.0",
        "commit": commit,
        "endpoint": hub.url,
        "splits": None,
    }
    assert zoo.path.name == commit
    assert set(hub.fetched(REPO)) == set(tiny_zoo.manifest["files"]) | {"manifest.json"}
    n_requests = len(hub.requests)
    assert load_zoo(REPO, quiet=True).path == zoo.path  # main -> same commit: served from the cache
    assert all(p.startswith("/api/") for _, p in hub.requests[n_requests:])  # only the revision was asked


def test_pinned_revisions_pick_their_commit(hub, tiny_zoo, tiny_spec, tmp_path):
    from netembench.zoo.build import build_zoo

    old = hub.add(REPO, tiny_zoo.path, refs=("v0.1.0",))
    other = build_zoo(tiny_spec.replace(seed=99), tmp_path / "other", quiet=True)
    new = hub.add(REPO, other.path, refs=("main",))
    assert load_zoo(f"{REPO}@{old}", quiet=True).fingerprint == tiny_zoo.fingerprint
    assert load_zoo(f"{REPO}@main", quiet=True).fingerprint == other.fingerprint
    assert load_zoo(f"{REPO}@{new}", quiet=True).source["commit"] == new


def test_partial_download_fetches_only_that_split(hub, tiny_zoo):
    hub.add(REPO, tiny_zoo.path)
    zoo = load_zoo(REPO, splits=["test"], quiet=True)
    fetched = hub.fetched(REPO)
    assert "metadata/test.parquet" in fetched and "weights/1-6-1/test-00000.safetensors" in fetched
    assert not any("train" in f or "unseen" in f or "validation" in f for f in fetched)
    assert zoo.splits == ["test"] and zoo.partial
    assert len(zoo.population(zoo.groups("test")[0])) == 3
    with pytest.raises(Exception, match="partial download"):
        zoo.table("train")


def test_altered_bytes_fail_verification_and_nothing_is_cached(hub, tiny_zoo, tmp_path):
    hub.add(REPO, tiny_zoo.path)
    original = (tiny_zoo.path / "tasks.parquet").read_bytes()
    hub.altered[(REPO, "tasks.parquet")] = original[:-1] + bytes([original[-1] ^ 1])
    with pytest.raises(
        ZooIntegrityError, match="failed verification .*tasks.parquet: sha256 mismatch.*nothing was cached"
    ):
        load_zoo(REPO, quiet=True)
    cache = tmp_path / "cache" / "hub"
    assert not any(p.is_dir() and not p.name.startswith(".") for p in cache.glob("*/*"))


def test_unknown_repository_and_revision(hub, tiny_zoo):
    with pytest.raises(HubError, match="unknown hub repository 'netembench/nope'"):
        load_zoo("netembench/nope")
    hub.add(REPO, tiny_zoo.path)
    with pytest.raises(HubError, match="unknown revision 'v9' of hub repository"):
        load_zoo(f"{REPO}@v9")


def test_offline_mode_uses_the_cache_only(hub, tiny_zoo, monkeypatch):
    hub.add(REPO, tiny_zoo.path, refs=("main", "v0.1.0"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="HF_HUB_OFFLINE=1 and netembench/tiny-zoo@v0.1.0 is not in the cache"):
        load_zoo(f"{REPO}@v0.1.0")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    online = load_zoo(f"{REPO}@v0.1.0", quiet=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.requests)
    assert load_zoo(f"{REPO}@v0.1.0").path == online.path
    assert len(hub.requests) == before  # no network at all


def test_unreachable_hub_says_how_to_build_locally(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(HubError, match="unreachable .*netembench zoo build"):
        load_zoo("netembench/anything")


def test_modified_cache_is_detected(hub, tiny_zoo):
    hub.add(REPO, tiny_zoo.path)
    zoo = load_zoo(REPO, quiet=True)
    (zoo.path / "spec.toml").write_text("tampered")
    with pytest.raises(ZooIntegrityError, match="spec.toml.*modified on disk"):
        load_zoo(REPO, quiet=True)


def test_canonical_name_falls_back_from_hub_to_a_local_build(hub, tiny_zoo, tiny_spec, tmp_path, capsys):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(
        tiny_spec.replace(hub_repo=REPO, reference_fingerprint=tiny_zoo.fingerprint).to_toml()
    )
    hub.add(REPO, tiny_zoo.path, refs=("v0.1.0",))
    assert load_zoo(str(spec_file), quiet=True).source["kind"] == "hub"
    other = tmp_path / "other.toml"
    other.write_text(tiny_spec.replace(name="tiny-two", hub_repo="netembench/missing").to_toml())
    zoo = load_zoo(str(other), build_if_missing=True)
    assert "unknown hub repository 'netembench/missing'" in capsys.readouterr().out
    assert zoo.source["kind"] == "local"


def test_download_command_and_cli_errors(hub, tiny_zoo, capsys):
    hub.add(REPO, tiny_zoo.path, refs=("v0.1.0",))
    assert main(["zoo", "download", f"{REPO}@v0.1.0", "--split", "test", "--quiet"]) == 0
    assert "test" in capsys.readouterr().out
    assert main(["zoo", "download", "netembench/nope", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown hub repository" in err


def test_push_releases_a_zoo_end_to_end(hub, tiny_zoo, tmp_path, monkeypatch, capsys):
    """`zoo push` through the real client's upload protocol; the release downloads to the same zoo."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["zoo", "push", str(tiny_zoo.path), "org/tiny", "--private", "--quiet"]) == 0
    assert "tagged v0.1.0" in capsys.readouterr().out
    posts = [p for m, p in hub.requests if m == "POST"]
    assert posts[:1] == ["/api/repos/create"] and "/api/datasets/org/tiny/commit/main" in posts
    assert hub.repos["org/tiny"]["private"] is True
    commit = hub.repos["org/tiny"]["refs"]["v0.1.0"]
    assert hub.repos["org/tiny"]["refs"]["main"] == commit
    assert set(hub.repos["org/tiny"]["commits"][commit]) == {
        p.relative_to(tiny_zoo.path).as_posix() for p in tiny_zoo.path.rglob("*") if p.is_file()
    }
    released = load_zoo("org/tiny@v0.1.0", quiet=True)
    assert released.fingerprint == tiny_zoo.fingerprint and released.source["commit"] == commit
    # A release tag is never moved: pushing the same version again fails in one line.
    assert main(["zoo", "push", str(tiny_zoo.path), "org/tiny", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a release tag is never moved" in err


def test_push_refusals_are_one_line(hub, tiny_zoo, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored login either
    assert main(["zoo", "push", str(tiny_zoo.path), "org/tiny", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused (401): log in with `hf auth login` or set HF_TOKEN" in err
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # no network
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert main(["zoo", "push", str(tiny_zoo.path), "org/tiny", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is unreachable" in err and "Traceback" not in err
    assert main(["zoo", "push", str(tiny_zoo.path), "--quiet"]) == 1  # the tiny spec names no hub_repo
    assert "names no hub repository" in capsys.readouterr().err
    broken = shutil.copytree(tiny_zoo.path, tmp_path / "broken")
    zoo = Zoo(broken)
    (broken / "tasks.parquet").write_bytes(b"x")
    with pytest.raises(ZooIntegrityError, match="refusing to push .*tasks.parquet"):
        push_zoo(zoo, "org/tiny")


def test_offline_split_request_is_served_by_a_full_download(hub, tiny_zoo, monkeypatch):
    hub.add(REPO, tiny_zoo.path)
    full = load_zoo(REPO, quiet=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load_zoo(REPO, splits=["test"]).path == full.path

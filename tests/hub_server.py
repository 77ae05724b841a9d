"""A local stand-in for the Hugging Face Hub (standard library only), for the real
`huggingface_hub` client pointed at it with HF_ENDPOINT.

Downloads: revision info, the recursive tree of a commit, HEAD/GET of files by commit.
Uploads, as `HfApi.create_repo`, `create_commit` and `create_tag` speak them: repository creation,
README metadata validation, `preupload` (this hub asks for every file as a regular git blob, so
contents travel base64-encoded in the commit; the LFS and Xet storage paths are not served),
the NDJSON `commit` endpoint and tags. Writes need a bearer token (`TOKEN`).
Records every request so tests can assert what was fetched and sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

TOKEN = "hf_local_test_token"


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.altered: dict[tuple[str, str], bytes] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo_id: str, folder: Path, refs: tuple[str, ...] = ("main",)) -> str:
        """Publish `folder` as a commit of `repo_id`, pointed to by `refs`; returns the commit."""
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
        }
        commit = hashlib.sha1(
            repo_id.encode() + b"".join(hashlib.sha1(v).digest() for v in files.values())
        ).hexdigest()
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        repo["commits"][commit] = files
        for ref in refs:
            repo["refs"][ref] = commit
        return commit

    def commit(self, repo_id: str, parent: str, files: dict[str, bytes], ref: str) -> str:
        """Record a commit of `files` on top of `parent` and move `ref` to it."""
        digest = hashlib.sha1(repo_id.encode() + parent.encode())
        for name in sorted(files):
            digest.update(name.encode() + hashlib.sha1(files[name]).digest())
        commit = digest.hexdigest()
        repo = self.repos[repo_id]
        repo["commits"][commit] = files
        repo["refs"][ref] = commit
        return commit

    def fetched(self, repo_id: str) -> list[str]:
        prefix = f"/datasets/{repo_id}/resolve/"
        return sorted({p.split("/", 6)[6] for m, p in self.requests if m == "GET" and p.startswith(prefix)})

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                hub.requests.append(("POST", unquote(path)))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = [unquote(p) for p in path.strip("/").split("/")]
                if parts[:2] == ["api", "validate-yaml"]:
                    self._json({"errors": [], "warnings": []})
                    return
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
                    return
                if parts[:3] == ["api", "repos", "create"]:
                    self._create_repo(json.loads(body))
                elif (
                    parts[:2] == ["api", "datasets"]
                    and len(parts) >= 6
                    and parts[4] in ("preupload", "commit", "tag")
                ):
                    repo_id = f"{parts[2]}/{parts[3]}"
                    commit, files = self._commit(repo_id, parts[5])
                    if commit is None:
                        return
                    handler = {"preupload": self._preupload, "commit": self._commit_files, "tag": self._tag}[
                        parts[4]
                    ]
                    handler(repo_id, parts[5], commit, files, body)
                else:
                    self._error(404, "NotFound", f"no route for POST {path}")

            def _create_repo(self, payload: dict) -> None:
                if payload.get("type") != "dataset":
                    self._error(400, "BadRequest", "this hub holds dataset repositories only")
                    return
                repo_id = (
                    f"{payload['organization']}/{payload['name']}"
                    if payload.get("organization")
                    else payload["name"]
                )
                if repo_id in hub.repos:
                    self._error(
                        409,
                        "Conflict",
                        "You already created this dataset repo",
                        url=f"{hub.url}/datasets/{repo_id}",
                    )
                    return
                private = bool(payload.get("private")) or payload.get("visibility") == "private"
                hub.repos[repo_id] = {"refs": {}, "commits": {}, "private": private}
                hub.commit(repo_id, "", {}, "main")
                self._json({"url": f"{hub.url}/datasets/{repo_id}"})

            def _preupload(self, repo_id: str, rev: str, commit: str, files: dict, body: bytes) -> None:
                wanted = json.loads(body)["files"]
                self._json(
                    {
                        "files": [
                            {
                                "path": f["path"],
                                "uploadMode": "regular",
                                "shouldIgnore": False,
                                "oid": hashlib.sha1(files[f["path"]]).hexdigest()
                                if f["path"] in files
                                else None,
                            }
                            for f in wanted
                        ]
                    }
                )

            def _commit_files(self, repo_id: str, rev: str, commit: str, files: dict, body: bytes) -> None:
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                if not lines or lines[0].get("key") != "header":
                    self._error(400, "BadRequest", "the commit payload must start with a header")
                    return
                new = dict(files)
                for line in lines[1:]:
                    value = line["value"]
                    if line["key"] == "file" and value.get("encoding") == "base64":
                        new[value["path"]] = base64.b64decode(value["content"])
                    elif line["key"] == "deletedFile":
                        new.pop(value["path"], None)
                    else:
                        self._error(400, "BadRequest", f"this hub does not accept {line['key']!r} operations")
                        return
                oid = hub.commit(repo_id, commit, new, rev)
                self._json(
                    {
                        "commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{oid}",
                        "commitOid": oid,
                        "pullRequestUrl": None,
                    }
                )

            def _tag(self, repo_id: str, rev: str, commit: str, files: dict, body: bytes) -> None:
                tag = json.loads(body)["tag"]
                if tag in hub.repos[repo_id]["refs"]:
                    self._error(409, "Conflict", f"Tag {tag} already exists")
                    return
                hub.repos[repo_id]["refs"][tag] = commit
                self._json({})

            def _error(self, status: int, code: str, message: str, **extra) -> None:
                data = json.dumps({"error": message, **extra}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, value) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _commit(self, repo_id: str, rev: str):
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound", f"Repository {repo_id} not found")
                    return None, None
                commit = repo["refs"].get(rev, rev if rev in repo["commits"] else None)
                if commit is None:
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
                    return None, None
                return commit, repo["commits"][commit]

            def _serve(self, body: bool) -> None:
                path = urlsplit(self.path).path
                hub.requests.append((self.command, unquote(path)))
                parts = [unquote(p) for p in path.strip("/").split("/")]
                if parts[:2] == ["api", "datasets"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
                    repo_id = f"{parts[2]}/{parts[3]}"
                    commit, files = self._commit(repo_id, parts[5])
                    if commit is None:
                        return
                    if parts[4] == "revision":
                        self._json(
                            {
                                "id": repo_id,
                                "sha": commit,
                                "private": False,
                                "siblings": [{"rfilename": f} for f in files],
                            }
                        )
                    else:
                        under = "/".join(parts[6:])
                        self._json(
                            [
                                {
                                    "type": "file",
                                    "path": f,
                                    "size": len(v),
                                    "oid": hashlib.sha1(v).hexdigest(),
                                }
                                for f, v in files.items()
                                if f.startswith(under)
                            ]
                        )
                elif parts[0] == "datasets" and len(parts) >= 6 and parts[3] == "resolve":
                    repo_id, rel = f"{parts[1]}/{parts[2]}", "/".join(parts[5:])
                    commit, files = self._commit(repo_id, parts[4])
                    if commit is None:
                        return
                    if rel not in files:
                        self._error(404, "EntryNotFound", f"{rel} does not exist at {commit}")
                        return
                    data = hub.altered.get((repo_id, rel), files[rel])
                    self.send_response(200)
                    self.send_header("X-Repo-Commit", commit)
                    self.send_header("ETag", f'"{hashlib.sha1(files[rel]).hexdigest()}"')
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Content-Type", "application/octet-stream")
                    self.end_headers()
                    if body:
                        self.wfile.write(data)
                else:
                    self._error(404, "NotFound", f"no route for {path}")

        return Handler

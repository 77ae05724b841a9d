"""A local stand-in for the Hugging Face Hub's download protocol (standard library only).

Serves folders as dataset repositories to the real `huggingface_hub` client pointed at it with
HF_ENDPOINT: revision info, the recursive tree of a commit, and HEAD/GET of files by commit.
Records every request so tests can assert what was fetched.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


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
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        commit = hashlib.sha1(repo_id.encode() + b"".join(hashlib.sha1(v).digest() for v in files.values())).hexdigest()
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        repo["commits"][commit] = files
        for ref in refs:
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

            def _error(self, status: int, code: str, message: str) -> None:
                data = json.dumps({"error": message}).encode()
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
                        self._json({"id": repo_id, "sha": commit, "private": False, "siblings": [{"rfilename": f} for f in files]})
                    else:
                        under = "/".join(parts[6:])
                        self._json([
                            {"type": "file", "path": f, "size": len(v), "oid": hashlib.sha1(v).hexdigest()}
                            for f, v in files.items() if f.startswith(under)
                        ])
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

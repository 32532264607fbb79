"""A loopback server that speaks the part of the Hugging Face Hub HTTP API our code and its libraries use.

Why: the Hub cannot be reached from CI, and mocking ``huggingface_hub`` would test our assumptions about it,
not the real client. This server lets the real ``HfApi``, ``hf_hub_download``, ``HfFileSystem``,
``datasets.load_dataset``/``push_to_hub``, ``transformers`` and ``timm`` talk HTTP to 127.0.0.1, and it keeps
what they upload (git-like commits with 40-hex ids, parents and file trees) so tests download it back.

Implemented (as called by huggingface_hub 2.4 / datasets 5.2; URLs, methods and JSON shapes read from their
sources; uploads use the legacy LFS protocol, so clients need ``HF_HUB_DISABLE_XET=1``):

- ``GET  /api/whoami-v2``, ``GET /api/agent-harnesses`` (an empty registry for the client's agent detection)
- ``POST /api/repos/create`` (409 + ``url`` when it exists, like the Hub; first commit holds ``.gitattributes``)
- ``POST /api/validate-yaml`` (YAML must parse to a mapping; ``model-index`` and dataset ``configs`` structure)
- ``GET  /api/{type}s/{ns}/{name}[/revision/{rev}]`` (repo info: ``sha``, ``siblings``, ``cardData``...)
- ``GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]`` (``?recursive=true``), ``POST .../paths-info/{rev}``
- ``POST /api/{type}s/{ns}/{name}/preupload/{rev}`` (upload mode from ``.gitattributes`` patterns or binary sample)
- ``POST /api/{type}s/{ns}/{name}/commit/{rev}`` (NDJSON: header, file, lfsFile, deletedFile, deletedFolder;
  ``?create_pr=1`` opens ``refs/pr/N``; ``parentCommit`` mismatch -> 412)
- ``GET  /api/{type}s/{ns}/{name}/commits/{rev}``, ``GET .../refs``, ``POST .../branch/{branch}``
- ``POST /[{type}s/]{ns}/{name}.git/info/lfs/objects/batch`` -> ``PUT /_lfs/{sha256}`` + ``POST /_lfs/{sha256}/verify``
- ``HEAD``/``GET /[{type}s/]{ns}/{name}/resolve/{rev}/{path}`` (``ETag``, ``X-Repo-Commit``, ``X-Linked-Etag``,
  ``X-Linked-Size`` for LFS files, ``Range`` requests)

Auth like the Hub: writes need ``Authorization: Bearer <token>`` of the repo's namespace; a wrong token is 401
"Invalid credentials in Authorization header"; private repos are invisible (404) to others. Errors carry
``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound) so the client raises its typed errors.

Test controls: ``fail_next(status, path_contains=..., method=..., times=...)``, ``commits(repo_id)``,
``files(repo_id)``, ``repo_exists``, ``validate_yaml_calls``, ``requests`` (method, path, authenticated —
never the token). Unknown routes answer 404 and are listed in ``unhandled`` so a test notices.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy *.npz "
    "*.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors *.tar.* *.tar *.tflite *.tgz *.wasm "
    "*.xz *.zip *.zst *tfevents* *.png *.jpg *.jpeg *.webp *.gif"
).split()
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()
REGULAR_MAX_SIZE = 10 * 1024 * 1024
INVALID_TOKEN = "Invalid credentials in Authorization header"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Blob:
    """File content as git/LFS sees it: regular files are git blobs, LFS files are pointers to sha256 objects."""

    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @property
    def git_oid(self) -> str:
        stored = self.pointer if self.lfs else self.data
        return hashlib.sha1(b"blob %d\0" % len(stored) + stored).hexdigest()

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.git_oid

    def tree_entry(self, path: str) -> dict:
        entry = {"type": "file", "oid": self.git_oid, "size": len(self.data), "path": path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": len(self.pointer)}
        return entry


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    author: str
    date: str
    files: dict[str, Blob]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "main", "refs/pr/1", other branches -> commit oid
    next_pr: int = 1

    def resolve(self, revision: str) -> Commit | None:
        oid = self.refs.get(revision) or self.refs.get(revision.removeprefix("refs/heads/"))
        if oid is None and re.fullmatch(r"[0-9a-f]{40}", revision):
            oid = revision
        return self.commits.get(oid) if oid else None

    def history(self, revision: str = "main") -> list[Commit]:
        commit, chain = self.resolve(revision), []
        while commit is not None:
            chain.append(commit)
            commit = self.commits.get(commit.parent) if commit.parent else None
        return chain


class HubError(Exception):
    """An HTTP error answer, with the headers the client uses to pick its exception type."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class HubState:
    """Everything the server stores; thread-safe because requests run in threads."""

    def __init__(self, users: dict[str, str]):
        self.tokens = dict(users)  # token -> user name
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.validate_yaml_calls: list[dict] = []
        self.requests: list[tuple[str, str, bool]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.failures: list[dict] = []
        self.lock = threading.RLock()
        self._counter = 0

    def new_commit(self, repo: Repo, parent: Commit | None, files: dict[str, Blob], title: str, message: str, author: str) -> Commit:
        self._counter += 1
        digest = hashlib.sha1(json.dumps([repo.repo_id, parent.oid if parent else None, title, self._counter,
                                          sorted((p, b.git_oid) for p, b in files.items())]).encode()).hexdigest()
        commit = Commit(digest, parent.oid if parent else None, title, message, author, _now(), files)
        repo.commits[digest] = commit
        return commit


def _yaml_front_matter(content: str) -> dict | None:
    match = re.match(r"^\s*---\r?\n(.*?)\r?\n---", content, re.S)
    if not match:
        return None
    return yaml.safe_load(match.group(1)) or {}


def validate_metadata(content: str, repo_type: str) -> list[str]:
    """The Hub's checks that matter here: YAML parses to a mapping; model-index and configs are well formed."""
    try:
        metadata = _yaml_front_matter(content)
    except yaml.YAMLError as error:
        return [f"YAML metadata could not be parsed: {error}"]
    if metadata is None:
        return []
    if not isinstance(metadata, dict):
        return ["YAML metadata must be a mapping"]
    errors = []
    model_index = metadata.get("model-index")
    if repo_type == "model" and model_index is not None:
        if not isinstance(model_index, list):
            return ['"model-index" must be an array']
        for i, model in enumerate(model_index):
            if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not isinstance(model.get("results"), list):
                errors.append(f'"model-index[{i}]" must have a "name" string and a "results" array')
                continue
            for j, result in enumerate(model["results"]):
                where = f'"model-index[{i}].results[{j}]"'
                if not isinstance(result, dict):
                    errors.append(f"{where} must be an object")
                    continue
                if not isinstance((result.get("task") or {}).get("type"), str):
                    errors.append(f'{where}.task.type is required')
                dataset = result.get("dataset") or {}
                if not (isinstance(dataset.get("type"), str) and isinstance(dataset.get("name"), str)):
                    errors.append(f"{where}.dataset needs type and name strings")
                metrics = result.get("metrics")
                if not isinstance(metrics, list) or not metrics:
                    errors.append(f"{where}.metrics must be a non-empty array")
                    continue
                for k, metric in enumerate(metrics):
                    if not isinstance(metric, dict) or not isinstance(metric.get("type"), str) or "value" not in metric:
                        errors.append(f"{where}.metrics[{k}] needs a type string and a value")
    configs = metadata.get("configs")
    if repo_type == "dataset" and configs is not None:
        if not isinstance(configs, list) or not all(isinstance(c, dict) and isinstance(c.get("config_name"), str) for c in configs):
            errors.append('"configs" must be an array of objects with a "config_name"')
    return errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # keep test output clean
        pass

    # --- plumbing -------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", headers: dict | None = None, head: bool = False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, payload, headers: dict | None = None):
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _user(self, required: bool) -> str | None:
        """The caller's user name; a wrong token is always 401, a missing one only where ``required``."""
        header = self.headers.get("Authorization", "")
        if not header:
            if required:
                raise HubError(401, "You must be authenticated to do this (no token in the request)")
            return None
        token = header.removeprefix("Bearer ").strip()
        user = self.server.state.tokens.get(token)
        if user is None:
            raise HubError(401, INVALID_TOKEN)
        return user

    def _dispatch(self, method: str):
        state = self.server.state
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        segments = [unquote(s) for s in url.path.strip("/").split("/")]
        with state.lock:
            state.requests.append((method, url.path, bool(self.headers.get("Authorization"))))
            failure = next((f for f in state.failures if (f["method"] in (None, method)) and f["path_contains"] in url.path), None)
            if failure:
                failure["times"] -= 1
                if failure["times"] <= 0:
                    state.failures.remove(failure)
        body = self._body() if method in ("POST", "PUT") else b""
        try:
            if failure:
                raise HubError(failure["status"], failure["message"])
            handled = self._route(method, segments, body)
            if not handled:
                with state.lock:
                    state.unhandled.append((method, url.path))
                raise HubError(404, f"no route for {method} {url.path}")
        except HubError as error:
            headers = {"X-Error-Message": error.message, **error.headers}
            if error.code:
                headers["X-Error-Code"] = error.code
            body = json.dumps({"error": error.message}).encode()
            self._send(error.status, body, headers=headers, head=method == "HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    # --- routing --------------------------------------------------------------------------------------------
    def _route(self, method: str, seg: list[str], body: bytes) -> bool:
        if seg[:2] == ["api", "whoami-v2"] and method == "GET":
            return self._whoami()
        if seg[:2] == ["api", "agent-harnesses"] and method == "GET":  # the client's best-effort telemetry registry
            self._json(200, {"standardEnvVars": [], "harnesses": {}})
            return True
        if seg[:3] == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(json.loads(body or b"{}"))
        if seg[:2] == ["api", "validate-yaml"] and method == "POST":
            return self._validate_yaml(json.loads(body or b"{}"))
        if seg[0] == "api" and len(seg) >= 4 and seg[1] in REPO_TYPES:
            repo_type, repo_id, rest = REPO_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:]
            return self._repo_api(method, repo_type, repo_id, rest, body)
        if seg[0] == "_lfs" and len(seg) >= 2:
            return self._lfs_object(method, seg[1], seg[2:], body)
        repo_type = REPO_TYPES.get(seg[0]) if seg[0] in ("datasets", "spaces") else None
        rest = seg[1:] if repo_type else seg
        repo_type = repo_type or "model"
        if len(rest) >= 5 and rest[1].endswith(".git") and rest[2:5] == ["info", "lfs", "objects"] and rest[5:] == ["batch"]:
            return self._lfs_batch(repo_type, f"{rest[0]}/{rest[1][:-4]}", json.loads(body or b"{}"))
        if len(rest) >= 5 and rest[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(method, repo_type, f"{rest[0]}/{rest[1]}", rest[3], "/".join(rest[4:]))
        return False

    def _repo(self, repo_type: str, repo_id: str, user: str | None) -> Repo:
        repo = self.server.state.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and user != repo_id.split("/")[0]):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def _writable(self, repo_type: str, repo_id: str) -> tuple[Repo, str]:
        user = self._user(required=True)
        repo = self._repo(repo_type, repo_id, user)
        if repo_id.split("/")[0] != user:
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo, user

    def _repo_url(self, repo: Repo) -> str:
        return f"{self.server.url}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    # --- endpoints ------------------------------------------------------------------------------------------
    def _whoami(self) -> bool:
        user = self._user(required=True)
        self._json(200, {"type": "user", "id": f"id-{user}", "name": user, "fullname": user.title(), "orgs": [],
                         "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}}})
        return True

    def _create_repo(self, payload: dict) -> bool:
        user = self._user(required=True)
        namespace = payload.get("organization") or user
        repo_type = payload.get("type") or "model"
        repo_id = f"{namespace}/{payload['name']}"
        if namespace != user:
            raise HubError(403, f"You don't have the rights to create a {repo_type} under the namespace {namespace}")
        state = self.server.state
        with state.lock:
            existing = state.repos.get((repo_type, repo_id))
            if existing is not None:
                url = self._repo_url(existing)
                self._json(409, {"error": f"You already created this {repo_type} repo", "url": url}, {"X-Error-Message": "You already created this repo"})
                return True
            if repo_type == "space" and payload.get("sdk") not in ("gradio", "docker", "static"):
                raise HubError(400, "Spaces need an sdk: gradio, docker or static")
            repo = Repo(repo_type, repo_id, payload.get("visibility") == "private" or bool(payload.get("private")), payload.get("sdk"), _now())
            files = {".gitattributes": Blob(GITATTRIBUTES, lfs=False)}
            repo.refs["main"] = state.new_commit(repo, None, files, "initial commit", "", user).oid
            state.repos[(repo_type, repo_id)] = repo
        self._json(200, {"url": self._repo_url(repo), "name": repo_id, "id": f"id-{repo_id}"})
        return True

    def _validate_yaml(self, payload: dict) -> bool:
        self._user(required=False)
        errors = validate_metadata(payload.get("content", ""), payload.get("repoType", "model"))
        with self.server.state.lock:
            self.server.state.validate_yaml_calls.append({"repoType": payload.get("repoType"), "content": payload.get("content"), "errors": errors})
        if errors:
            self._json(400, {"errors": [{"message": e} for e in errors], "warnings": []})
        else:
            self._json(200, {"errors": [], "warnings": []})
        return True

    def _repo_api(self, method: str, repo_type: str, repo_id: str, rest: list[str], body: bytes) -> bool:
        state = self.server.state
        if method == "GET" and (not rest or rest[0] == "revision"):
            repo = self._repo(repo_type, repo_id, self._user(False))
            return self._info(repo, self._commit(repo, rest[1] if len(rest) > 1 else "main"))
        if method == "GET" and rest[:1] == ["tree"] and len(rest) >= 2:
            repo = self._repo(repo_type, repo_id, self._user(False))
            return self._tree(self._commit(repo, rest[1]), "/".join(rest[2:]).strip("/"))
        if method == "POST" and rest[:1] == ["paths-info"] and len(rest) == 2:
            repo = self._repo(repo_type, repo_id, self._user(False))
            form = parse_qs(body.decode())
            return self._paths_info(self._commit(repo, rest[1]), form.get("paths", []))
        if method == "GET" and rest[:1] == ["commits"] and len(rest) == 2:
            repo = self._repo(repo_type, repo_id, self._user(False))
            self._commit(repo, rest[1])
            self._json(200, [{"id": c.oid, "title": c.title, "message": c.message, "authors": [{"user": c.author}], "date": c.date}
                             for c in repo.history(rest[1])])
            return True
        if method == "GET" and rest == ["refs"]:
            repo = self._repo(repo_type, repo_id, self._user(False))
            branches = [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in repo.refs.items() if not n.startswith("refs/")]
            prs = [{"name": n, "ref": n, "targetCommit": o} for n, o in repo.refs.items() if n.startswith("refs/pr/")]
            self._json(200, {"branches": branches, "converts": [], "tags": [],
                             **({"pullRequests": prs} if self.query.get("include_prs") else {})})
            return True
        if method == "POST" and rest[:1] == ["branch"] and len(rest) == 2:
            with state.lock:
                repo, _ = self._writable(repo_type, repo_id)
                if rest[1] in repo.refs:
                    raise HubError(409, f"Reference already exists: {rest[1]}")
                start = json.loads(body or b"{}").get("startingPoint") or "main"
                repo.refs[rest[1]] = self._commit(repo, start).oid
            self._json(200, {})
            return True
        if method == "POST" and rest[:1] == ["preupload"] and len(rest) == 2:
            return self._preupload(repo_type, repo_id, rest[1], json.loads(body or b"{}"))
        if method == "POST" and rest[:1] == ["commit"] and len(rest) == 2:
            return self._commit_files(repo_type, repo_id, rest[1], body)
        return False

    def _info(self, repo: Repo, commit: Commit) -> bool:
        card = None
        if "README.md" in commit.files:
            try:
                card = _yaml_front_matter(commit.files["README.md"].data.decode())
            except (yaml.YAMLError, UnicodeDecodeError):
                card = None
        info = {
            "_id": f"id-{repo.repo_id}", "id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": commit.oid,
            "lastModified": commit.date, "createdAt": repo.created_at, "private": repo.private, "gated": False,
            "disabled": False, "downloads": 0, "likes": 0, "tags": list((card or {}).get("tags") or []),
            "siblings": [{"rfilename": p, "size": len(b.data), "blobId": b.git_oid,
                          **({"lfs": {"sha256": b.sha256, "size": len(b.data), "pointerSize": len(b.pointer)}} if b.lfs else {})}
                         for p, b in sorted(commit.files.items())],
        }
        if card:
            info["cardData"] = card
            for key in ("library_name", "pipeline_tag"):
                if key in card:
                    info[key] = card[key]
        if repo.repo_type == "space":
            info["sdk"] = repo.sdk
        self._json(200, info)
        return True

    @staticmethod
    def _folders(files: dict[str, Blob]) -> set[str]:
        return {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}

    def _entry(self, commit: Commit, path: str) -> dict | None:
        if path in commit.files:
            return commit.files[path].tree_entry(path)
        if path in self._folders(commit.files):
            return {"type": "directory", "oid": hashlib.sha1(f"{commit.oid}:{path}".encode()).hexdigest(), "size": 0, "path": path}
        return None

    def _tree(self, commit: Commit, path: str) -> bool:
        if path and self._entry(commit, path) is None:
            raise HubError(404, f"{path} does not exist on this revision", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        prefix = f"{path}/" if path else ""
        recursive = str(self.query.get("recursive", "")).lower() in ("1", "true")
        names = sorted({p for p in list(commit.files) + list(self._folders(commit.files)) if p.startswith(prefix)})
        if not recursive:
            names = [p for p in names if "/" not in p[len(prefix):]]
        entries = [self._entry(commit, p) for p in names]
        self._json(200, sorted(entries, key=lambda e: (e["type"] != "directory", e["path"])))
        return True

    def _paths_info(self, commit: Commit, paths: list[str]) -> bool:
        entries = [self._entry(commit, p.strip("/")) for p in paths]
        self._json(200, [e for e in entries if e is not None])
        return True

    def _preupload(self, repo_type: str, repo_id: str, revision: str, payload: dict) -> bool:
        repo, _ = self._writable(repo_type, repo_id)
        commit = repo.resolve(revision) if not self.query.get("create_pr") else repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        attributes = commit.files.get(".gitattributes")
        patterns = [line.split()[0] for line in (attributes.data.decode() if attributes else "").splitlines()
                    if "filter=lfs" in line]
        files = []
        for item in payload.get("files", []):
            path, sample = item["path"], base64.b64decode(item.get("sample", ""))
            name = path.rsplit("/", 1)[-1]
            lfs = item.get("size", 0) > REGULAR_MAX_SIZE or b"\0" in sample or any(
                fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)
            existing = commit.files.get(path)
            oid = (existing.sha256 if existing.lfs else existing.git_oid) if existing else None
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        self._json(200, {"files": files, "commitOid": commit.oid})
        return True

    def _lfs_batch(self, repo_type: str, repo_id: str, payload: dict) -> bool:
        self._writable(repo_type, repo_id)
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], obj["size"]
            entry = {"oid": oid, "size": size, "authenticated": True}
            if oid not in self.server.state.lfs_objects:
                entry["actions"] = {"upload": {"href": f"{self.server.url}/_lfs/{oid}"},
                                    "verify": {"href": f"{self.server.url}/_lfs/{oid}/verify"}}
            objects.append(entry)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(), "application/vnd.git-lfs+json")
        return True

    def _lfs_object(self, method: str, oid: str, rest: list[str], body: bytes) -> bool:
        state = self.server.state
        if method == "PUT" and not rest:  # a presigned storage URL: no Authorization header, like S3
            if hashlib.sha256(body).hexdigest() != oid:
                raise HubError(400, "uploaded content does not match its sha256")
            with state.lock:
                state.lfs_objects[oid] = body
            self._send(200, headers={"ETag": f'"{oid}"'})
            return True
        if method == "POST" and rest == ["verify"]:
            self._user(required=True)
            size = json.loads(body or b"{}").get("size")
            if oid not in state.lfs_objects or len(state.lfs_objects[oid]) != size:
                raise HubError(404, f"LFS object {oid} not found or wrong size")
            self._json(200, {"success": True})
            return True
        return False

    def _commit_files(self, repo_type: str, repo_id: str, revision: str, body: bytes) -> bool:
        state = self.server.state
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "commit payload must start with a header line")
        header = lines[0]["value"]
        with state.lock:
            repo, user = self._writable(repo_type, repo_id)
            create_pr = self.query.get("create_pr") == "1"
            if create_pr and revision.startswith("refs/pr/"):
                raise HubError(400, "cannot open a pull request from a pull request")
            base = self._commit(repo, revision)
            if header.get("parentCommit") and header["parentCommit"] != base.oid and not create_pr:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(base.files)
            for line in lines[1:]:
                key, value = line["key"], line["value"]
                path = value["path"].strip("/")
                if key == "file":
                    files[path] = Blob(base64.b64decode(value["content"]), lfs=False)
                elif key == "lfsFile":
                    if value["oid"] not in state.lfs_objects:
                        raise HubError(422, f"LFS object {value['oid']} for {path} was never uploaded")
                    files[path] = Blob(state.lfs_objects[value["oid"]], lfs=True)
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise HubError(404, f"{path} does not exist", "EntryNotFound")
                elif key == "deletedFolder":
                    files = {p: b for p, b in files.items() if not p.startswith(f"{path}/")}
                else:
                    raise HubError(400, f"unknown commit operation {key!r}")
            commit = state.new_commit(repo, base, files, header.get("summary", ""), header.get("description", ""), user)
            pr_url = None
            if create_pr:
                number, repo.next_pr = repo.next_pr, repo.next_pr + 1
                repo.refs[f"refs/pr/{number}"] = commit.oid
                pr_url = f"{self._repo_url(repo)}/discussions/{number}"
            else:
                ref = revision if revision in repo.refs else next((r for r, o in repo.refs.items() if o == base.oid), None)
                if ref is None:
                    raise HubError(400, f"cannot commit on a detached revision {revision}")
                repo.refs[ref] = commit.oid
        self._json(200, {"success": True, "commitOid": commit.oid, "commitUrl": f"{self._repo_url(repo)}/commit/{commit.oid}",
                         "pullRequestUrl": pr_url})
        return True

    def _resolve(self, method: str, repo_type: str, repo_id: str, revision: str, path: str) -> bool:
        repo = self._repo(repo_type, repo_id, self._user(False))
        commit = self._commit(repo, revision)
        blob = commit.files.get(path)
        if blob is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{blob.etag}"', "Accept-Ranges": "bytes"}
        if blob.lfs:
            headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": len(blob.data)})
        data, status = blob.data, 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and (match.group(1) or match.group(2)):
            total = len(data)
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), total - 1) if match.group(2) else total - 1
            else:
                start, end = max(0, total - int(match.group(2))), total - 1
            if start >= total and total:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{total}"})
            data, status = data[start : end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        self._send(status, data, "application/octet-stream", headers, head=method == "HEAD")
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: HubState
    url: str


class HubServer:
    """Start with ``with HubServer() as hub:`` (or ``start()``/``stop()``); point ``HF_ENDPOINT`` at ``hub.url``."""

    def __init__(self, token: str = "hf_loopback_test_token_0123456789", user: str = "user", extra_users: dict[str, str] | None = None):
        self.token, self.user = token, user
        self.state = HubState({token: user, **(extra_users or {})})
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "HubServer":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.url = self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """The value for ``HF_ENDPOINT`` (same as ``url``)."""
        return self.url

    # --- test controls --------------------------------------------------------------------------------------
    def fail_next(self, status: int, path_contains: str = "", method: str | None = None, times: int = 1, message: str | None = None) -> None:
        """Answer the next ``times`` matching requests with ``status`` (e.g. 500) instead of handling them."""
        with self.state.lock:
            self.state.failures.append({"status": status, "path_contains": path_contains, "method": method, "times": times,
                                        "message": message or f"injected failure {status}"})

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo | None:
        return self.state.repos.get((repo_type, repo_id))

    def repo_exists(self, repo_id: str, repo_type: str = "model") -> bool:
        return self.repo(repo_id, repo_type) is not None

    def commits(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> list[Commit]:
        """Newest first, the repo-creating commit last."""
        repo = self.repo(repo_id, repo_type)
        return repo.history(revision) if repo else []

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        repo = self.repo(repo_id, repo_type)
        commit = repo.resolve(revision) if repo else None
        return {p: b.data for p, b in commit.files.items()} if commit else {}

    @property
    def validate_yaml_calls(self) -> list[dict]:
        return list(self.state.validate_yaml_calls)

    @property
    def requests(self) -> list[tuple[str, str, bool]]:
        return list(self.state.requests)

    @property
    def unhandled(self) -> list[tuple[str, str]]:
        return list(self.state.unhandled)


if __name__ == "__main__":  # manual use: python tests/hub_server.py, then HF_ENDPOINT=<url> HF_HUB_DISABLE_XET=1 ...
    with HubServer() as hub:
        print(f"HF_ENDPOINT={hub.url} HF_TOKEN={hub.token} HF_HUB_DISABLE_XET=1")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

"""The worker's sandbox (harness 1.3): bubblewrap namespaces, read-only mounts, limits (DESIGN §12).

A submission's worker runs under `bwrap` (the sandbox Flatpak uses) in new PID, network, IPC, UTS
and mount namespaces, as `nobody` (uid 65534) without capabilities: in a user namespace of its own,
or, when the harness runs as root (whose processes no process limit binds), dropped to the real
nobody by `setpriv`. Its file system is an empty read-only root holding only the system libraries,
the Python installation, the netembench package and the submission's files, all read-only, plus a
private `/tmp`, a fresh `/proc` of its own PID namespace and a minimal `/dev`: no zoo cache,
results, leaderboard, home or project tree. Bytecode caches (`__pycache__`) of the package and the
submission are hidden, so a planted `.pyc` cannot stand in for the source that was hashed. The
environment is reduced to `ENV_ALLOWED`, Python runs isolated (`-I -B`), and the worker sets
`Limits` on itself before it imports the submission. The whole tree dies with the worker: its PID
namespace ends when the worker exits or is killed, and `--die-with-parent` ends it when the
harness dies. `--device cuda` binds the NVIDIA device nodes into `/dev` (the driver's libraries
come with `/usr`).

Where bwrap is missing or cannot create namespaces (some containers), `unavailable()` says why and
the harness runs the worker unsandboxed; its results record `sealed: false` and are never verified.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import netembench

NOBODY = 65534
# Variables passed into the sandbox when set here; everything else (tokens, paths, proxies) stays out.
ENV_ALLOWED = (
    "LANG",
    "LC_ALL",
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TORCH_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "CUDA_VISIBLE_DEVICES",
)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives")
TMP_BYTES = 2 << 30  # the private /tmp (a tmpfs, in memory)


@dataclass(frozen=True)
class Limits:
    """Resource limits the worker sets on itself (soft = hard) before importing the submission."""

    memory: int | None  # bytes of address space (RLIMIT_AS); None under CUDA, which maps far more
    processes: int  # RLIMIT_NPROC: processes and threads of the sandbox user
    file_size: int  # RLIMIT_FSIZE: bytes of any one file written (to the private /tmp)
    cpu_seconds: int  # RLIMIT_CPU per process: a backstop; --timeout stops a slow call long before

    def as_dict(self) -> dict:
        return asdict(self)


def default_limits(device: str) -> Limits:
    """Three quarters of this machine's memory (8 GiB at least: it bounds addresses, not use), 256
    processes and threads plus 4 per core (torch starts a few per core), 1 GiB files, and a day of
    CPU time on every core."""
    cores = os.cpu_count() or 1
    memory = max(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4, 8 << 30)
    return Limits(None if device.startswith("cuda") else memory, 256 + 4 * cores, 1 << 30, 86_400 * cores)


def apply_limits(limits: dict) -> None:
    """Set `Limits` (as a dict) on this process: run in the worker, inside the sandbox's user
    namespace, so the process limit counts the sandbox's processes only."""
    import resource

    for name, value in (
        ("RLIMIT_AS", limits["memory"]),
        ("RLIMIT_NPROC", limits["processes"]),
        ("RLIMIT_FSIZE", limits["file_size"]),
        ("RLIMIT_CPU", limits["cpu_seconds"]),
    ):
        if value is not None:
            resource.setrlimit(getattr(resource, name), (value, value))


@functools.lru_cache(maxsize=1)
def unavailable() -> str | None:
    """Why no sandbox can run here (None: it can); tried once per process."""
    missing = [tool for tool in ("bwrap", *(["setpriv"] if os.getuid() == 0 else [])) if not shutil.which(tool)]
    if missing:
        return f"{' and '.join(missing)} not found; install bubblewrap (apt-get install bubblewrap util-linux)"
    probe = [shutil.which("bwrap"), *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    try:
        done = subprocess.run([*probe, *_drop(), "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap could not start ({err})"
    if done.returncode != 0:
        reason = " ".join(done.stderr.decode(errors="replace").split())[:200]
        return f"bwrap cannot create namespaces here ({reason or f'exit code {done.returncode}'})"
    return None


def _namespaces() -> list[str]:
    """New PID, network, IPC, UTS, mount (and cgroup) namespaces. A user namespace as well unless
    this process is root: root's processes are exempt from the process limit, so root's sandbox
    drops to nobody instead (`_drop`) and bwrap needs no user namespace to mount."""
    if os.getuid() == 0:
        return ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY)]


def _drop() -> list[str]:
    """The command prefix that runs the worker as nobody, without capabilities, when we are root."""
    if os.getuid() != 0:
        return []
    ids = ["--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
    return [shutil.which("setpriv") or "setpriv", *ids, "--inh-caps=-all", "--bounding-set=-all", "--"]


def python_roots() -> list[Path]:
    """The Python installation: prefixes, site-packages and the netembench package directory."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *site.getsitepackages()}
    roots.add(str(Path(netembench.__file__).parent))
    return sorted({Path(r).resolve() for r in roots if Path(r).exists()})


def command(worker: list[str], submission: list[Path], device: str, info_fd: int) -> list[str]:
    """bwrap's argv running `worker` (a python command) with `submission`'s paths mounted read-only;
    bwrap writes the sandbox's first process id to `info_fd` (JSON), to end its tree by."""
    cwd = str(Path.cwd())
    argv = [shutil.which("bwrap") or "bwrap", *_namespaces(), "--die-with-parent", "--new-session"]
    argv += ["--info-fd", str(info_fd)]
    argv += ["--clearenv", *(a for k, v in sorted(environment(device).items()) for a in ("--setenv", k, v))]
    for name in SYSTEM_DIRS + SYSTEM_FILES:
        path = Path(name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), name]
        elif path.exists():
            argv += ["--ro-bind", name, name]
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    made: set[Path] = set()
    for path in _outermost([*python_roots(), *submission]):
        argv += _folders(path.parent, made) + ["--ro-bind", str(path), str(path)]
    package = Path(netembench.__file__).parent.resolve()
    for cache in _pycaches([package, *submission]):  # an empty, read-only folder over each
        argv += ["--tmpfs", str(cache), "--remount-ro", str(cache)]
    if device.startswith("cuda"):
        argv += _gpu_devices()
    argv += [*_folders(Path(cwd), made), "--chdir", cwd, "--remount-ro", "/", "--", *_drop()]
    return [*argv, *worker]


def unreadable(paths: list[Path]) -> Path | None:
    """A file or folder among `paths` (and in its folders) that nobody may not read, when the
    sandbox runs as nobody (we are root): the worker could not import it."""
    if os.getuid() != 0:
        return None
    for root in paths:
        for path in [root, *(root.rglob("*") if root.is_dir() else [])]:
            mode = path.stat().st_mode
            if not mode & 0o004 or (path.is_dir() and not mode & 0o001):
                return path
    return None


def _folders(path: Path, made: set[Path]) -> list[str]:
    """`--dir` for `path` and its parents, readable by all (bwrap makes a mount's parents 0700);
    `/` and the private `/tmp` exist already."""
    out: list[str] = []
    for folder in [*reversed(path.parents), path]:
        if folder not in made and folder not in (Path("/"), Path("/tmp")):
            made.add(folder)
            out += ["--perms", "0755", "--dir", str(folder)]
    return out


def environment(device: str) -> dict[str, str]:
    """The worker's environment: `ENV_ALLOWED` as set here, and fixed values for the rest."""
    env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
    if not device.startswith("cuda"):
        env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update(PATH="/usr/bin:/bin", HOME="/tmp", TMPDIR="/tmp", USER="nobody", LOGNAME="nobody")
    env.setdefault("LANG", "C.UTF-8")
    # The worker idles while the harness scores; spinning OpenMP threads there cost the harness
    # 15-30% of its time on 2 cores (measured), so its threads sleep when idle.
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def _gpu_devices() -> list[str]:
    """`--device cuda`: the NVIDIA device nodes (/dev/nvidia*, /dev/nvidia-caps), bound as devices."""
    nodes = sorted(Path("/dev").glob("nvidia*"))
    return [a for node in nodes for a in ("--dev-bind", str(node), str(node))]


def _outermost(paths: list[Path]) -> list[Path]:
    """`paths` without those inside another one (mounting a folder mounts what it holds)."""
    out: list[Path] = []
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not _under(path, out):
            out.append(path)
    return out


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _pycaches(roots: list[Path]) -> list[Path]:
    """The bytecode caches under the netembench package and a submission's folders: hidden, so the
    worker runs their sources (the installation's own caches are read-only there, and kept)."""
    found = {p for root in roots if root.is_dir() for p in root.rglob("__pycache__") if p.is_dir()}
    return _outermost(sorted(found))

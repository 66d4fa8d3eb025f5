"""Background processes identified by pid files: spawn, liveness, graceful stop.

Servers are started in their own session so that they outlive the launching process
(a CLI call, a pytest run) and ignore the terminal's Ctrl-C. A pid counts as alive only
if it is not a zombie and, where /proc exists, its command line still carries the
markers given at launch — a stale pid file must never make a foreign process "ours".
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from streams.services.common import wait_until

_children: dict[int, subprocess.Popen] = {}


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> int:
    """Start `argv` detached, stdout and stderr appended to `log`; returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n=== launcher {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc.pid


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(pidfile: Path, pid: int) -> None:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{pid}\n")


def is_alive(pid: int | None, markers: Sequence[str] = ()) -> bool:
    if not pid:
        return False
    child = _children.get(pid)
    if child is not None:
        # Our own child: waitpid is exact, and its pid cannot be reused before we reap it.
        # The command line is no evidence here: right after Popen returns, the kernel may
        # not yet have filled in the new image's argv, and /proc/<pid>/cmdline reads empty.
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True
    try:
        if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return all(marker in cmdline for marker in markers)


def exit_code(pid: int) -> int | None:
    """The exit code of a child this process spawned, once it is known to have exited."""
    child = _children.get(pid)
    return None if child is None or is_alive(pid) else child.returncode


def rss_mib(pid: int | None) -> float | None:
    """Resident set size from /proc, or None where unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def terminate(pid: int, markers: Sequence[str] = (), grace_s: float = 30.0) -> bool:
    """SIGTERM, wait up to `grace_s`, then SIGKILL. True if the process had to be killed."""
    if not is_alive(pid, markers):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    if wait_until(lambda: not is_alive(pid), grace_s, interval_s=0.2):
        _reap(pid)
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_until(lambda: not is_alive(pid), 10.0, interval_s=0.2)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        child.poll()

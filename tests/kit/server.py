"""A real ``hbbacktest serve`` in a subprocess, for tests that talk HTTP to a live server.

:func:`live_server` starts the server on 127.0.0.1 and a free port, in its own process group,
with a clean ``HBBACKTEST_*`` environment (offline, the data dir given, optional credentials),
waits until ``GET /health`` answers, and yields a :class:`LiveServer`. On exit it stops the
server as Ctrl+C would (SIGINT to the server process only, so the server itself must stop its
workers), and asserts that it exited cleanly and left no process of its group behind (workers,
fork server, resource tracker). Whatever happens, the group is SIGKILLed at the end.

Example:
    >>> with live_server(tmp_path / "data", credentials=("user", "secret")) as server:
    ...     httpx.get(f"{server.url}/health").json()["status"]
    'ok'
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "LiveServer",
    "free_port",
    "group_members",
    "hbbacktest_env",
    "live_server",
    "serve_command",
]

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
ORPHAN_TIMEOUT_S = 10.0
_PORT_TAKEN = ("address already in use", "errno 98")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the kernel's pick; a race is retried by callers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def hbbacktest_env(
    data_dir: Path,
    *,
    credentials: tuple[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a server: this one without ``HBBACKTEST_*``, offline, plus ``env``.

    Module-scoped fixtures run before the suite's autouse guard sets ``HBBACKTEST_OFFLINE``,
    so the server's offline flag is set here rather than inherited.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HBBACKTEST_")}
    clean["HBBACKTEST_OFFLINE"] = "1"
    clean["HBBACKTEST_DATA_DIR"] = str(data_dir)
    clean["PYTHONUNBUFFERED"] = "1"
    if credentials is not None:
        clean["HBBACKTEST_API_USERNAME"], clean["HBBACKTEST_API_PASSWORD"] = credentials
    clean.update(env or {})
    return clean


def serve_command(
    *, host: str = "127.0.0.1", port: int, workers: int = 1, args: Sequence[str] = ()
) -> list[str]:
    """``hbbacktest serve`` as a command line run with this interpreter."""
    return [
        sys.executable, "-m", "hbbacktest", "serve", "--host", host, "--port", str(port),
        "--workers", str(workers), *args,
    ]  # fmt: skip


@dataclass
class LiveServer:
    """A running server: where it listens, its process (group leader) and its log."""

    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    auth: tuple[str, str] | None

    @property
    def pgid(self) -> int:
        """The server's process group (its pid: it leads a new session)."""
        return self.process.pid

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def members(self) -> list[int]:
        """Live processes of the server's group (server, fork server, workers …)."""
        return group_members(self.pgid)

    def kill(self) -> None:
        """SIGKILL the whole group, as a power cut or the OOM killer would, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)
        _wait_group_gone(self.pgid, ORPHAN_TIMEOUT_S)


def _wait_group_gone(pgid: int, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _wait_healthy(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> str | None:
    """None once ``GET /health`` answers 200; else why not (exited, timed out)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"the server exited with code {process.returncode} while starting"
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health").status_code == 200:
                    return None
            time.sleep(0.1)
    return f"GET /health did not answer 200 within {timeout_s:g} s"


def _stop(server: LiveServer, *, check: bool) -> None:
    """SIGINT the server process, wait, then SIGKILL the group; assert a clean stop if ``check``."""
    process = server.process
    problems = []
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
            if code != 0:
                problems.append(f"the server exited with code {code} on SIGINT")
        except subprocess.TimeoutExpired:
            problems.append(f"the server did not stop within {STOP_TIMEOUT_S:g} s of SIGINT")
    left = _wait_group_gone(server.pgid, ORPHAN_TIMEOUT_S)
    if left:
        problems.append(f"processes left behind in the server's group: {left}")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    if check and problems:
        raise AssertionError("; ".join(problems) + f"\n--- server log ---\n{server.log()}")


@contextlib.contextmanager
def live_server(
    data_dir: Path,
    *,
    credentials: tuple[str, str] | None = None,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    host: str = "127.0.0.1",
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    log_name: str = "server.log",
) -> Iterator[LiveServer]:
    """Run ``hbbacktest serve`` on ``host`` and a free port until the block ends.

    Args:
        data_dir: the server's data dir (``HBBACKTEST_DATA_DIR``; the SQLite database, saved
            configs and candle cache live there); the log is written next to it.
        credentials: (username, password) of HTTP Basic; None: no auth.
        workers: ``--workers``.
        env: extra environment variables (``HBBACKTEST_MAX_QUEUE`` …).
        args: extra command-line arguments.
        host: ``--host``; the server is always reached on 127.0.0.1.
        startup_timeout_s: how long to wait for ``GET /health``.
        log_name: the log file's name, in ``data_dir``'s parent.

    Raises:
        AssertionError: it did not start (its log is in the message), or on exit it did not
            stop cleanly on SIGINT or left processes of its group behind.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / log_name
    full_env = hbbacktest_env(data_dir, credentials=credentials, env=env)
    server: LiveServer | None = None
    for _ in range(3):  # a port taken between free_port() and the bind: try another
        port = free_port()
        with open(log_path, "wb") as output:
            process = subprocess.Popen(
                serve_command(host=host, port=port, workers=workers, args=args),
                env=full_env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        candidate = LiveServer(f"http://127.0.0.1:{port}", process, data_dir, log_path, credentials)
        problem = _wait_healthy(process, candidate.url, startup_timeout_s)
        if problem is None:
            server = candidate
            break
        log = candidate.log()
        _stop(candidate, check=False)
        if not any(marker in log.lower() for marker in _PORT_TAKEN):
            print(log, file=sys.stderr)
            raise AssertionError(f"{problem}\n--- server log ---\n{log}")
    if server is None:
        raise AssertionError(f"no free port found for the server\n{log_path.read_text()}")
    ok = False
    try:
        yield server
        ok = True
    finally:
        _stop(server, check=ok)

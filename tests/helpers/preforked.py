"""The ``aggregator`` command, run by the tests in a process forked from one that has its libraries loaded already.

A new ``aggregator`` process spends a second or more of CPU loading Scrapy, Twisted, SQLAlchemy, Rich, NumPy and the
rest before it reads its arguments (several on a slow machine), and the suite starts hundreds: most of its time went
there. ``python -m tests.helpers.preforked SOCKET`` loads those libraries once (``PRELOAD``: third-party ones only,
none of ours, none that read the environment when loaded), then forks a child for each command a test runs, in
which the command starts as the console script starts it: its own process, with the arguments, environment, working
folder and standard streams the test gave, our modules loaded fresh, ``aggregator.cli.main`` run, the interpreter's
exit (``atexit``, threads joined, streams flushed) giving the status.

``run`` (what ``tests.conftest.run_cli`` uses) sends each command over a Unix socket with its streams' file
descriptors; an intermediate process waits on the command's and sends back its exit status. ``AGGREGATOR_TEST_FORK=0``
runs every command as a plain child process instead (what the tests that check the installed script do anyway).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

PRELOAD = (
    "scrapy.crawler", "scrapy.http", "scrapy.spiders", "scrapy.core.engine", "scrapy.core.scraper",
    "scrapy.core.downloader.handlers.http11", "scrapy.pipelines", "scrapy.extensions.logstats",
    "twisted.internet.asyncioreactor", "twisted.web.client",
    "sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql", "psycopg",
    "alembic.command", "alembic.runtime.migration", "alembic.script",
    "typer", "typer.main", "rich.console", "rich.table", "rich.live", "rich.progress",
    "selectolax.lexbor", "lxml.html", "w3lib.url", "itemadapter", "nh3", "dateparser", "numpy",
    "spidermon", "spidermon.contrib.scrapy.extensions", "feedparser", "jsonschema",
)  # fmt: skip
"""Loaded before any fork. Not Twisted's reactor (a crawl installs its own), nothing of aggregator's (its settings
module reads the environment, which is each command's own)."""

_HEADER = struct.Struct("!I")


# -- the server: `python -m tests.helpers.preforked SOCKET` -----------------------------------------------------


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional extra not installed: the command loads what it needs itself
            continue


def _serve(path: str) -> dict[str, Any]:
    """Accept commands until the test process is gone; in each command's process, return its request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    print("ready", flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the waiters are reaped by the kernel: nobody waits on them
    parent = os.getppid()
    listener.settimeout(1.0)
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test process is gone (killed): so is the reason to be
                os._exit(0)
            continue
        connection.settimeout(30)  # a client sends its command as soon as it connects
        try:
            request, fds = _receive(connection)
        except (OSError, ValueError):
            request, fds = None, []
        if request is None:  # a client gone before it said what to run
            connection.close()
            for fd in fds:
                os.close(fd)
            continue
        connection.settimeout(None)
        if os.fork() == 0:  # the waiter: starts the command, sends its pid, then its status
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            listener.close()
            pid = os.fork()
            if pid == 0:
                connection.close()
                _become(request, fds)
                return request
            for fd in fds:
                os.close(fd)
            try:
                _send(connection, {"pid": pid})
                _, status = os.waitpid(pid, 0)
                _send(connection, {"status": os.waitstatus_to_exitcode(status)})
            except OSError:  # the test gave up on it (its timeout): it has killed the command, and gone
                pass
            os._exit(0)
        connection.close()
        for fd in fds:
            os.close(fd)


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """This process as the console script would have started: its streams, folder, environment and arguments."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    script = request["script"]
    sys.argv = [script, *request["args"]]
    sys.path[0] = str(Path(script).parent)  # as for the script: its folder, not the checkout the server ran in
    # A script's __main__ is in no package: Click names the program by it ("Try 'aggregator crawl --help'"), and
    # named this server's "python -m tests.helpers.aggregator".
    sys.modules["__main__"].__package__ = None


def _receive(connection: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """A command and its three streams (the descriptors come with the message's length), or None at the end."""
    head, fds, _, _ = socket.recv_fds(connection, _HEADER.size, 3)
    head += _exactly(connection, _HEADER.size - len(head))
    if len(head) < _HEADER.size:
        return None, fds
    body = _exactly(connection, _HEADER.unpack(head)[0])
    return json.loads(body), fds


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    connection.sendall(_HEADER.pack(len(body)) + body)


def _read_message(connection: socket.socket) -> dict[str, Any] | None:
    head = _exactly(connection, _HEADER.size)
    if len(head) < _HEADER.size:
        return None
    return json.loads(_exactly(connection, _HEADER.unpack(head)[0]))


def _exactly(connection: socket.socket, size: int) -> bytes:
    """``size`` bytes, or fewer when the other end closed first."""
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


# -- the client: one server per test process ---------------------------------------------------------------------


class Server:
    """The forking server of this test process, started on first use and stopped when the process exits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.path = ""

    def _start(self) -> None:
        import atexit
        import tempfile

        folder = tempfile.mkdtemp(prefix="aggregator-preforked-")
        self.path = os.path.join(folder, "socket")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
        env["OPENBLAS_NUM_THREADS"] = "1"  # NumPy's thread pool would be the only other thread of the forking one
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.preforked", self.path],
            cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the preforking server of the tests did not start")
        atexit.unregister(self.stop)  # once, whichever server is the current one
        atexit.register(self.stop)

    def stop(self) -> None:
        import shutil

        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)

    def run(
        self, script: str, args: list[str], cwd: Path, env: dict[str, str], stdout: Any, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        import tempfile

        with self.lock:
            if self.process is None or self.process.poll() is not None:
                if self.process is not None:
                    self.stop()  # a server that died: its socket's folder goes with it
                self._start()
        with (
            open(os.devnull, "rb") as stdin,
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection,
        ):
            connection.connect(self.path)
            body = json.dumps({"script": script, "args": args, "cwd": str(cwd), "env": env}).encode()
            target = out if stdout is subprocess.PIPE else stdout
            socket.send_fds(connection, [_HEADER.pack(len(body))], [stdin.fileno(), target.fileno(), err.fileno()])
            connection.sendall(body)
            started = _read_message(connection)
            assert started is not None, "the preforking server of the tests is gone"
            connection.settimeout(timeout)
            try:
                ended = _read_message(connection)
            except TimeoutError:
                os.kill(started["pid"], signal.SIGKILL)
                raise subprocess.TimeoutExpired([script, *args], timeout) from None
            assert ended is not None, "the preforking server of the tests is gone"
            err.seek(0)
            captured = None
            if stdout is subprocess.PIPE:
                out.seek(0)
                captured = out.read().decode()
            return subprocess.CompletedProcess(
                [script, *args], ended["status"], captured, err.read().decode(errors="replace")
            )


def main(path: str) -> None:
    _preload()
    _serve(path)
    # Here only in a command's process: the console script's own entry point, then the interpreter's usual exit.
    from aggregator.cli import main as aggregator

    aggregator()


if __name__ == "__main__":
    main(sys.argv[1])

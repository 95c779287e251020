"""A TCP proxy in front of Redis on 127.0.0.1 that a test takes down and brings back: a Redis outage as a scale-out
worker meets it (its connections cut, new ones refused), without touching the Redis server other tests share.

It can also go down by itself just before it would forward the n-th command of a kind (``down_at(b"ZADD", 12)``: the
frontier lost while a listing's links are being queued, between a link's SADD to the duplicate filter and its ZADD
to the queue), which a test could not time from outside the worker; or just after (``forward=True``), Redis carrying
the command out and its answer lost on the way back.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Self


class RedisProxy:
    def __init__(self, target_port: int = 6379, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.went_down = threading.Event()
        """Set when the proxy went down (by ``down`` or by its trigger)."""
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._trigger: tuple[bytes, int, float | None, bool] | None = None
        self._seen = 0
        self._mute = False
        self._timer: threading.Timer | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    # -- up and down ----------------------------------------------------------------------------------------

    def up(self) -> None:
        """Listen (on the same port as before, once it has one) and forward."""
        self._mute = False
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Stop listening (a new connection is refused) and cut every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            cut, self._open = self._open, set()
        for sock in ([listener] if listener else []) + list(cut):
            _close(sock)
        self.went_down.set()

    def down_at(self, command: bytes, nth: int, for_seconds: float | None = None, *, forward: bool = False) -> None:
        """Go down instead of forwarding the ``nth`` ``command`` (Redis never sees it), or, ``forward``, once Redis
        has had it (its answer never comes back); up again ``for_seconds`` later, or not at all (None)."""
        with self._lock:
            self._trigger = (b"$%d\r\n%s\r\n" % (len(command), command.upper()), nth, for_seconds, forward)
            self._seen = 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.down()

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- forwarding -----------------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by down()
                return
            try:
                server = socket.create_connection(self.target, timeout=3)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(client)
                    _close(server)
                    return
                self._open |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, to_redis: bool) -> None:
        try:
            while data := source.recv(65536):
                if not to_redis:
                    if not self._mute:
                        sink.sendall(data)
                    continue
                trigger = self._triggered(data)
                if trigger is not None and not trigger[1]:
                    self._go_down(trigger[0])
                    return
                sink.sendall(data)
                if trigger is not None:  # forwarded: Redis carries it out, its answer is held back
                    time.sleep(0.3)
                    self._go_down(trigger[0])
                    return
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)

    def _triggered(self, data: bytes) -> tuple[float | None, bool] | None:
        """(for_seconds, forward) when ``data`` holds the command the proxy goes down at; None when not."""
        with self._lock:
            if self._trigger is None:
                return None
            pattern, nth, for_seconds, forward = self._trigger
            self._seen += data.count(pattern)
            if self._seen < nth:
                return None
            self._trigger = None
            self._mute = forward
        return for_seconds, forward

    def _go_down(self, for_seconds: float | None) -> None:
        self.down()
        if for_seconds is not None:
            self._timer = threading.Timer(for_seconds, self.up)
            self._timer.daemon = True
            self._timer.start()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected, or cut already
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()

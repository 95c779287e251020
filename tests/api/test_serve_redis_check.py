"""`aggregator serve` with AGGREGATOR_REDIS_URL tries that Redis before it serves: one that cannot be used is one line
naming the address (its password starred out) and exit status 2, as for a port it cannot listen on. It used to start,
and the first view found Redis missing (a warning in the log; every process counting its readers alone for good)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from aggregator.api.view_record import SharedViewRecord
from tests.conftest import REDIS_NAMESPACE, emptied_redis, free_port, run_cli


def test_serve_refuses_a_redis_where_nothing_answers(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    assert run_cli("--db", db, "db", "upgrade").returncode == 0
    port = free_port()  # nothing listens there
    done = run_cli(
        "--db", db, "serve", "--port", "0", env={"AGGREGATOR_REDIS_URL": f"redis://:secret@127.0.0.1:{port}/0"}
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(
        "aggregator: error: the views' shared record of readers cannot be used: nothing answers at "
        f"AGGREGATOR_REDIS_URL=redis://:***@127.0.0.1:{port}/0: "
    ), lines[0]
    assert "Connection refused" in lines[0] and lines[0].endswith("; the server does not start"), lines[0]
    assert "secret" not in done.stderr + done.stdout
    assert "Serving the archive" not in done.stdout  # refused before it listens


@contextmanager
def read_only_replica() -> Iterator[str]:
    """A Redis that answers as a fail-over's old primary does: reads (a script's included, and a PING) are answered,
    every write refused with Redis's own READONLY error. Speaks just enough RESP for the check."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer(connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            while header := reader.readline():
                words = []
                for _ in range(int(header[1:])):
                    size = int(reader.readline()[1:])
                    words.append(reader.read(size + 2)[:-2].upper())
                if words[0] == b"HELLO":  # redis-py asks for RESP3: a map naming the protocol
                    connection.sendall(b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n")
                elif words[0] == b"DEL":
                    connection.sendall(b"-READONLY You can't write against a read only replica.\r\n")
                elif words[0] in (b"EVALSHA", b"EVAL"):
                    connection.sendall(b":0\r\n")  # the release script's answer, having found nothing
                else:
                    connection.sendall(b"+OK\r\n")

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        listener.close()


def test_a_read_only_redis_cannot_remember_views() -> None:
    """A read-only replica answers a PING: only a write tells it cannot keep the readers, so the check writes."""
    with read_only_replica() as url:
        record = SharedViewRecord(url)
        try:
            assert record.unusable() == (
                f"Redis at AGGREGATOR_REDIS_URL={url} refuses: You can't write against a read only replica"
            )
        finally:
            record.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    yield from emptied_redis("redis://127.0.0.1:6379/14")


def test_a_redis_that_takes_views_passes_and_is_left_as_it_was(redis_url: str) -> None:
    url = redis_url
    record = SharedViewRecord(url, namespace=REDIS_NAMESPACE)
    try:
        assert record.unusable() is None
    finally:
        record.close()
    client = redis.Redis.from_url(url)
    try:
        assert list(client.scan_iter(match=f"{REDIS_NAMESPACE}:*")) == []
    finally:
        client.close()


@pytest.mark.parametrize("password", ["", ":secret@"])
def test_nothing_answering_is_said_with_the_address(password: str) -> None:
    port = free_port()
    record = SharedViewRecord(f"redis://{password}127.0.0.1:{port}/0", timeout=1.0)
    try:
        said = record.unusable()
    finally:
        record.close()
    shown = ":***@" if password else ""
    assert said is not None and said.startswith(
        f"nothing answers at AGGREGATOR_REDIS_URL=redis://{shown}127.0.0.1:{port}/0: "
    )
    assert "secret" not in said

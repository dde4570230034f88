"""A Redis connection for one job only: send a chunk of commands, already encoded, as one
MULTI/EXEC transaction, and check every reply.

redis-py builds and parses each command in Python (about 30 µs per 49-field HSET here); a bulk
load builds the whole chunk's protocol bytes with Arrow kernels instead and only needs to know
that every command was queued and executed. Replies to HSET, MULTI and EXEC are one line each,
so checking them is counting lines and looking for errors.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from crm_core.errors import CrmError


class RedisBulkError(CrmError, RuntimeError):
    """Redis refused a command or the transaction."""


def encode_command(*parts: bytes) -> bytes:
    """One command in the Redis protocol (RESP2)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class RedisBulkConnection:
    def __init__(self, host: str, port: int, db: int = 0, password: str | None = None, timeout: float = 120) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""
        setup = ([encode_command(b"AUTH", password.encode())] if password else []) + [
            encode_command(b"SELECT", str(db).encode())
        ]
        self.sock.sendall(b"".join(setup))
        self._expect_lines(len(setup), allowed=(b"+",))

    def transaction(self, encoded: memoryview | bytes, commands: int, tail: Sequence[bytes] = ()) -> None:
        """Run `commands` encoded commands, then each of `tail`, atomically (MULTI ... EXEC)."""
        total = commands + len(tail)
        self.sock.sendall(encode_command(b"MULTI"))
        self.sock.sendall(encoded)
        self.sock.sendall(b"".join(tail) + encode_command(b"EXEC"))
        # +OK for MULTI, +QUEUED per command, then EXEC's array header and one reply per command
        self._expect_lines(1 + total, allowed=(b"+",))
        header = self._expect_lines(1, allowed=(b"*",))[0]
        if int(header[1:]) != total:
            raise RedisBulkError(f"EXEC answered {header!r} for {total} commands")
        self._expect_lines(total, allowed=(b":", b"+"))

    def _expect_lines(self, count: int, allowed: tuple[bytes, ...]) -> list[bytes]:
        buffer = self.pending
        while buffer.count(b"\r\n") < count:
            received = self.sock.recv(1 << 20)
            if not received:
                raise RedisBulkError("Redis closed the connection")
            buffer += received
        lines = buffer.split(b"\r\n", count)
        self.pending = lines.pop()
        for line in lines:
            if not line.startswith(allowed):
                raise RedisBulkError(f"Redis answered {line[:200]!r}")
        return lines

    def close(self) -> None:
        self.sock.close()

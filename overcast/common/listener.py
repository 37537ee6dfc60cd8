"""Listening TCP sockets for the servers Overcast runs on sockets it binds itself.

The socket is made with its protocol named (IPPROTO_TCP): asyncio turns Nagle's algorithm off
on accepted connections only when the socket says it is TCP, and a plain
`socket.socket(AF_INET, SOCK_STREAM)` says protocol 0. With Nagle on, a response written in
two pieces (headers, then body) waits for the client's delayed ACK: 40 ms on every call of
a kept-alive connection.
"""

from __future__ import annotations

import socket


def tcp_listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A socket bound to `host`:`port` (0 for any free port) and listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


SERVER_KEEP_ALIVE = 65
"""Seconds Overcast's HTTP servers keep an idle kept-alive connection open."""

CLIENT_KEEP_ALIVE = 20.0
"""Seconds Overcast's own HTTP clients keep an idle connection, well under the servers' figure:
with the same figure on both sides (uvicorn's and httpx's defaults are both 5 s) a request
sent on a connection just as the server closes it fails with a read error."""

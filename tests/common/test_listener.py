"""Connections accepted on Overcast's own listening sockets send without Nagle's delay."""

from __future__ import annotations

import asyncio
import http.client
import socket
import time

import pytest

from overcast.common.listener import CLIENT_KEEP_ALIVE, SERVER_KEEP_ALIVE, tcp_listener
from tests.helpers.server import Server


def test_accepted_connections_have_nodelay() -> None:
    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listener = tcp_listener("127.0.0.1", 0)
        server = await asyncio.start_server(handler, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) == 1


def test_a_port_in_use_is_refused_and_the_socket_closed() -> None:
    first = tcp_listener("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(OSError):
            tcp_listener("127.0.0.1", port)
    finally:
        first.close()


def test_the_server_keeps_an_idle_connection_longer_than_its_own_clients_do(server: Server) -> None:
    """A client that keeps connections as long as httpx's default (5 s, uvicorn's default too)
    must not meet a server closing them under its next request."""
    assert CLIENT_KEEP_ALIVE < SERVER_KEEP_ALIVE
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/v3")
        assert conn.getresponse().read()
        time.sleep(6)
        conn.request("GET", "/v3")  # the same connection, idle past 5 s
        assert conn.getresponse().status == 200
    finally:
        conn.close()

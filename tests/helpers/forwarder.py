"""A byte forwarder the tests start and stop, so a process's database or bus can go away and
come back without touching the real server, and processes in a network namespace can reach
servers on the host's loopback without any change to the host's network.

`Forwarder(listen, target)` forwards from `listen` to `target`, each "tcp:HOST:PORT" or
"unix:PATH", in a thread of its own; `stop()` also cuts the connections it carries.
`python -m tests.helpers.forwarder LISTEN TARGET` runs one in the foreground (inside a
namespace, with `ip netns exec`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading


async def _open(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, rest = address.partition(":")
    if kind == "unix":
        return await asyncio.open_unix_connection(rest)
    host, _, port = rest.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def _serve(address: str, handle: object) -> asyncio.AbstractServer:
    kind, _, rest = address.partition(":")
    if kind == "unix":
        return await asyncio.start_unix_server(handle, rest)  # type: ignore[arg-type]
    host, _, port = rest.rpartition(":")
    return await asyncio.start_server(handle, host, int(port), reuse_address=True)  # type: ignore[arg-type]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()


class Forwarder:
    def __init__(self, listen: str, target: str) -> None:
        self.listen, self.target = listen, target
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await _open(self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def start(self) -> Forwarder:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(_serve(self.listen, self._handle))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop listening and cut every connection (the server "goes away")."""
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        loop.close()
        self._loop = None


def main(listen: str, target: str) -> None:
    async def run() -> None:
        forwarder = Forwarder(listen, target)
        server = await _serve(listen, forwarder._handle)
        print("forwarding", listen, "to", target, flush=True)
        await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

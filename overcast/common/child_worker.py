"""The child side of `workers.Processes`: run the calls its parent sends, one at a time.

    python -m overcast.common.child_worker FD

FD is this end of a socket pair. Each frame is a four-byte big-endian length and a pickle:
from the parent `(function, args)` (the function pickled by reference, so it must be a
module-level function), back `(True, result)` or `(False, exception)`. The child ends when its
parent's end closes (the parent stopped or died); Ctrl-C in the parent's terminal is the
parent's to handle.
"""

from __future__ import annotations

import pickle
import signal
import socket
import struct
import sys

FRAME = struct.Struct(">I")


def _receive(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def serve(sock: socket.socket) -> None:
    while True:
        head = _receive(sock, FRAME.size)
        if head is None:
            return
        body = _receive(sock, FRAME.unpack(head)[0])
        if body is None:
            return
        try:
            fn, args = pickle.loads(body)
            answer = pickle.dumps((True, fn(*args)), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - handed to the caller in the parent
            try:
                answer = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - an exception that does not pickle
                answer = pickle.dumps((False, RuntimeError(repr(exc))), pickle.HIGHEST_PROTOCOL)
        sock.sendall(FRAME.pack(len(answer)) + answer)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()

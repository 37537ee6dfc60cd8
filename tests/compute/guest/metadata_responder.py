"""One HTTP exchange on stdin/stdout, as QEMU's `guestfwd=...-cmd:` runs it for each connection
the guest opens to 169.254.169.254:80: answers from the JSON file named on the command line
({path: body}) and appends each request line to a log beside it. Run by test_metadata_service.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

answers_file = Path(sys.argv[1])
request = sys.stdin.buffer.readline().decode(errors="replace").strip()
while sys.stdin.buffer.readline().strip():
    pass
with answers_file.with_suffix(".log").open("a") as log:
    log.write(request + "\n")
path = request.split(" ")[1] if request.count(" ") >= 2 else ""
answers = json.loads(answers_file.read_text())
body = answers.get(path)
status = "200 OK" if body is not None else "404 Not Found"
data = (body if body is not None else "not found").encode()
sys.stdout.buffer.write(
    f"HTTP/1.0 {status}\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
)
sys.stdout.buffer.flush()

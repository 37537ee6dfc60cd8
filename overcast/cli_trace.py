"""`overcast trace SERVER`: a server's workflow trace drawn as bars in the terminal, read through
the compute API (`GET /servers/{id}/trace`) with clouds.yaml credentials (openstacksdk:
`--os-cloud`, `OS_CLOUD`, `OS_CLIENT_CONFIG_FILE`). `--follow` prints each step as it ends,
from the stream, then the timeline. Registered by `overcast.cli`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Any

HIDDEN_BY_DEFAULT = ("db",)


def add_parser(sub: Any) -> None:
    cmd = sub.add_parser("trace", help="draw a server's workflow trace (its newest action's)")
    cmd.add_argument("server", help="server name or id")
    cmd.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD"), help="cloud in clouds.yaml")
    cmd.add_argument("--request-id", help="the trace of this request (os-instance-actions)")
    cmd.add_argument("--all", action="store_true", help="show database transactions too")
    cmd.add_argument("--follow", action="store_true", help="print steps as they happen")
    cmd.add_argument("--json", action="store_true", help="print the trace document")
    cmd.add_argument("--width", type=int, default=0, help="columns (default: the terminal's)")
    cmd.set_defaults(func=run)


def _connect(cloud: str | None) -> Any:
    import openstack

    return openstack.connect(cloud=cloud) if cloud else openstack.connect()


def _path(server_id: str, request_id: str | None) -> str:
    if request_id:
        return f"/servers/{server_id}/os-instance-actions/{request_id}/trace"
    return f"/servers/{server_id}/trace"


def run(args: argparse.Namespace) -> int:
    from openstack import exceptions

    try:
        conn = _connect(args.os_cloud)
        server = conn.compute.find_server(args.server, ignore_missing=False)
        path = _path(server.id, args.request_id)
        if args.follow:
            _follow(conn, path)
        response = conn.compute.get(path)
    except exceptions.SDKException as exc:
        print(f"overcast trace: {exc}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"overcast trace: {_message(response)}", file=sys.stderr)
        return 1
    document = response.json()["trace"]
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    width = args.width or shutil.get_terminal_size((100, 20)).columns
    print(render(document, server.name, width, args.all))
    return 0


def _message(response: Any) -> str:
    try:
        body = response.json()
        return str(next(iter(body.values()))["message"])
    except (ValueError, StopIteration, KeyError, TypeError, AttributeError):
        return f"HTTP {response.status_code}"


def _follow(conn: Any, path: str) -> None:
    response = conn.compute.get(path, headers={"Accept": "text/event-stream"}, stream=True)
    event = ""
    for line in response.iter_lines(chunk_size=None, decode_unicode=True):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "span":
            span = json.loads(line[6:])
            if span["phase"] == "end" and span["kind"] not in HIDDEN_BY_DEFAULT:
                mark = "✗" if span["status"] == "error" else "✓"
                print(f"{mark} {span['offset_ms']:9.1f} ms  {span['name']}", flush=True)
        elif event == "end":
            break


def _ordered(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Depth-first, children by start; spans whose parent is elsewhere are roots."""
    ids = {s["id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span["parent"] if span["parent"] in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s["offset_ms"]):
            out.append((depth, span))
            walk(span["id"], depth + 1)

    walk(None, 0)
    return out


def _visible(spans: list[dict[str, Any]], everything: bool) -> list[dict[str, Any]]:
    """The spans shown, each hidden span's children hung on its nearest shown ancestor."""
    if everything:
        return spans
    by_id = {s["id"]: s for s in spans}
    out = []
    for span in spans:
        if span["kind"] in HIDDEN_BY_DEFAULT:
            continue
        parent = span["parent"]
        while parent in by_id and by_id[parent]["kind"] in HIDDEN_BY_DEFAULT:
            parent = by_id[parent]["parent"]
        out.append({**span, "parent": parent})
    return out


def render(document: dict[str, Any], server: str, width: int, everything: bool) -> str:
    """The timeline: one line per span, a label indented by depth, a bar on a shared scale,
    the duration; failed spans marked ✗ with their reason below."""
    spans = _visible(document["spans"], everything)
    total = max((s["offset_ms"] + (s["duration_ms"] or 0) for s in spans), default=0.0) or 1.0
    label_w = min(44, max(24, width // 3))
    bar_w = max(10, width - label_w - 20)
    lines = [
        f"{document['action']} of {server}  request {document['request_id']}  "
        f"trace {document['id']}  {total:.1f} ms",
        f"{'':{label_w}} {'0 ms':<{bar_w // 2}}{f'{total:.0f} ms':>{bar_w - bar_w // 2}}",
    ]
    for depth, span in _ordered(spans):
        label = ("  " * depth + span["name"])[: label_w - 7]
        start = int(span["offset_ms"] / total * bar_w)
        length = max(1, round((span["duration_ms"] or 0) / total * bar_w))
        fill = "▒" if span["status"] == "running" else "█"
        bar = (" " * start + fill * length)[:bar_w].ljust(bar_w)
        mark = "✗" if span["status"] == "error" else " "
        took = "running" if span["duration_ms"] is None else f"{span['duration_ms']:.1f} ms"
        lines.append(f"{label:<{label_w - 7}} {span['kind']:<6}{mark}|{bar}| {took:>10}")
        if span["error"]:
            lines.append(f"{'':<{label_w}}  ✗ {span['error']}")
    return "\n".join(lines)

"""nftables as the real program: a table of Overcast's replaced whole in one `nft -f`
transaction inside a namespace (never rule by rule), and removed. `nsenter --net` runs `nft`
in the namespace, so no table of the host's is ever read or written. Used by `nat` (a
router's `ip overcast-nat`) and available to the other parts of the driver."""

from __future__ import annotations

import json

from overcast.network.drivers.linuxbridge import nsexec


async def _nft(namespace: str, *args: str, stdin: str | None = None) -> str:
    return await nsexec.run(namespace, ["nft", *args], stdin=stdin or "")


def replacing(family: str, table: str, body: str) -> str:
    """The script that swaps `family table` for one made of `body` (its chains and sets) in
    one transaction: declaring the table first makes the delete valid when it is new."""
    return (
        f"table {family} {table}\n"
        f"delete table {family} {table}\n"
        f"table {family} {table} {{\n{body}}}\n"
    )


async def replace(namespace: str, family: str, table: str, body: str) -> None:
    """Make `family table` in `namespace` exactly `body`, atomically."""
    await _nft(namespace, "-f", "-", stdin=replacing(family, table, body))


async def tables(namespace: str) -> list[tuple[str, str]]:
    """The (family, name) of every table in `namespace`."""
    found = json.loads(await _nft(namespace, "-j", "list", "tables"))
    return [
        (item["table"]["family"], item["table"]["name"])
        for item in found.get("nftables", [])
        if "table" in item
    ]


async def ruleset(namespace: str, family: str, table: str) -> str:
    """The table as `nft list` prints it (tests and diagnostics)."""
    return await _nft(namespace, "list", "table", family, table)


async def delete(namespace: str, family: str, table: str) -> None:
    """Remove the table if it exists."""
    if (family, table) in await tables(namespace):
        await _nft(namespace, "delete", "table", family, table)

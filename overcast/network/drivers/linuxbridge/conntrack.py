"""The conntrack entries of the dataplane namespace, read and deleted with the `conntrack`
program: when a port's policy narrows, `Firewall` deletes the flows it no longer allows (the
flows it still allows are left alone), as Neutron's agents do."""

from __future__ import annotations

import asyncio
import re

from overcast.network.drivers.linuxbridge import nsexec
from overcast.network.drivers.linuxbridge.sgrules import ICMP4, ICMP6, PORTED, Flow

_FIELD = re.compile(r"(\w+)=(\S+)")


def parse(line: str) -> tuple[Flow, int] | None:
    """A listed entry's original direction and zone (lines as `conntrack -L -o extended`
    prints them); None for what is not a flow line."""
    words = line.split()
    if len(words) < 5 or words[0] not in ("ipv4", "ipv6"):
        return None
    version = 4 if words[0] == "ipv4" else 6
    proto = int(words[3])
    first: dict[str, str] = {}
    zone = 0
    for key, value in _FIELD.findall(line):
        if key == "zone":
            zone = int(value)
        elif key not in first:
            first[key] = value
    if "src" not in first or "dst" not in first:
        return None

    def num(key: str) -> int | None:
        return int(first[key]) if key in first else None

    flow = Flow(
        version=version,
        proto=proto,
        src=first["src"],
        dst=first["dst"],
        sport=num("sport"),
        dport=num("dport"),
        icmp_type=num("type"),
        icmp_code=num("code"),
    )
    return flow, zone


async def flows(namespace: str) -> list[tuple[Flow, int]]:
    """Every IPv4 and IPv6 flow of `namespace` with its zone (both families listed at once)."""
    texts = await asyncio.gather(
        *(
            nsexec.run(namespace, ["conntrack", "-L", "-f", family, "-o", "extended"])
            for family in ("ipv4", "ipv6")
        )
    )
    return [found for text in texts for line in text.splitlines() if (found := parse(line))]


def _delete_args(flow: Flow, zone: int) -> tuple[str, ...]:
    """A `conntrack -D` of every flow that a security group judges as it judges `flow`: the
    same zone, addresses, protocol and destination port (or ICMP type and code), any source
    port, so that one call cuts them all."""
    args = ["conntrack", "-D", "-f", f"ipv{flow.version}", "-w", str(zone)]
    args += ["-p", str(flow.proto), "-s", flow.src, "-d", flow.dst]
    if flow.proto in PORTED and flow.dport is not None:
        args += ["--dport", str(flow.dport)]
    elif flow.proto in (ICMP4, ICMP6) and flow.icmp_type is not None:
        args += ["--icmp-type", str(flow.icmp_type), "--icmp-code", str(flow.icmp_code or 0)]
    return tuple(args)


async def delete(namespace: str, doomed: list[tuple[Flow, int]]) -> None:
    """Delete these flows (and their kin, see `_delete_args`); one already gone is no error."""
    for args in sorted({_delete_args(flow, zone) for flow, zone in doomed}):
        await nsexec.run(namespace, list(args), check=False)

"""The NAT of one router, as the `ip overcast-nat` table of its namespace, rendered whole from
the router's desired state and swapped in one transaction (`nft.replace`): SNAT of the
internal subnets to the gateway address (when `enable_snat`), DNAT and SNAT of each floating
IP, the port forwardings, hairpin for guests reaching a floating IP of their own router, and
the metadata redirect to the proxy listening in the namespace. Called by `routers`."""

from __future__ import annotations

import ipaddress

from overcast.network.drivers import Router
from overcast.network.drivers.linuxbridge import names, nft

FAMILY = "ip"
TABLE = "overcast-nat"
METADATA_ADDRESS = "169.254.169.254"
INTERNAL = f'"{names.ROUTER_IF}*"'  # the router's subnet-side interfaces


def _v4(address: str) -> bool:
    return ipaddress.ip_interface(address).version == 4


def render(router: Router, gateway_if: str | None, metadata_port: int | None) -> str:
    """The body of the table (chains and rules) for `router` whose gateway interface is
    `gateway_if` (None: no gateway, so neither SNAT nor floating IPs)."""
    internal = sorted(
        {str(ipaddress.ip_interface(a).network) for _, _, a, _ in router.interfaces if _v4(a)}
    )
    pre, post = [], []
    if metadata_port is not None:
        pre.append(
            f"iifname {INTERNAL} ip daddr {METADATA_ADDRESS} tcp dport 80 "
            f"redirect to :{metadata_port}"
        )
    if gateway_if is not None and router.gateway is not None:
        out = f'oifname "{gateway_if}"'
        for pf in sorted(router.forwards, key=lambda f: (f.floating_ip_address, f.external_port)):
            pre.append(
                f"ip daddr {pf.floating_ip_address} {pf.protocol} dport {pf.external_port} "
                f"dnat to {pf.internal_ip_address}:{pf.internal_port}"
            )
        for fip in sorted(router.floating_ips, key=lambda f: f.floating_ip_address):
            if not fip.fixed_ip_address:
                continue
            pre.append(f"ip daddr {fip.floating_ip_address} dnat to {fip.fixed_ip_address}")
            post.append(f"{out} ip saddr {fip.fixed_ip_address} snat to {fip.floating_ip_address}")
        if router.enable_snat and internal:
            address = router.gateway[1].split("/")[0]
            post.append(f"{out} ip saddr {{ {', '.join(internal)} }} snat to {address}")
    # A guest reaching a floating IP behind the same router: without a source rewrite the
    # answer would go straight back, un-NATed.
    post.append(f"iifname {INTERNAL} oifname {INTERNAL} ct status dnat masquerade")
    body = _chain("prerouting", "type nat hook prerouting priority dstnat", pre)
    body += _chain("postrouting", "type nat hook postrouting priority srcnat", post)
    if metadata_port is not None:
        # The proxy answers only what the redirect brought, not a direct connection.
        body += _chain(
            "input",
            "type filter hook input priority filter",
            [f"tcp dport {metadata_port} ct status dnat accept", f"tcp dport {metadata_port} drop"],
        )
    return body


def _chain(name: str, hook: str, rules: list[str]) -> str:
    lines = "".join(f"    {rule}\n" for rule in rules)
    return f"  chain {name} {{\n    {hook}; policy accept;\n{lines}  }}\n"


async def apply(
    namespace: str, router: Router, gateway_if: str | None, metadata_port: int | None
) -> None:
    """Make the router's NAT table exactly what `render` says, in one transaction."""
    await nft.replace(namespace, FAMILY, TABLE, render(router, gateway_if, metadata_port))

"""dnsmasq's files and command line for one network, as Neutron's DHCP agent writes them:
a static host entry per port (MAC -> address and hostname, tagged with the port and subnet),
per-subnet options (router, DNS servers, classless static routes (121)), per-port extra DHCP
options, and router advertisements for SLAAC subnets. The network's MTU (26) is forced on the
command line: dnsmasq sends other options only when asked, and clients that never ask (busybox's
udhcpc) would keep 1500 on a VXLAN network's 1450, whose bridge drops their full-sized frames. Pure: no process is touched
here (`dhcp` runs it). Called by `dhcp`."""

from __future__ import annotations

import ipaddress

from overcast.network import drivers

DOMAIN = "openstacklocal"
LEASE_SECONDS = 86400


def hostname(port: drivers.Port, address: str) -> str:
    return port.dns_name or "host-" + address.replace(".", "-").replace(":", "-")


def _dhcp_subnets(network: drivers.Network) -> list[drivers.Subnet]:
    return [s for s in network.subnets if s.enable_dhcp]


def argv(network: drivers.Network, interface: str, files: dict[str, str]) -> list[str]:
    """dnsmasq's command line (it daemonizes and writes its pid file). DNS is off (--port=0):
    it serves DHCP and router advertisements only. A changed MTU changes it (a restart)."""
    args = [
        "dnsmasq", "--no-hosts", "--no-resolv", "--port=0", "--conf-file=/dev/null",
        f"--pid-file={files['pid']}", f"--dhcp-hostsfile={files['hosts']}",
        f"--dhcp-optsfile={files['opts']}", f"--dhcp-leasefile={files['leases']}",
        f"--interface={interface}", "--bind-interfaces", "--except-interface=lo",
        f"--domain={DOMAIN}", "--dhcp-authoritative", "--dhcp-lease-max=16777216",
        f"--log-facility={files['log']}",
    ]  # fmt: skip
    ra = False
    for subnet in _dhcp_subnets(network):
        net = ipaddress.ip_network(subnet.cidr)
        tag = f"set:subnet-{subnet.id}"
        if net.version == 4:
            args.append(
                f"--dhcp-range={tag},{net.network_address},static,{net.netmask},{LEASE_SECONDS}s"
            )
            args.append(f"--dhcp-option-force=tag:subnet-{subnet.id},option:mtu,{network.mtu}")
        elif subnet.ipv6_address_mode in ("slaac", "dhcpv6-stateless"):
            mode = "slaac" if subnet.ipv6_address_mode == "slaac" else "ra-stateless"
            args.append(f"--dhcp-range={tag},{net.network_address},{mode},{net.prefixlen}")
            ra = ra or subnet.ipv6_ra_mode is not None or subnet.ipv6_address_mode == "slaac"
        else:
            args.append(
                f"--dhcp-range={tag},{net.network_address},static,{net.prefixlen},{LEASE_SECONDS}s"
            )
    if ra:
        args.append("--enable-ra")
    return args


def reloadable(hosts_text: str) -> bool:
    """SIGHUP can reload these host entries. dnsmasq 2.90 (Debian 12's) dies on SIGHUP once a
    lease exists if a host entry sets a tag, so with tags (ports with extra DHCP options)
    changes restart it instead (the lease file keeps the leases)."""
    return ",set:" not in hosts_text


def hosts(network: drivers.Network, ports: list[drivers.Port]) -> str:
    """dhcp-hostsfile: one line per (port, DHCP-served address); a port with extra DHCP
    options also tags its requests for them."""
    served = {s.id: s for s in _dhcp_subnets(network)}
    lines = []
    for port in sorted(ports, key=lambda p: p.id):
        for subnet_id, address in port.fixed_ips:
            subnet = served.get(subnet_id)
            if subnet is None or (subnet.ip_version == 6 and subnet.ipv6_address_mode == "slaac"):
                continue
            shown = f"[{address}]" if subnet.ip_version == 6 else address
            tag = f",set:port-{port.id}" if port.extra_dhcp_opts else ""
            lines.append(f"{port.mac_address},{hostname(port, address)},{shown}{tag}")
    return "".join(line + "\n" for line in lines)


def _routes(subnet: drivers.Subnet, metadata_via: str | None) -> list[str]:
    """Option 121: the host routes (and the metadata address via the DHCP port on a network
    with no router), and the default route with them (a client that takes 121 ignores option
    3, RFC 3442)."""
    routes = [f"{dest},{hop}" for dest, hop in subnet.host_routes if ":" not in dest]
    if metadata_via:
        routes.append(f"169.254.169.254/32,{metadata_via}")
    if routes and subnet.gateway_ip:
        routes.append(f"0.0.0.0/0,{subnet.gateway_ip}")
    return routes


def opts(
    network: drivers.Network, ports: list[drivers.Port], metadata: dict[str, str] | None = None
) -> str:
    """dhcp-optsfile: per-subnet options, then each port's extra DHCP options. `metadata`:
    subnet id -> the DHCP port's address there, where the DHCP namespace serves metadata."""
    lines = []
    for subnet in _dhcp_subnets(network):
        tag = f"tag:subnet-{subnet.id}"
        if subnet.ip_version == 4:
            lines.append(
                f"{tag},option:router" + (f",{subnet.gateway_ip}" if subnet.gateway_ip else "")
            )
            routes = _routes(subnet, (metadata or {}).get(subnet.id))
            if routes:
                lines.append(f"{tag},option:classless-static-route,{','.join(routes)}")
            if subnet.dns_nameservers:
                lines.append(f"{tag},option:dns-server,{','.join(subnet.dns_nameservers)}")
        elif subnet.dns_nameservers:
            servers = ",".join(f"[{s}]" for s in subnet.dns_nameservers)
            lines.append(f"{tag},option6:dns-server,{servers}")
    for port in sorted(ports, key=lambda p: p.id):
        for name, value in port.extra_dhcp_opts:
            option = name if name.isdigit() else f"option:{name}"
            lines.append(f"tag:port-{port.id},{option}" + (f",{value}" if value else ""))
    return "".join(line + "\n" for line in lines)

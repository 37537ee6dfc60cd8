"""The network service (OpenStack Neutron v2.0): networks, subnets, ports and IPAM, routers,
floating IPs, security groups, RBAC, quotas, agents, and the dataplane drivers behind them."""

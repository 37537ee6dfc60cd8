"""The network service's errors, each with the type Neutron names it by in its error body
(`{"NeutronError": {"type": "NetworkNotFound", ...}}`) and the status Neutron gives."""

from __future__ import annotations

from overcast.common import errors

_NOT_FOUND_KINDS = {
    "network": "NetworkNotFound",
    "subnet": "SubnetNotFound",
    "port": "PortNotFound",
    "router": "RouterNotFound",
    "floatingip": "FloatingIPNotFound",
    "security_group": "SecurityGroupNotFound",
    "security_group_rule": "SecurityGroupRuleNotFound",
    "subnetpool": "SubnetPoolNotFound",
    "address_scope": "AddressScopeNotFound",
    "rbac_policy": "RbacPolicyNotFound",
    "agent": "AgentNotFound",
    "port_forwarding": "PortForwardingNotFound",
    "segment": "SegmentNotFound",
}


def not_found(resource: str, ident: str) -> errors.NotFound:
    words = resource.replace("_", " ")
    if resource == "floatingip":
        words = "Floating IP"
    text = f"{words[0].upper()}{words[1:]} {ident} could not be found."
    return errors.NotFound(text, kind=_NOT_FOUND_KINDS.get(resource, "NotFound"))


def bad(message: str, kind: str = "BadRequest") -> errors.BadRequest:
    return errors.BadRequest(message, kind=kind)


def conflict(message: str, kind: str) -> errors.Conflict:
    return errors.Conflict(message, kind=kind)


def in_use(resource: str, ident: str, detail: str = "") -> errors.Conflict:
    kinds = {"network": "NetworkInUse", "subnet": "SubnetInUse", "router": "RouterInUse"}
    words = {"network": "network", "subnet": "subnet", "router": "router"}.get(resource, resource)
    text = f"Unable to complete operation on {words} {ident}. {detail or 'One or more ports have an IP allocation from this ' + words + '.'}"
    return errors.Conflict(text, kind=kinds.get(resource, "InUse"))


def forbidden(action: str) -> errors.Forbidden:
    return errors.Forbidden(f"({action}) is disallowed by policy", kind="PolicyNotAuthorized")


def over_quota(resource: str) -> errors.Conflict:
    """Neutron answers an exceeded quota with 409 Conflict, type OverQuota."""
    return errors.Conflict(f"Quota exceeded for resources: ['{resource}'].", kind="OverQuota")


def not_found_text(message: str, kind: str) -> errors.NotFound:
    return errors.NotFound(message, kind=kind)


def not_found_interface(router_id: str, port_id: str) -> errors.NotFound:
    return errors.NotFound(
        f"Router {router_id} does not have an interface with id {port_id}",
        kind="RouterInterfaceNotFound",
    )

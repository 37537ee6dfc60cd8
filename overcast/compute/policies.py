"""Compute's default policy rules, with Nova's names and its new (scoped, role-based) defaults.

Servers belong to projects: readers may look, members may act, admins may do anything and see
every project's. Moving servers between hosts, forcing hosts and seeing where servers run is
for admins. The rules of key pairs, groups, quotas, aggregates... are in `policies_resources`.
"""

from __future__ import annotations

import importlib

from overcast.common.http.policy import RuleDefault

ADMIN = "rule:admin_required"
ANY = "@"
READER = "rule:project_reader_or_admin"
MEMBER = "rule:project_member_or_admin"
# Nova's `service_or_admin`: what other services call (the `service` role) and admins may.
SERVICE_OR_ADMIN = "role:service or rule:admin_required"


def _rules(prefix: str, check: str, *actions: str) -> list[RuleDefault]:
    return [
        RuleDefault(f"os_compute_api:{prefix}:{a}" if a else f"os_compute_api:{prefix}", check)
        for a in actions
    ]


RULES: list[RuleDefault] = [
    *_rules("servers", READER, "index", "detail", "show"),
    *_rules(
        "servers",
        MEMBER,
        "create",
        "update",
        "delete",
        "reboot",
        "resize",
        "rebuild",
        "confirm_resize",
        "revert_resize",
        "create_image",
        "start",
        "stop",
        "trigger_crash_dump",
        "create:attach_volume",
        "create:attach_network",
        "create:trusted_certs",
        "show:topology",
    ),
    *_rules(
        "servers",
        ADMIN,
        "index:get_all_tenants",
        "detail:get_all_tenants",
        "allow_all_filters",
        "create:forced_host",
        "create:requested_destination",
        "create:zero_disk_flavor",
        "show:host_status",
        "show:host_status:unknown-only",
        "show:topology:host_info",
        "create_image:allow_volume_backed",
    ),
    *_rules("os-extended-server-attributes", ADMIN, ""),
    *_rules("os-pause-server", MEMBER, "pause", "unpause"),
    *_rules("os-suspend-server", MEMBER, "suspend", "resume"),
    *_rules("os-lock-server", MEMBER, "lock", "unlock"),
    *_rules("os-lock-server", ADMIN, "unlock:unlock_override"),
    *_rules("os-rescue", MEMBER, ""),
    *_rules("os-create-backup", MEMBER, ""),
    *_rules("os-unrescue", MEMBER, ""),
    *_rules("os-shelve", MEMBER, "shelve", "unshelve"),
    *_rules("os-shelve", ADMIN, "shelve_offload", "unshelve_to_host"),
    *_rules("os-migrate-server", ADMIN, "migrate", "migrate_live", "migrate:host"),
    *_rules("os-evacuate", ADMIN, ""),
    *_rules("os-admin-actions", ADMIN, "reset_state", "inject_network_info"),
    *_rules("os-server-external-events", ADMIN, "create"),
    *_rules("os-assisted-volume-snapshots", SERVICE_OR_ADMIN, "create", "delete"),
    *_rules("os-security-groups", MEMBER, "add", "remove", "list"),
    *_rules("os-security-groups", READER, "get", "show"),
    *_rules("os-security-groups", MEMBER, "create", "update", "delete"),
    *_rules("os-security-groups", MEMBER, "rule:create", "rule:delete"),
    *_rules("os-floating-ips", READER, "list", "show"),
    *_rules("os-floating-ips", MEMBER, "create", "delete", "add", "remove"),
    *_rules("os-floating-ip-pools", ANY, "list"),
    *_rules("os-tenant-networks", READER, "list", "show"),
    *_rules("os-networks", READER, "list", "view"),
    *_rules("os-server-password", READER, "show"),
    *_rules("os-server-password", MEMBER, "clear"),
    *_rules("os-volumes", READER, "list", "detail", "show", "snapshots:list", "snapshots:show"),
    *_rules("os-volumes", MEMBER, "create", "delete", "snapshots:create", "snapshots:delete"),
    *_rules("os-attach-interfaces", READER, "list", "show"),
    *_rules("os-attach-interfaces", MEMBER, "create", "delete"),
    *_rules("os-deferred-delete", MEMBER, "restore", "force"),
    *_rules("os-console-output", MEMBER, ""),
    *_rules("os-remote-consoles", MEMBER, ""),
    *_rules("os-console-auth-tokens", ADMIN, ""),
    *_rules("os-server-diagnostics", ADMIN, ""),
    *_rules("os-instance-actions", READER, "list", "show", "events", "events:details"),
    *_rules("os-instance-actions", ADMIN, "events:traceback"),
    # Overcast's workflow traces: the owner reads them, admins see the hosts in them too.
    *_rules("os-instance-actions", READER, "trace"),
    *_rules("os-instance-actions", ADMIN, "trace:hosts"),
    *_rules("server-metadata", READER, "index", "show"),
    *_rules("server-metadata", MEMBER, "create", "update", "update_all", "delete"),
    *_rules("os-server-tags", READER, "index", "show"),
    *_rules("os-server-tags", MEMBER, "update", "update_all", "delete", "delete_all"),
    *_rules("ips", READER, "index", "show"),
    *_rules("os-volumes-attachments", READER, "index", "show"),
    *_rules("os-volumes-attachments", MEMBER, "create", "update", "delete"),
    *_rules("os-volumes-attachments", ADMIN, "swap"),
    *_rules("os-flavor-manage", ADMIN, "create", "update", "delete"),
    *_rules("os-flavor-extra-specs", READER, "index", "show"),
    *_rules("os-flavor-extra-specs", ADMIN, "create", "update", "delete"),
    *_rules("os-flavor-access", ADMIN, "", "add_tenant_access", "remove_tenant_access"),
]


def all_rules() -> list[RuleDefault]:
    """These rules and, when present, those of the resources around servers."""
    try:
        extra = importlib.import_module("overcast.compute.policies_resources")
    except ModuleNotFoundError:
        return list(RULES)
    return [*RULES, *getattr(extra, "RULES", [])]

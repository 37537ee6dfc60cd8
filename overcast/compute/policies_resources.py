"""Default policy rules of the resources around servers, with Nova's names and new defaults.

Key pairs belong to users (`user_id:%(user_id)s`); server groups, quotas and usage to projects;
aggregates, hypervisors and services to admins. Registered with compute's own rules.
"""

from __future__ import annotations

from overcast.common.http.policy import RuleDefault

ADMIN = "rule:admin_required"
ANY = "@"
ADMIN_OR_USER = "rule:admin_required or user_id:%(user_id)s"
READER = "rule:project_reader_or_admin"
MEMBER = "rule:project_member_or_admin"


def _rules(prefix: str, check: str, *actions: str) -> list[RuleDefault]:
    return [RuleDefault(f"os_compute_api:{prefix}:{a}", check) for a in actions]


RULES: list[RuleDefault] = [
    *_rules("os-keypairs", ADMIN_OR_USER, "index", "create", "show", "delete"),
    *_rules("os-server-groups", READER, "index", "show"),
    *_rules("os-server-groups", MEMBER, "create", "delete"),
    *_rules("os-server-groups", ADMIN, "index:all_projects"),
    *_rules("os-aggregates", ADMIN, "index", "create", "show", "update", "delete"),
    *_rules("os-aggregates", ADMIN, "add_host", "remove_host", "set_metadata"),
    *_rules("os-availability-zone", ANY, "list"),
    *_rules("os-availability-zone", ADMIN, "detail"),
    *_rules("os-hypervisors", ADMIN, "list", "list-detail", "show", "statistics", "search"),
    *_rules("os-hypervisors", ADMIN, "servers", "uptime"),
    *_rules("os-services", ADMIN, "list", "update", "delete"),
    RuleDefault("os_compute_api:os-migrations:index", ADMIN),
    *_rules("os-instance-usage-audit-log", ADMIN, "list", "show"),
    *_rules("servers:migrations", ADMIN, "index", "show", "delete", "force_complete"),
    *_rules("os-hosts", ADMIN, "list", "show", "update", "reboot", "shutdown", "start"),
    *_rules("os-quota-sets", READER, "show", "detail"),
    *_rules("os-quota-sets", ANY, "defaults"),
    *_rules("os-quota-sets", ADMIN, "update", "delete"),
    *_rules("os-quota-class-sets", ADMIN, "show", "update"),
    RuleDefault("os_compute_api:limits", ANY),
    *_rules("limits", ADMIN, "other_project"),
    *_rules("os-simple-tenant-usage", READER, "show"),
    *_rules("os-simple-tenant-usage", ADMIN, "list"),
]

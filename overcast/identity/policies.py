"""Identity's default policy rules, as data. Operators override them in policy/identity.yaml."""

from __future__ import annotations

from overcast.common.http.policy import RuleDefault

ADMIN = "rule:admin_required"
ADMIN_OR_SELF = "rule:admin_required or user_id:%(user_id)s"
ADMIN_OR_SYSTEM_READER = "rule:admin_required or (role:reader and system_scope:all)"
ADMIN_OR_TOKEN_OWNER = "rule:admin_required or user_id:%(target.token.user_id)s"

DEFAULTS = [
    RuleDefault("identity:validate_token", ADMIN_OR_TOKEN_OWNER + " or rule:service_role"),
    RuleDefault("identity:check_token", ADMIN_OR_TOKEN_OWNER + " or rule:service_role"),
    RuleDefault("identity:revoke_token", ADMIN_OR_TOKEN_OWNER),
    RuleDefault("service_role", "role:service"),
    # catalog: anyone may read regions; services and endpoints are for admins and system readers
    *(
        RuleDefault(
            f"identity:{verb}", ADMIN_OR_SYSTEM_READER if verb[:3] in ("get", "lis") else ADMIN
        )
        for noun, plural in (
            ("policy", "policies"),
            ("consumer", "consumers"),
            ("endpoint_group", "endpoint_groups"),
        )
        for verb in (
            f"create_{noun}",
            f"get_{noun}",
            f"list_{plural}",
            f"update_{noun}",
            f"delete_{noun}",
        )
    ),
    *(
        RuleDefault(f"identity:{verb}_domain_config", ADMIN)
        for verb in ("create", "get", "update", "delete")
    ),
    RuleDefault("identity:get_domain_config_default", ADMIN_OR_SYSTEM_READER),
    RuleDefault("identity:get_region", ""),
    RuleDefault("identity:list_regions", ""),
    *(RuleDefault(f"identity:{verb}_region", ADMIN) for verb in ("create", "update", "delete")),
    *(
        RuleDefault(f"identity:{name}", ADMIN_OR_SYSTEM_READER)
        for name in ("get_service", "list_services", "get_endpoint", "list_endpoints")
    ),
    *(
        RuleDefault(f"identity:{verb}_{kind}", ADMIN)
        for verb in ("create", "update", "delete")
        for kind in ("service", "endpoint")
    ),
    # application credentials belong to their user; only that user may make them
    RuleDefault("identity:create_application_credential", "user_id:%(user_id)s"),
    *(
        RuleDefault(f"identity:{verb}_application_credential", ADMIN_OR_SELF)
        for verb in ("get", "delete")
    ),
    RuleDefault("identity:list_application_credentials", ADMIN_OR_SELF),
    # credentials (EC2 and others) belong to their user; admins and system readers see all
    RuleDefault("identity:create_credential", ADMIN_OR_SELF),
    RuleDefault("identity:list_credentials", ""),
    RuleDefault(
        "identity:get_credential",
        f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.credential.user_id)s",
    ),
    *(
        RuleDefault(
            f"identity:{verb}_credential",
            "rule:admin_required or user_id:%(target.credential.user_id)s",
        )
        for verb in ("update", "delete")
    ),
    *(
        RuleDefault(f"identity:ec2_{verb}", ADMIN_OR_SELF)
        for verb in ("create_credential", "list_credentials", "get_credential", "delete_credential")
    ),
    # what a token may be scoped to: any authenticated caller, about themselves
    *(
        RuleDefault(f"identity:get_auth_{what}", "")
        for what in ("catalog", "projects", "domains", "system")
    ),
]

# Domains, projects, users, groups, roles and assignments (Keystone's admin/reader defaults):
# admins do everything; system readers read; domain readers read in their domain (a domain-
# scoped token's domain); users read and update themselves and list their own projects,
# groups and role assignments; project members read their own project and its domain.
_DOMAIN_READER = "(role:reader and domain_id:%(domain_id)s)"
_READER = f"{ADMIN_OR_SYSTEM_READER} or {_DOMAIN_READER}"
_SELF = "user_id:%(target.user.id)s"
_READ_RULES = {
    "get_domain": f"{ADMIN_OR_SYSTEM_READER} or domain_id:%(target.domain.id)s"
    " or project_domain_id:%(target.domain.id)s",
    "list_domains": ADMIN_OR_SYSTEM_READER,
    "get_project": f"{_READER} or project_id:%(target.project.id)s",
    "list_projects": _READER,
    "list_user_projects": f"{_READER} or {_SELF}",
    "list_project_tags": f"{_READER} or project_id:%(target.project.id)s",
    "get_project_tag": f"{_READER} or project_id:%(target.project.id)s",
    "get_user": f"{_READER} or {_SELF}",
    "list_users": _READER,
    "list_groups_for_user": f"{_READER} or {_SELF}",
    "get_group": _READER,
    "list_groups": _READER,
    "list_users_in_group": _READER,
    "check_user_in_group": _READER,
    "get_role": _READER,
    "list_roles": _READER,
    "get_domain_role": _READER,
    "list_domain_roles": _READER,
    "get_implied_role": ADMIN_OR_SYSTEM_READER,
    "check_implied_role": ADMIN_OR_SYSTEM_READER,
    "list_implied_roles": ADMIN_OR_SYSTEM_READER,
    "list_role_inference_rules": ADMIN_OR_SYSTEM_READER,
    "check_grant": _READER,
    "list_grants": _READER,
    "check_system_grant_for_user": ADMIN_OR_SYSTEM_READER,
    "list_system_grants_for_user": ADMIN_OR_SYSTEM_READER,
    "check_system_grant_for_group": ADMIN_OR_SYSTEM_READER,
    "list_system_grants_for_group": ADMIN_OR_SYSTEM_READER,
    "list_role_assignments": f"{ADMIN_OR_SYSTEM_READER} or {_SELF}",
}
_WRITE_RULES = [
    *(
        f"{verb}_{kind}"
        for verb in ("create", "delete")
        for kind in ("domain", "project", "user", "group", "role", "domain_role")
    ),
    *(f"update_{kind}" for kind in ("domain", "project", "group", "role", "domain_role")),
    "update_project_tags",
    "delete_project_tags",
    "create_project_tag",
    "delete_project_tag",
    "update_user_protected_attributes",
    "add_user_to_group",
    "remove_user_from_group",
    "create_implied_role",
    "delete_implied_role",
    "create_grant",
    "revoke_grant",
    "create_system_grant_for_user",
    "revoke_system_grant_for_user",
    "create_system_grant_for_group",
    "revoke_system_grant_for_group",
]
DEFAULTS += [
    *(RuleDefault(f"identity:{name}", rule) for name, rule in _READ_RULES.items()),
    *(RuleDefault(f"identity:{name}", ADMIN) for name in _WRITE_RULES),
    # a user may edit their own description and email; anything else needs the rule above
    RuleDefault("identity:update_user", f"{ADMIN} or {_SELF}"),
]

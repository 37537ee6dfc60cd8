"""Identity's default policy rules, as data. Operators override them in policy/identity.yaml."""

from __future__ import annotations

from overcast.common.http.policy import RuleDefault

ADMIN = "rule:admin_required"
ADMIN_OR_SELF = "rule:admin_required or user_id:%(user_id)s"
ADMIN_OR_TOKEN_OWNER = "rule:admin_required or user_id:%(target.token.user_id)s"

DEFAULTS = [
    RuleDefault("identity:validate_token", ADMIN_OR_TOKEN_OWNER + " or rule:service_role"),
    RuleDefault("identity:check_token", ADMIN_OR_TOKEN_OWNER + " or rule:service_role"),
    RuleDefault("identity:revoke_token", ADMIN_OR_TOKEN_OWNER),
    RuleDefault("service_role", "role:service"),
]

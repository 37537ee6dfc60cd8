"""Identity's HTTP routes, one module per resource; ROUTERS lists them for the app."""

from __future__ import annotations

from overcast.identity.api import (
    application_credentials,
    assignments,
    auth_scopes,
    credentials,
    domain_configs,
    domains,
    endpoints,
    groups,
    project_tags,
    projects,
    records,
    regions,
    role_assignments,
    roles,
    services,
    tokens,
    users,
    versions,
)

ROUTERS = [
    versions.router,
    tokens.router,
    # catalog, application credentials and auth scopes
    auth_scopes.router,
    regions.router,
    services.router,
    endpoints.router,
    application_credentials.router,
    credentials.router,
    # domains (their configuration first: /v3/domains/config/...), projects, users, groups,
    # roles and assignments
    domain_configs.router,
    domains.router,
    projects.router,
    project_tags.router,
    users.router,
    groups.router,
    roles.router,
    assignments.router,
    role_assignments.router,
    # policies, OAuth1 consumers, endpoint groups
    *records.ROUTERS,
]

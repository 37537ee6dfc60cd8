"""Identity's HTTP routes, one module per resource; ROUTERS lists them for the app."""

from __future__ import annotations

from overcast.identity.api import (
    application_credentials,
    assignments,
    auth_scopes,
    credentials,
    domains,
    endpoints,
    groups,
    project_tags,
    projects,
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
    # domains, projects, users, groups, roles and assignments
    domains.router,
    projects.router,
    project_tags.router,
    users.router,
    groups.router,
    roles.router,
    assignments.router,
    role_assignments.router,
]

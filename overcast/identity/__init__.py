"""Identity: OpenStack's Keystone v3 API (domains, projects, users, roles, tokens, catalog)."""

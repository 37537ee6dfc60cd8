"""Identity's HTTP routes, one module per resource; ROUTERS lists them for the app."""

from __future__ import annotations

from overcast.identity.api import tokens, versions

ROUTERS = [versions.router, tokens.router]

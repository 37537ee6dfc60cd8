"""The dashboard's pages, one module per group; each holds `routes` (Starlette routes, paths
below /dashboard). `ROUTE_MODULES` is the order `service.py` mounts them in."""

ROUTE_MODULES = (
    "auth",
    "overview",
    "instances",
    "launch",
    "keypairs",
    "project_kinds",
    "images",
    "objects",
    "access",
    "topology",
    "admin_kinds",
    "admin",
)

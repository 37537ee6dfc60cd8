"""The dashboard (Horizon's place) mounted at /dashboard; catalog type `dashboard`, name
`horizon`. Pages, not a JSON API: it publishes no OpenAPI description. Its one table holds the
sessions (`models.py`)."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from overcast.common.service import Runtime, Service
from overcast.dashboard import web
from overcast.dashboard.pages import ROUTE_MODULES

HERE = Path(__file__).parent


class DashboardService(Service):
    name = "dashboard"
    catalog_type = "dashboard"
    catalog_name = "horizon"
    prefix = "/dashboard"
    migrations = HERE / "migrations"

    def build(self, runtime: Runtime) -> FastAPI:
        routes: list[BaseRoute] = []
        for name in ROUTE_MODULES:
            routes.extend(importlib.import_module(f"overcast.dashboard.pages.{name}").routes)
        routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
        app = FastAPI(routes=routes, openapi_url=None, docs_url=None, redoc_url=None)
        app.router.redirect_slashes = False
        app.state.runtime = runtime
        app.add_middleware(web.SecurityHeaders)
        return app

"""API access: the catalog's endpoints, and `clouds.yaml` and `openrc` for the signed-in user
and project to download (no password in either: openrc asks for it, clouds.yaml leaves it to
be added or prompted for)."""

from __future__ import annotations

import yaml
from starlette.responses import Response
from starlette.routing import Route

from overcast.dashboard import web


def _endpoints(p: web.Page) -> list[tuple[str, str]]:
    return sorted((e.type, p.cloud.url(e.type)) for e in p.runtime.catalog)


async def _page(p: web.Page) -> Response:
    return p.render("access.html", endpoints=_endpoints(p))


def clouds_yaml(p: web.Page) -> str:
    s = p.session
    cloud = {
        "auth": {
            "auth_url": p.cloud.url("identity"),
            "username": s.user_name,
            "user_domain_name": s.domain_name,
            "project_id": s.project_id,
            "project_name": s.project_name,
        },
        "region_name": p.runtime.settings.region,
        "interface": "public",
        "identity_api_version": 3,
    }
    return yaml.safe_dump({"clouds": {s.project_name: cloud}}, sort_keys=False)


def openrc(p: web.Page) -> str:
    s = p.session

    def quoted(value: str) -> str:
        return "'" + value.replace("'", "'\\''") + "'"

    lines = [
        "#!/usr/bin/env sh",
        f"# {s.user_name} in project {s.project_name}: source this file, then give the password.",
        f"export OS_AUTH_URL={quoted(p.cloud.url('identity'))}",
        "export OS_IDENTITY_API_VERSION=3",
        f"export OS_PROJECT_ID={quoted(s.project_id)}",
        f"export OS_PROJECT_NAME={quoted(s.project_name)}",
        f"export OS_USER_DOMAIN_NAME={quoted(s.domain_name)}",
        f"export OS_PROJECT_DOMAIN_NAME={quoted(s.domain_name)}",
        f"export OS_USERNAME={quoted(s.user_name)}",
        f"export OS_REGION_NAME={quoted(p.runtime.settings.region)}",
        "export OS_INTERFACE=public",
        'printf "Password for %s: " "$OS_USERNAME"',
        "stty -echo 2>/dev/null; read -r OS_PASSWORD; stty echo 2>/dev/null; echo",
        "export OS_PASSWORD",
    ]
    return "\n".join(lines) + "\n"


def _download(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _clouds(p: web.Page) -> Response:
    return _download(clouds_yaml(p), "clouds.yaml")


async def _openrc(p: web.Page) -> Response:
    return _download(openrc(p), f"{p.session.project_name}-openrc.sh")


routes = [
    Route("/project/api-access", web.page(_page)),
    Route("/project/api-access/clouds.yaml", web.page(_clouds)),
    Route("/project/api-access/openrc", web.page(_openrc)),
]

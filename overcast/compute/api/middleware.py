"""ASGI middleware of the compute API, from the kernel's microversion machinery.

`microversions` reads `OpenStack-API-Version: compute X.Y` (or the legacy
`X-OpenStack-Nova-API-Version`), answers 406 for versions outside the supported range, keeps
the version in `scope["state"]["compute_version"]` and echoes it in every response, as Nova
does. `project_paths` accepts Nova's older URLs with the project id after `/v2.1`.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from overcast.common.http import faults
from overcast.common.http.microversions import (
    MicroversionMiddleware,
    ProjectPathMiddleware,
    VersionRange,
)

STATE_KEY = "compute_version"


def microversions(app: ASGIApp, versions: VersionRange) -> MicroversionMiddleware:
    return MicroversionMiddleware(app, versions, faults.nova, "/v2.1", STATE_KEY)


def project_paths(app: ASGIApp) -> ProjectPathMiddleware:
    return ProjectPathMiddleware(app, r"/v2(?:\.1)?", "/v2.1")

"""The metadata API guests read (Nova's metadata service): `/compute/metadata/openstack/...`
and the EC2-style `/compute/metadata/<version>/meta-data/...`, `.../user-data`.

No token: the instance is named by the network dataplane's proxy (169.254.169.254) with a
signed `X-Instance-ID` (`common.instance_identity`); a request without one is refused. The
documents are `compute.metadata`'s, the same the config drive holds.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from overcast.common import errors, instance_identity
from overcast.compute import metadata, records
from overcast.compute.models.instances import Instance

router = APIRouter(prefix="/metadata")

_OPENSTACK_FILES = ("meta_data.json", "network_data.json", "vendor_data.json",
                    "vendor_data2.json", "user_data")  # fmt: skip


def _text(body: str, content_type: str = "text/plain") -> Response:
    return Response(body, media_type=content_type)


async def _instance(request: Request) -> dict[str, Any]:
    state = request.app.state.compute
    headers = request.headers
    uuid = headers.get(instance_identity.HEADER_ID)
    signature = headers.get(instance_identity.HEADER_SIGNATURE) or ""
    if not uuid:
        raise errors.BadRequest("X-Instance-ID header is missing from request.")
    secret = instance_identity.shared_secret(state.settings)
    if not instance_identity.verify(secret, uuid, signature):
        raise errors.Forbidden("Invalid proxy request signature.")
    async with state.db.reader() as session:
        inst = await session.scalar(
            select(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False))
        )
    if inst is None:
        raise errors.NotFound(f"Instance {uuid} could not be found.")
    project = headers.get(instance_identity.HEADER_PROJECT)
    if project and project != inst.project_id:
        raise errors.NotFound(f"Instance {uuid} could not be found.")
    return records.instance_dict(inst)


@router.get("/openstack")
@router.get("/openstack/")
async def openstack_versions() -> Response:
    return _text("\n".join(metadata.OPENSTACK_VERSIONS))


@router.get("/openstack/{version}")
@router.get("/openstack/{version}/")
async def openstack_index(version: str, request: Request) -> Response:
    _known(version, metadata.OPENSTACK_VERSIONS)
    inst = await _instance(request)
    names = [n for n in _OPENSTACK_FILES if n != "user_data" or metadata.user_data(inst)]
    return _text("\n".join(names))


@router.get("/openstack/{version}/{name}")
async def openstack_file(version: str, name: str, request: Request) -> Response:
    _known(version, metadata.OPENSTACK_VERSIONS)
    inst = await _instance(request)
    docs = {
        "meta_data.json": metadata.meta_data,
        "network_data.json": metadata.network_data,
        "vendor_data.json": lambda _: {},
        "vendor_data2.json": lambda _: {},
    }
    if name in docs:
        return _text(json.dumps(docs[name](inst)), "application/json")
    if name == "user_data":
        return _user_data(inst)
    raise errors.NotFound("The resource could not be found.")


def _user_data(inst: dict[str, Any]) -> Response:
    data = metadata.user_data(inst)
    if data is None:
        raise errors.NotFound("The resource could not be found.")
    return Response(data, media_type="text/plain")


def _known(version: str, versions: tuple[str, ...]) -> None:
    if version not in versions:
        raise errors.NotFound("The resource could not be found.")


@router.get("/")
async def ec2_versions() -> Response:
    return _text("\n".join(metadata.EC2_VERSIONS))


@router.get("/{version}/user-data")
async def ec2_user_data(version: str, request: Request) -> Response:
    _known(version, metadata.EC2_VERSIONS)
    return _user_data(await _instance(request))


@router.get("/{version}/meta-data")
@router.get("/{version}/meta-data/{path:path}")
async def ec2_meta_data(version: str, request: Request, path: str = "") -> Response:
    """A key's value, or a directory's listing (sub-directories end with `/`)."""
    _known(version, metadata.EC2_VERSIONS)
    node: Any = metadata.ec2_meta_data(await _instance(request))
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, dict) or part not in node:
            raise errors.NotFound("The resource could not be found.")
        node = node[part]
    if isinstance(node, dict):
        return _text("\n".join(f"{k}/" if isinstance(v, dict) else k for k, v in node.items()
                               if not k.startswith("_")))  # fmt: skip
    if isinstance(node, list):
        return _text("\n".join(str(v) for v in node))
    return _text(str(node))

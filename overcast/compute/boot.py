"""Creating servers: check a boot request against flavors, images, key pairs, networks,
volumes and quotas, record the instances (BUILD/scheduling) and hand them to the conductor.

Called by `api.servers.create` with a typed `BootRequest`. Every refusal here is a 4xx before
anything is written; once written, a failure can only put an instance in ERROR with a fault.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from overcast.clients.image import properties
from overcast.common import errors, log, trace
from overcast.common.context import RequestContext
from overcast.common.db.base import new_uuid
from overcast.compute import host_services, image_bdms, quotas, records, states
from overcast.compute.conductor import writes
from overcast.compute.conductor.rpc import ACTIONS
from overcast.compute.conductor.rpc import TOPIC as CONDUCTOR
from overcast.compute.models import hosts, instances
from overcast.compute.scheduler.filters.resources import requested
from overcast.compute.state import ComputeState

LOG = log.get(__name__)

_GIB = 1024**3
BATCH = 50  # most boots of one project written in one transaction


@dataclass
class BootRequest:
    name: str
    flavor_ref: str
    image_ref: str = ""
    networks: Any = None  # "auto" | "none" | [{uuid, port, fixed_ip, tag}] | None
    admin_pass: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    key_name: str | None = None
    user_data: str | None = None
    availability_zone: str | None = None
    bdms: list[dict[str, Any]] = field(default_factory=list)
    min_count: int = 1
    max_count: int = 1
    security_groups: list[str] = field(default_factory=list)
    config_drive: bool = False
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    disk_config: str = "MANUAL"
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    trusted_certs: list[str] | None = None
    host: str | None = None
    hypervisor_hostname: str | None = None
    hostname: str | None = None
    hints: dict[str, Any] = field(default_factory=dict)


def sanitize_hostname(name: str) -> str:
    """Nova's hostname from a display name: letters, digits and dashes, at most 63."""
    text = re.sub(r"[^\w.-]+", "-", name.lower().replace("_", "-"))
    text = re.sub(r"[^a-z0-9.-]", "", text).strip(".-")
    return text[:63].rstrip(".-") or "server"


def new_password() -> str:
    """A password for a server whose caller gave none (boot, rebuild, rescue, evacuate)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12))


async def _image(st: ComputeState, ctx: RequestContext, image_ref: str) -> dict[str, Any]:
    try:
        image = await st.remote.image(ctx.to_dict()).get(image_ref)
    except errors.NotFound as exc:
        raise errors.BadRequest("Can not find requested image") from exc
    if image.get("status") != "active":
        raise errors.BadRequest(f"Image {image_ref} is not active.")
    return image


def _check_image_fits(image: dict[str, Any], flavor: dict[str, Any], is_bfv: bool) -> None:
    if int(image.get("min_ram") or 0) > int(flavor["memory_mb"]):
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    if is_bfv or not flavor["root_gb"]:
        return
    if int(image.get("min_disk") or 0) > int(flavor["root_gb"]):
        raise errors.BadRequest("Flavor's disk is too small for requested image.")
    size = int(image.get("size") or 0)
    if size > int(flavor["root_gb"]) * _GIB:
        raise errors.BadRequest(
            f"Flavor's disk is too small for requested image. Flavor disk is "
            f"{int(flavor['root_gb']) * _GIB} bytes, image is {size} bytes."
        )


def _boot_volume(bdms: list[dict[str, Any]]) -> dict[str, Any] | None:
    for bdm in bdms:
        if str(bdm.get("boot_index")) == "0" and bdm.get("destination_type") == "volume":
            return bdm
    return None


async def _destination(
    session: AsyncSession, req: BootRequest, zone: str | None
) -> tuple[str | None, dict[str, Any]]:
    """Split `zone:host:node` and 2.74's host/hypervisor_hostname into the zone and what the
    request spec forces or requests."""
    extra: dict[str, Any] = {}
    if zone and ":" in zone:
        zone_part, _, rest = zone.partition(":")
        host, _, node = rest.partition(":")
        if host:
            extra["force_hosts"] = [host]
        if node:
            extra["force_nodes"] = [node]
        zone = zone_part or None
    if req.host or req.hypervisor_hostname:
        extra["requested_destination"] = {"host": req.host, "node": req.hypervisor_hostname}
    for host in [*extra.get("force_hosts", []), req.host]:
        if host and not await session.scalar(
            select(hosts.ComputeNode.id).where(hosts.ComputeNode.host == host).limit(1)
        ):
            raise errors.BadRequest(f"Compute host {host} could not be found.")
    for node in [*extra.get("force_nodes", []), req.hypervisor_hostname]:
        if node and not await session.scalar(
            select(hosts.ComputeNode.id).where(hosts.ComputeNode.hypervisor_hostname == node)
        ):
            raise errors.BadRequest(f"Compute host {node} could not be found.")
    return zone, extra


async def _check_zone(
    st: ComputeState, session: AsyncSession, zone: str | None, destination: dict[str, Any]
) -> None:
    """A requested zone must have an enabled compute service (400 otherwise), unless
    `zone:host` forces the host: Nova does not check the zone then."""
    if not zone or destination.get("force_hosts"):
        return
    if zone not in await host_services.available_zones(session, st.settings.compute):
        raise errors.BadRequest("The requested availability zone is not available")


async def _count(
    session: AsyncSession,
    ctx: RequestContext,
    req: BootRequest,
    flavor: dict[str, Any],
    limits: quotas.Limits,
) -> int:
    """How many instances to create: max_count if the quota allows, else as many as fit but
    at least min_count (403 otherwise)."""
    per = {"instances": 1, "cores": int(flavor["vcpus"]), "ram": int(flavor["memory_mb"])}
    project, user = ctx.project_id or "", ctx.user_id or ""
    count = req.max_count
    if req.max_count > req.min_count:
        used = await quotas.usage(session, project, user, only=per)
        for resource, amount in per.items():
            limit = limits.project.get(resource, -1)
            if limit >= 0 and amount > 0:
                count = min(count, max((limit - used.get(resource, 0)) // amount, 0))
        count = max(count, req.min_count)
    await quotas.reserve(session, project, user, {k: v * count for k, v in per.items()}, limits)
    return count


@dataclass
class _Checked:
    image_ref: str
    is_bfv: bool
    flavor: dict[str, Any]
    zone: str | None
    destination: dict[str, Any]
    image: dict[str, Any]
    limits: quotas.Limits
    key_data: str | None


async def _check(st: ComputeState, ctx: RequestContext, req: BootRequest) -> _Checked:
    """The request checked against flavors, zones, hosts and images (4xx otherwise)."""
    boot_volume = _boot_volume(req.bdms)
    image_ref = req.image_ref or ""
    if not image_ref and boot_volume is None:
        image_bdm = next(
            (
                b
                for b in req.bdms
                if str(b.get("boot_index")) == "0" and b.get("source_type") == "image"
            ),
            None,
        )
        if image_bdm is None:
            raise errors.BadRequest("Missing imageRef attribute")
        image_ref = str(image_bdm.get("uuid") or "")
    is_bfv = boot_volume is not None
    _check_services(st, req)
    async with st.db.reader() as session:
        # Both mostly from memory; the session connects only if something is read.
        flavor = await st.boot_cache.flavor(session, ctx, req.flavor_ref)
        zone, destination = await _destination(session, req, req.availability_zone)
        await _check_zone(st, session, zone, destination)
        # Read before the project's lock is taken, so that the locked section is shorter.
        limits = await st.boot_cache.limits(session, ctx.project_id or "", ctx.user_id or "")
        key_data = None
        if req.key_name:
            from overcast.compute import keypairs

            key = await keypairs.get_keypair(session, ctx.user_id or "", req.key_name)
            key_data = key.public_key
    image: dict[str, Any] = {}
    if image_ref and not (is_bfv and not req.image_ref):
        image = await _image(st, ctx, image_ref)
        mapped = image_bdms.from_image(image)
        if mapped:  # a volume-backed server's snapshot: it boots from volumes made for it
            req.bdms = image_bdms.merge(mapped, req.bdms)
            _check_services(st, req)
            boot_volume = _boot_volume(req.bdms)
            is_bfv = boot_volume is not None
            if is_bfv:
                image_ref = ""
        _check_image_fits(image, flavor, is_bfv)
    await image_bdms.check_snapshots(st.remote, ctx.to_dict(), req.bdms)
    if is_bfv and boot_volume and boot_volume.get("source_type") == "image":
        image = await _image(st, ctx, str(boot_volume.get("uuid")))
        image_ref = ""
    if not is_bfv and not flavor["root_gb"] and not ctx.is_admin:
        raise errors.Forbidden("Only volume-backed servers are allowed for flavors with zero disk.")
    await _check_groups(st, ctx, req.security_groups)
    if boot_volume and boot_volume.get("source_type") == "volume":
        await _check_bootable(st, ctx, str(boot_volume.get("uuid") or ""))
    return _Checked(image_ref, is_bfv, flavor, zone, destination, image, limits, key_data)


async def create(
    st: ComputeState, ctx: RequestContext, req: BootRequest
) -> tuple[list[instances.Instance], str, str]:
    """Record the instances of a boot request and start building them.
    Returns (instances, reservation_id, admin password)."""
    with trace.span("request validated"):
        checked = await _check(st, ctx, req)
    hints = dict(req.hints)
    project = ctx.project_id or ""
    if req.min_count == req.max_count and not hints.get("group"):
        # A boot of a known number of servers outside any server group (most): the rows are
        # made here and written, with the quota checked, in a batch with the project's other
        # boots waiting in this process (`_write_batch`): the quota step lasts until they are.
        with trace.span("quota reserved", instances=req.max_count):
            made = await st.quota_turns.together(
                project,
                _rows(ctx, req, checked, req.max_count, None),
                lambda batch: _write_batch(st, project, batch),
                BATCH,
            )
        trace.event("record written", instances=req.max_count)
    else:
        # The count is fitted to the quota under the project's lock, then written.
        async with st.quota_turns.turn(project), st.db.session() as session:
            # The quota lock first: on MariaDB the first read fixes the snapshot usage is
            # counted in.
            await quotas.lock_project(session, project)
            limits = checked.limits
            await quotas.check_limit(session, project, "metadata_items", len(req.metadata), limits)
            group = None
            if hints.get("group"):
                from overcast.compute import server_groups

                group = await server_groups.instance_group(session, str(hints["group"]), project)
            with trace.span("quota reserved"):
                count = await _count(session, ctx, req, checked.flavor, checked.limits)
            with trace.span("record written", instances=count):
                made = _rows(ctx, req, checked, count, group)
                session.add_all([*made.created, *made.started])
                await session.flush()
                if group is not None:
                    from overcast.compute import server_groups

                    uuids = [inst.uuid for inst in made.created]
                    await server_groups.add_members(session, group["uuid"], project, uuids)
    # The conductor records its events under these actions without looking them up.
    actions = {row.instance_uuid: row.id for row in made.started}
    try:
        await st.bus.cast(
            CONDUCTOR,
            "schedule_and_build_instances",
            ctx.to_dict(),
            spec={**made.spec, ACTIONS: actions},
        )
    except errors.ServiceUnavailable as exc:
        # Nothing will build them: they fail now, visibly, rather than wait in BUILD.
        async with st.db.session() as session:
            for inst in made.created:
                await writes.to_error(session, inst.uuid, records.fault(exc, 503))
        raise
    return made.created, made.reservation_id, made.admin_pass


@dataclass
class _Made:
    created: list[instances.Instance]
    started: list[Any]  # their create actions
    spec: dict[str, Any]
    reservation_id: str
    admin_pass: str
    ctx: RequestContext
    checked: _Checked
    metadata: dict[str, str]


async def _write_batch(st: ComputeState, project: str, batch: list[_Made]) -> list[Any]:
    """Write the boots of `project` that fit its quota, in order, in one transaction under its
    lock; the others get their QuotaExceeded. Each boot's outcome, in order."""
    outcomes: list[Any] = []
    async with st.db.session() as session:
        tally = quotas.ServerTally(session, project)
        for made in batch:
            try:
                await _reserve(session, tally, made)
            except errors.OvercastError as exc:
                outcomes.append(exc)
                continue
            session.add_all([*made.created, *made.started])
            outcomes.append(made)
        await session.flush()
    return outcomes


async def _reserve(session: AsyncSession, tally: quotas.ServerTally, made: _Made) -> None:
    """The quota check of the boot's servers beside the batch's earlier ones (403 otherwise)."""
    checked, count = made.checked, len(made.created)
    flavor, ctx = checked.flavor, made.ctx
    project = ctx.project_id or ""
    limits = checked.limits
    await quotas.check_limit(session, project, "metadata_items", len(made.metadata), limits)
    per = {"instances": 1, "cores": int(flavor["vcpus"]), "ram": int(flavor["memory_mb"])}
    await tally.take(ctx.user_id or "", {k: v * count for k, v in per.items()}, limits)


def _rows(
    ctx: RequestContext,
    req: BootRequest,
    checked: _Checked,
    count: int,
    group: dict[str, Any] | None,
) -> _Made:
    """The request's `count` instances and their create actions, to be written (made in the
    request's own trace, which each action links to its server)."""
    image_ref, is_bfv, flavor = checked.image_ref, checked.is_bfv, checked.flavor
    zone, destination, image = checked.zone, checked.destination, checked.image
    reservation_id = "r-" + secrets.token_hex(4)
    admin_pass = req.admin_pass or new_password()
    uuids = [new_uuid() for _ in range(count)]
    spec = {
        "instance_uuids": uuids,
        "num_instances": count,
        "project_id": ctx.project_id,
        "user_id": ctx.user_id,
        "flavor": flavor,
        "image": {
            "id": image.get("id"),
            "properties": properties(image),
            "min_disk": image.get("min_disk"),
            "min_ram": image.get("min_ram"),
            "size": image.get("size"),
        }
        if image
        else {},
        "availability_zone": zone,
        "scheduler_hints": dict(req.hints),
        "instance_group": group,
        "ignore_hosts": [],
        "force_hosts": [],
        "force_nodes": [],
        "is_bfv": is_bfv,
        "networks": req.networks,
        "uses_volumes": any(b.get("destination_type") == "volume" for b in req.bdms),
        "retry": {"num_attempts": 1, "hosts": []},
        **destination,
    }
    kept = {k: v for k, v in spec.items() if k != "instance_uuids"}
    created, started = [], []
    for index, uuid in enumerate(uuids):
        name = req.name if count == 1 else f"{req.name}-{index + 1}"
        inst = instances.Instance(
            uuid=uuid,
            display_name=name,
            display_description=req.description,
            hostname=req.hostname or sanitize_hostname(name),
            project_id=ctx.project_id or "",
            user_id=ctx.user_id or "",
            image_ref=image_ref,
            flavor=flavor,
            vm_state=states.BUILDING,
            task_state=states.SCHEDULING,
            power_state=states.NOSTATE,
            availability_zone=zone,
            pinned_availability_zone=zone,
            key_name=req.key_name,
            key_data=checked.key_data,
            user_data=req.user_data,
            config_drive="True" if req.config_drive else "",
            metadata_=dict(req.metadata),
            system_metadata={"disk_config": req.disk_config},
            security_groups=req.security_groups or ["default"],
            requested_networks=req.networks,
            block_device_mapping=list(req.bdms),
            request_spec=kept,
            reservation_id=reservation_id,
            launch_index=index,
            access_ip_v4=req.access_ip_v4,
            access_ip_v6=req.access_ip_v6,
            root_device_name="/dev/vda",
            trusted_certs=req.trusted_certs,
            tags=[instances.InstanceTag(tag=t) for t in dict.fromkeys(req.tags)],
        )
        created.append(inst)
        started.append(records.new_action(ctx.to_dict(), uuid, "create"))
    return _Made(created, started, spec, reservation_id, admin_pass, ctx, checked, req.metadata)


async def _check_bootable(st: ComputeState, ctx: RequestContext, volume_id: str) -> None:
    """The volume a server boots from must be the caller's and bootable (400, as Nova)."""
    client = st.remote.volume(ctx.to_dict())
    if client is None:
        return
    try:
        volume = await client.get_volume(volume_id)
    except errors.NotFound as exc:
        raise errors.BadRequest(
            f"Block Device Mapping is Invalid: volume {volume_id} not found."
        ) from exc
    if str(volume.get("bootable")).lower() != "true":
        raise errors.BadRequest(f"Block Device {volume_id} is not bootable.")


async def _check_groups(st: ComputeState, ctx: RequestContext, names: list[str]) -> None:
    """Every security group named must be the project's (400 otherwise, before anything is
    recorded, as Nova checks them with the network service)."""
    wanted = [n for n in names if n != "default"]
    client = st.remote.network(ctx.to_dict()) if wanted else None
    if client is None:
        return
    for name in wanted:
        if await client.get_security_group(name, ctx.project_id or "") is None:
            raise errors.BadRequest(f"Unable to find security_group with name or id '{name}'")


def _check_services(st: ComputeState, req: BootRequest) -> None:
    if isinstance(req.networks, list) and req.networks and not st.remote.has("network"):
        raise errors.BadRequest("Networks were requested but there is no network service.")
    if any(b.get("destination_type") == "volume" for b in req.bdms) and not (
        st.remote.has("volumev3") or st.remote.has("block-storage")
    ):
        raise errors.BadRequest("Volumes were requested but there is no block storage service.")


def resources(flavor: dict[str, Any]) -> dict[str, int]:
    return requested(flavor)

"""os-instance_usage_audit_log (admins): the state of the usage audit of an audit period (a
calendar month, Nova's default), for all of the period before now or before a given time.
Overcast runs no per-host audit task: every compute host is reported as not having run it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends

from overcast.common import errors
from overcast.common.db.base import utcnow
from overcast.compute import host_services
from overcast.compute.api.deps import Req, req

router = APIRouter(prefix="/v2.1/os-instance_usage_audit_log")
RULE = "os_compute_api:os-instance-usage-audit-log:"
_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
)


def _period(before: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last whole calendar month that ended at or before `before`."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - dt.timedelta(days=1)).replace(day=1)
    return start, end


def _parse(value: str) -> dt.datetime:
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise errors.BadRequest(f"Invalid timestamp for date {value}")


async def _report(r: Req, before: dt.datetime) -> dict[str, Any]:
    start, end = _period(before)
    async with r.state.db.reader() as session:
        views = await host_services.list_services(
            session, r.state.settings.compute, binary=host_services.COMPUTE
        )
    hosts = sorted({v.row.host for v in views})
    return {
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_not_run": len(hosts),
        "num_hosts_running": 0,
        "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        "period_beginning": start.strftime("%Y-%m-%d %H:%M:%S"),
        "period_ending": end.strftime("%Y-%m-%d %H:%M:%S"),
        "total_errors": 0,
        "total_instances": 0,
    }


@router.get("")
async def index(r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "list", {})
    return {"instance_usage_audit_logs": await _report(r, utcnow())}


@router.get("/{before_timestamp}")
async def show(before_timestamp: str, r: Req = Depends(req)) -> dict[str, Any]:
    r.enforce(RULE + "show", {})
    return {"instance_usage_audit_log": await _report(r, _parse(before_timestamp))}

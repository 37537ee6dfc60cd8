"""The conductor's guarded writes run a second time (a call redelivered after the conductor
died in it) answer as the first run did: a write already made is seen as made."""

from __future__ import annotations

import datetime as dt

from overcast.common.bus.endpoints import redelivers
from overcast.compute.conductor import writes
from overcast.compute.conductor.agents import AgentAccess
from overcast.compute.models.instances import Instance


def _instance(**values: object) -> Instance:
    return Instance(uuid="i1", deleted=False, **values)


def test_values_already_made_are_held() -> None:
    made = _instance(
        vm_state="active", task_state=None, power_state=1, launched_at=dt.datetime(2026, 1, 1)
    )
    done = {"vm_state": "active", "task_state": None, "power_state": 1, "launched_at": "now"}
    assert writes.holds(made, done)
    assert not writes.holds(made, {**done, "power_state": 4})
    assert not writes.holds(_instance(vm_state="active", task_state=None, power_state=1), done)
    deleted = _instance(vm_state="active", task_state=None, power_state=1)
    deleted.deleted = True
    assert not writes.holds(deleted, {"vm_state": "active"})
    assert not writes.holds(None, {"vm_state": "active"})
    assert writes.holds(_instance(metadata_={"a": "1"}), {"metadata": {"a": "1"}})


def test_only_the_agents_waiting_calls_are_redeliverable() -> None:
    access = AgentAccess.__new__(AgentAccess)
    for name in ("start_build", "instance_update", "get_instance", "instance_destroyed"):
        assert redelivers(access, name), name
    assert not redelivers(access, "no_such_method")

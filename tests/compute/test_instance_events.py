"""The host's event registry: a delete that lands while a build is between creating its
ports and listening for their events still ends that build's wait."""

import asyncio

import pytest

from overcast.compute.agent.events import Abandoned, InstanceEvents


def test_a_delete_before_the_build_listens_is_remembered() -> None:
    async def run() -> None:
        events = InstanceEvents()
        with events.building("i1"):
            events.abandon("i1")  # the delete came while the ports were being created
            with pytest.raises(Abandoned):
                events.expect("i1", "network-vif-plugged", ["p1"])
        with events.building("i1"):  # a later build of the same uuid starts clean
            keys = events.expect("i1", "network-vif-plugged", ["p1"])
            events.forget(keys)

    asyncio.run(run())


def test_a_delete_while_waiting_ends_the_wait_and_others_are_untouched() -> None:
    async def run() -> None:
        events = InstanceEvents()
        with events.building("i1"), events.building("i2"):
            mine = events.expect("i1", "network-vif-plugged", ["p1"])
            other = events.expect("i2", "network-vif-plugged", ["p2"])
            waiting = asyncio.ensure_future(events.wait(mine, timeout=30))
            await asyncio.sleep(0)
            events.abandon("i1")
            with pytest.raises(Abandoned):
                await waiting
            assert events.deliver("i2", "network-vif-plugged", "p2", "completed")
            await events.wait(other, timeout=1)

    asyncio.run(run())


def test_a_delete_of_an_instance_not_building_here_leaves_nothing_behind() -> None:
    async def run() -> None:
        events = InstanceEvents()
        events.abandon("gone")
        with events.building("gone"):
            events.forget(events.expect("gone", "network-vif-plugged", ["p"]))

    asyncio.run(run())

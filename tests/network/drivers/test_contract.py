"""The dataplane driver contract, run over every driver (`linuxbridge` in a namespace of the
test's own, as root): level-based `apply`, the `bind_port`/`unbind_port` fast path and its
batches (`apply_ports`), idempotency, and status callbacks; `auto` choosing the driver the host can run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from overcast.common.config import Settings
from overcast.network import drivers
from overcast.network.drivers.linuxbridge import netns

DRIVERS = ["noop", "linuxbridge"]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def port_up(self, port_id: str) -> None:
        self.events.append(("up", port_id))

    async def port_down(self, port_id: str) -> None:
        self.events.append(("down", port_id))


NET = drivers.Network(
    id="n1", mtu=1450, admin_state_up=True, segments=(drivers.Segment("vxlan", None, 7),)
)


def port(port_id: str, up: bool = True) -> drivers.Port:
    return drivers.Port(
        id=port_id,
        network_id="n1",
        mac_address="fa:16:3e:00:00:01",
        fixed_ips=(("s1", "10.0.0.5"),),
        admin_state_up=up,
        device_owner="compute:nova",
        device_id="vm",
        vif_type="bridge",
    )


@pytest.fixture(params=DRIVERS)
async def driver(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[drivers.Driver, Recorder]]:
    if request.param == "linuxbridge" and os.geteuid() != 0:
        pytest.skip("the linuxbridge driver needs root")
    recorder = Recorder()
    settings = Settings()
    settings.network.linuxbridge.namespace = f"occontract{os.getpid()}"
    found = drivers.load(request.param, settings, recorder)
    await found.start()
    yield found, recorder
    await found.cleanup()
    assert not netns.exists(settings.network.linuxbridge.namespace)


async def test_capabilities_say_what_binding_needs(driver: tuple[drivers.Driver, Recorder]) -> None:
    found, _ = driver
    caps = found.capabilities
    assert caps.vif_type and caps.agent_type and caps.network_types
    names = {"network_id": "n" * 36, "port_id": "p" * 36, "segmentation_id": "7"}
    for value in caps.vif_details.values():
        if isinstance(value, str):
            assert len(value.format(**names)) <= 15  # Linux interface names


async def test_apply_is_level_based_and_idempotent(driver: tuple[drivers.Driver, Recorder]) -> None:
    found, recorder = driver
    state = drivers.HostState(host="h", networks=(NET,), ports=(port("a"), port("b", up=False)))
    await found.apply(state)
    await found.apply(state)
    assert recorder.events.count(("up", "a")) == 2 and ("down", "b") in recorder.events
    recorder.events.clear()
    await found.apply(drivers.HostState(host="h", networks=(NET,), ports=(port("b"),)))
    assert ("down", "a") in recorder.events and ("up", "b") in recorder.events
    recorder.events.clear()
    await found.cleanup()
    assert ("down", "b") in recorder.events


async def test_bind_and_unbind_port(driver: tuple[drivers.Driver, Recorder]) -> None:
    found, recorder = driver
    await found.bind_port(port("c"), NET, ())
    assert recorder.events == [("up", "c")]
    await found.unbind_port("c")
    await found.unbind_port("c")  # unbinding an unknown port succeeds
    await found.unbind_port("never-seen")
    assert recorder.events == [("up", "c"), ("down", "c")]


async def test_apply_ports_binds_and_unbinds_together(
    driver: tuple[drivers.Driver, Recorder],
) -> None:
    found, recorder = driver
    await found.bind_port(port("e"), NET, ())
    recorder.events.clear()
    batch = drivers.Batch(ports=((port("c"), NET), (port("d", up=False), NET)), gone=("e", "x"))
    await found.apply_ports(batch)
    assert sorted(recorder.events) == [("down", "d"), ("down", "e"), ("up", "c")]
    recorder.events.clear()
    await found.apply_ports(drivers.Batch())  # nothing changed: nothing happens
    assert recorder.events == []


def test_auto_picks_linuxbridge_where_the_host_can_run_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`overcast up` with the default driver (auto): linuxbridge as root on this host, and it
    says so; noop, saying why, where the host cannot (then guests need a config drive)."""
    if os.geteuid() != 0:
        pytest.skip("the linuxbridge driver needs root")
    settings = Settings()
    settings.network.driver, settings.compute.qemu.force_config_drive = "auto", None  # defaults
    said = drivers.resolve(settings)
    assert said.startswith("linuxbridge (") and settings.network.driver == "linuxbridge"
    assert settings.compute.qemu.force_config_drive is False
    monkeypatch.setattr(drivers, "unusable", lambda: "no dnsmasq")
    settings = Settings()
    settings.network.driver, settings.compute.qemu.force_config_drive = "auto", None
    said = drivers.resolve(settings)
    assert said == "noop (no dnsmasq: no packets are carried)"
    assert settings.network.driver == "noop" and settings.compute.qemu.force_config_drive is True

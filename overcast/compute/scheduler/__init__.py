"""The compute scheduler: Nova's filter scheduler over the hosts' reported resources.

`manager.select_destinations` loads a `HostState` per node, drops the hosts any enabled filter
refuses (`filters`), orders the rest by the weighers (`weighers`) and claims the instance's
resources on the best host with one conditional UPDATE (`claims`), trying the next on a race.

The RequestSpec is a plain dict (it travels over the bus); this is everything filters may read:

    instance_uuids       [str]         the instances of this request (min/max count)
    num_instances        int
    project_id, user_id  str
    flavor               {id, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, extra_specs}
    image                {id, properties, min_disk, min_ram, size}   ({} for boot from volume)
    availability_zone    str | None   the zone asked for (`zone` or `zone:host[:node]`)
    scheduler_hints      {same_host: [uuid], different_host: [uuid], group: uuid, ...}
    instance_group       {uuid, policy, hosts, members, rules} | None
    ignore_hosts         [str]         hosts never to pick (e.g. the source of a migration)
    force_hosts          [str]         pick only among these (admin `zone:host`); no filtering
    force_nodes          [str]
    retry                {num_attempts: int, hosts: [str]}   hosts that already failed this build
    is_bfv               bool          boot from volume: no root disk on the host
    requested_destination {host, node}  2.74's host/hypervisor_hostname (filters still run)
    networks             "auto" | "none" | [{uuid, port, fixed_ip, tag}] | None   (for agents)
    uses_volumes         bool          the block device mapping needs the volume service
"""

from __future__ import annotations

from typing import Any

RequestSpec = dict[str, Any]

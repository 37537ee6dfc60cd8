"""Settings: one typed object, read from a TOML file and OVERCAST_* environment variables.

Precedence (highest first): explicit overrides (command line), environment, file, defaults.
Nested sections use a double underscore in the environment: OVERCAST_IDENTITY__TOKEN_EXPIRATION.
"""

from __future__ import annotations

import os
import socket
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def local_address() -> str:
    """The address this host sends from towards others (the default route's source address),
    as OpenStack's `my_ip` defaults; loopback on a host with no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent by a UDP connect
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "overcast"


class IdentitySettings(BaseModel):
    token_expiration: int = Field(3600, description="token lifetime in seconds")
    password_hash_rounds: int = Field(12, ge=4, le=31, description="bcrypt cost")
    max_active_keys: int = Field(3, ge=2, description="fernet keys kept by rotation")
    lockout_failure_attempts: int = Field(0, ge=0, description="0 disables lockout")
    lockout_duration: int = Field(1800, ge=1, description="seconds a locked user waits")
    validation_cache_seconds: float = Field(30.0, ge=0)


class ImageSettings(BaseModel):
    default_store: str = "file"
    stores: list[str] = ["file"]
    image_count_quota: int = Field(100, description="images per project; -1 unlimited")
    image_size_quota_gb: float = Field(
        1000, description="total bytes per project in GiB; -1 unlimited"
    )
    store_drivers: dict[str, str] = Field(
        default_factory=dict, description="store name -> driver; a name not here is its driver"
    )
    hashing_algorithm: str = Field("sha512", description="os_hash_algo of new image data")
    max_image_size: int = Field(1 << 40, description="largest image data accepted, in bytes")
    disk_formats: list[str] = "ami ari aki vhd vhdx vmdk raw qcow2 vdi iso ploop gpt".split()
    container_formats: list[str] = "ami ari aki bare ovf ova docker compressed".split()
    limit_param_default: int = Field(25, ge=1, description="images per page when none asked")
    api_limit_max: int = Field(1000, ge=1, description="most images one page may hold")
    # Which URLs web-download imports and import tasks may fetch (Glance's import filtering):
    # an empty list allows all; a listed allowed-list wins over its disallowed-list.
    import_allowed_schemes: list[str] = ["http", "https"]
    import_allowed_hosts: list[str] = []
    import_disallowed_hosts: list[str] = []
    import_allowed_ports: list[int] = [80, 443]
    import_disallowed_ports: list[int] = []
    import_fetch_timeout: float = Field(60.0, gt=0, description="seconds a fetch may stall")
    task_time_to_live: int = Field(48, ge=1, description="hours a finished task is kept")


class QemuSettings(BaseModel):
    """The qemu compute driver (`compute.qemu`)."""

    binary: str = "qemu-system-x86_64"
    accel: str = Field("auto", description="auto (KVM when a probe boots, else TCG), kvm, tcg")
    cpu_model: str = Field(
        "Nehalem", description="guest CPU model under TCG (KVM uses host); measured fastest"
    )
    machine_type: str = Field("q35", description="default machine type (hw_machine_type wins)")
    user: str = Field(
        "overcast-qemu",
        description="the system user QEMU drops to when Overcast runs as root (created when "
        "missing); empty: QEMU keeps Overcast's user",
    )
    reboot_timeout: float = Field(10.0, description="seconds a soft reboot may take")
    start_timeout: float = Field(30.0, description="seconds QEMU may take to answer QMP")
    unplug_timeout: float = Field(30.0, description="seconds a guest may take to let a device go")
    migration_timeout: float = Field(
        600.0, description="seconds each step of a live migration's copy may take"
    )
    swap_timeout: float = Field(
        3600.0, description="seconds a volume swap's copy may go without progress to report"
    )
    # Where the network dataplane serves no metadata API at 169.254.169.254 (the noop driver),
    # the config drive is how a guest gets its metadata, so every guest gets one; with the
    # linuxbridge driver the guest asks the metadata proxy. None: decided by network.driver
    # (once `overcast up` has resolved `auto`).
    force_config_drive: bool | None = None
    vnc: bool = True
    vnc_listen: str = Field(
        "auto",
        description="where guests' VNC servers and serial consoles listen: an address (TCP, VNC "
        "from port 5900, serial from 10000) that console proxies on other nodes reach, as Nova's "
        "[vnc] server_listen; `unix`: sockets "
        "only this node's proxy reaches; auto: unix on the in-process bus (one node), my_ip "
        "with a broker (the API's proxy may be on another node)",
    )
    console_log_max: int = Field(1 << 20, description="bytes of console log kept per guest")


class ComputeSettings(BaseModel):
    driver: str = Field("auto", description="fake, qemu, or auto: qemu when the host can")
    fake_hosts: int = Field(1, ge=1, description="fake compute hosts run in this process")
    host_vcpus: int = 16
    host_memory_mb: int = 32768
    host_disk_gb: int = 500
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    report_interval: float = 10.0
    sync_power_state_interval: float = 60.0
    max_attempts: int = 3
    conductor_builds: int = Field(
        32,
        ge=1,
        description="boots a conductor process schedules at once; the others wait on the bus, "
        "not for one of its database connections (where its calls to the scheduler timed out)",
    )
    enabled_filters: list[str] = [
        "ComputeFilter",
        "AvailabilityZoneFilter",
        "ComputeCapabilitiesFilter",
        "ImagePropertiesFilter",
        "ServerGroupAntiAffinityFilter",
        "ServerGroupAffinityFilter",
        "AggregateInstanceExtraSpecsFilter",
        "SameHostFilter",
        "DifferentHostFilter",
        "ResourceFilter",
    ]
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    # Stronger than Nova's 1.0 so that soft (anti-)affinity outweighs the three resource
    # weighers on an idle cloud, where they would otherwise spread a soft-affinity group.
    soft_affinity_weight_multiplier: float = 10.0
    soft_anti_affinity_weight_multiplier: float = 10.0
    host_subset_size: int = Field(1, ge=1, description="pick randomly among the N best hosts")
    host_state_ttl: float = Field(
        1.0,
        ge=0,
        description="seconds a scheduler reuses the host states it loaded, its own claims "
        "counted in (0: load them for every request)",
    )
    service_down_time: float = Field(60.0, description="seconds without a report: host is down")
    default_availability_zone: str = "nova"
    host_prefix: str = Field("compute", description="fake hosts are <prefix>1..<prefix>N")
    build_timeout: float = Field(600.0, description="a build in BUILD longer than this fails")
    lost_build_grace: float = Field(
        30.0,
        gt=0,
        description="seconds after a conductor starts on a broker when builds from before it "
        "that no conductor took are failed as lost (their message died with a process)",
    )
    max_list_limit: int = Field(1000, description="most servers one list page returns")
    allow_resize_to_same_host: bool = True
    vif_plugging_timeout: float = Field(
        300.0, ge=0, description="seconds a boot waits for network-vif-plugged; 0: no wait"
    )
    vif_plugging_is_fatal: bool = Field(True, description="a boot fails when ports stay down")
    reimage_timeout_per_gb: float = Field(
        20.0,
        gt=0,
        description="seconds per GB of the image a rebuild of a volume-backed server waits for "
        "volume-reimaged (Nova's)",
    )
    default_image: str = Field(
        "overcast-guest",
        description="`overcast up` builds the guest image and registers it (public) under "
        "this name; empty: neither",
    )
    guest_image_dir: Path | None = Field(
        None, description="where the built guest image is kept (default DATA_DIR/guest)"
    )
    shutdown_timeout: float = Field(10.0, description="seconds a guest may take to shut down")
    metadata_secret: str = Field(
        "", description="shared secret signing X-Instance-ID for proxied metadata requests"
    )
    console_token_ttl: int = Field(
        600, ge=1, description="seconds a remote console URL may be opened (Nova's token_ttl)"
    )
    qemu: QemuSettings = QemuSettings()


class SyncRealm(BaseModel):
    """A container sync realm (Swift's container-sync-realms.conf): clusters that agreed to
    sync containers with each other, and the keys signing their requests."""

    key: str = Field(description="the realm's key, signing X-Container-Sync-Auth")
    key2: str = Field("", description="a second key accepted while the first is rotated")
    clusters: dict[str, str] = Field(
        default_factory=dict,
        description="cluster name -> its object store endpoint up to /v1/ (http://HOST/v1/)",
    )


class ObjectStoreSettings(BaseModel):
    devices: int = Field(3, ge=1, description="device directories made on first start")
    part_power: int = Field(10, ge=1, le=24, description="the ring has 2**part_power partitions")
    replicas: int = Field(3, ge=1)
    min_part_hours: int = Field(1, ge=0, description="hours before a partition moves again")
    operator_roles: list[str] = ["admin", "member"]
    reseller_admin_role: str = "ResellerAdmin"
    replicator_interval: float = Field(30.0, description="seconds between replication passes")
    auditor_files_per_second: float = Field(20.0, description="objects audited per second")
    auditor_bytes_per_second: float = Field(10e6, description="bytes audited per second")
    auditor_interval: float = Field(
        30.0, description="seconds from an audit pass's start to the next"
    )
    updater_interval: float = Field(5.0, description="seconds between async pending sweeps")
    expirer_interval: float = Field(30.0, description="seconds between expirer passes")
    sync_interval: float = Field(10.0, gt=0, description="seconds between container sync passes")
    sync_realms: dict[str, SyncRealm] = Field(
        default_factory=dict,
        description="container sync realms by name (X-Container-Sync-To: //REALM/CLUSTER/...)",
    )
    sync_full_urls: bool = Field(
        True, description="whether X-Container-Sync-To may be a URL (http://HOST/v1/AUTH_a/c)"
    )
    sync_hosts: list[str] = Field(
        ["127.0.0.1"], description="the hosts an X-Container-Sync-To URL may name"
    )
    reclaim_age: float = Field(7 * 86400.0, description="seconds a tombstone is kept")
    s3_domain: str = Field("", description="virtual-hosted S3 buckets: <bucket>.<s3_domain>")
    server_url: str = Field(
        "",
        description="this node's object server as the ring names it (http://ADDRESS:PORT): "
        "the object role serves the node's devices there to other nodes",
    )
    file_processes: int = Field(
        8, ge=1, description="processes that read and write small objects on this node's devices"
    )
    conn_timeout: float = Field(1.0, gt=0, description="seconds to connect to an object server")
    node_timeout: float = Field(10.0, gt=0, description="seconds an object server may take")
    error_suppression_limit: int = Field(
        10, ge=1, description="failures in a row after which an object server is skipped"
    )
    error_suppression_interval: float = Field(
        60.0, ge=0, description="seconds an object server that kept failing is skipped"
    )


class DatabaseSettings(BaseModel):
    """The connection pool of each process on PostgreSQL or MariaDB (SQLite has none).

    Every process (each API worker, each agent) keeps its own pool, and the server's
    `max_connections` (100 on PostgreSQL) is shared by all of them: a process holds at most
    `pool_size + max_overflow` connections. One asyncio process rarely needs more than a few,
    since a session is held only while its statements run.
    """

    pool_size: int = Field(3, ge=1, description="connections each process keeps open")
    max_overflow: int = Field(
        2, ge=0, description="extra connections a process may open under load, closed after"
    )
    pool_timeout: float = Field(
        10.0, gt=0, description="seconds a request waits for a free connection before 503"
    )
    worker_pool_timeout: float = Field(
        60.0,
        gt=0,
        description="the same in a process without the API (conductor, scheduler, agents): only "
        "bus handlers wait there, whose callers wait as long (a burst of boots queues them)",
    )
    pool_recycle: int = Field(3600, description="seconds before a connection is reopened")
    ping_idle: float = Field(
        1.0,
        ge=0,
        description="seconds a pooled connection may rest before it is checked (one round "
        "trip) when taken again; one in steady use is not, and if the server dropped it the "
        "transaction fails (503) and the pool reconnects (0: check every time)",
    )


class BusSettings(BaseModel):
    """The AMQP bus (used when `bus_url` is an amqp:// URL)."""

    heartbeat: int = Field(10, ge=0, description="AMQP heartbeat, s; 0 disables")
    publish_timeout: float = Field(
        10.0, gt=0, description="how long a send waits for the broker before 503"
    )
    fanout_timeout: float = Field(
        2.0, gt=0, description="how long a fanout waits for every listener to confirm"
    )
    reconnect_max_delay: float = Field(5.0, gt=0, description="back-off ceiling, s")
    queue_expiry: float = Field(
        86400.0, gt=0, description="a server queue nobody uses is dropped after this, s"
    )
    prefetch: int = Field(256, ge=1, description="messages in flight per process")


class VolumeBackendSettings(BaseModel):
    """One back end of the volume agent (Cinder's `enabled_backends` section); its one pool
    is named after it."""

    driver: str = Field("file", description="volume driver: file")
    path: Path | None = Field(None, description="where its volumes live; data_dir/volumes/NAME")
    volume_backend_name: str | None = Field(None, description="what types ask for; the name")
    volume_format: str = Field("qcow2", description="qcow2 or raw")
    thin_provisioning: bool = True
    max_over_subscription_ratio: float = Field(20.0, gt=0)
    reserved_percentage: int = Field(0, ge=0, le=100)
    total_capacity_gb: float | None = Field(None, description="cap on the reported size")
    availability_zone: str | None = Field(None, description="default: volume's default zone")
    capabilities: dict[str, Any] = Field(default_factory=dict, description="extra capabilities")


class VolumeSettings(BaseModel):
    backends: dict[str, VolumeBackendSettings] = Field(
        default_factory=lambda: {"file": VolumeBackendSettings()}
    )
    default_availability_zone: str = "nova"
    default_volume_type: str = "__DEFAULT__"
    default_group_type: str | None = None
    scheduler_max_attempts: int = Field(3, ge=1)
    capacity_weight_multiplier: float = 1.0
    allocated_capacity_weight_multiplier: float = -1.0
    report_interval: float = 10.0
    service_down_time: float = 60.0
    quota_volumes: int = 10
    quota_snapshots: int = 10
    quota_gigabytes: int = 1000
    quota_backups: int = 10
    quota_backup_gigabytes: int = 1000
    quota_groups: int = 10
    per_volume_size_limit: int = -1
    backup_path: Path | None = Field(None, description="the file backup driver's directory")
    backup_chunk_size: int = Field(32 << 20, description="bytes per backup object")
    export_address: str = Field("127.0.0.1", description="NBD exports listen here")
    message_ttl: int = Field(2592000, description="seconds a user message is kept")
    max_list_limit: int = 1000


class LinuxBridgeSettings(BaseModel):
    namespace: str = Field("ocdp", description="the dataplane namespace (bridges, taps, VXLAN)")
    local_ip: str | None = Field(
        None,
        description="VXLAN tunnel address: this host's own (its VXLAN devices' UDP socket is "
        "then in the host's namespace, the devices in the dataplane's) or one on an interface "
        "the operator put in the dataplane namespace; none: no remote hosts",
    )
    physical_interface_mappings: dict[str, str] = Field(
        default_factory=dict,
        description="physnet: interface in the namespace (put there by the operator, e.g. a "
        "veth to a bridge of the host's) that flat networks of the physnet are bridged to; "
        "none: their bridges have no uplink",
    )


class NetworkSettings(BaseModel):
    driver: str = Field(
        "auto",
        description="dataplane driver: noop (IPAM and bindings only), linuxbridge, or auto: "
        "linuxbridge when the host can run it (as root), else noop",
    )
    linuxbridge: LinuxBridgeSettings = LinuxBridgeSettings()
    base_mac: str = Field("fa:16:3e:00:00:00", description="MACs keep its first three octets")
    global_physnet_mtu: int = Field(1500, ge=68)
    # VXLAN and GRE headers take 50 and 42 bytes of the physical MTU; VLAN and flat none.
    tenant_network_types: list[str] = Field(["vxlan"], description="self-service, in order")
    flat_networks: list[str] = Field(["physnet1", "public"], description="'*' allows any")
    network_vlan_ranges: list[str] = Field(
        ["physnet1:100:199"], description="physnet[:min:max]; a bare physnet allows any id"
    )
    vni_ranges: list[str] = Field(["1:65535"], description="VXLAN VNIs for self-service nets")
    default_availability_zones: list[str] = ["nova"]
    agent_down_time: float = Field(75.0, description="seconds without a heartbeat: agent down")
    report_interval: float = Field(30.0, description="agents report and resync this often, s")
    agent_hosts: list[str] = Field(
        default_factory=list, description="hosts whose agents run here; default: compute's"
    )
    dhcp_agent: bool = Field(
        True, description="this node's agents serve DHCP (off on compute nodes: network nodes do)"
    )
    l3_agent: bool = Field(
        True, description="this node's agents run routers (off on compute nodes, as dhcp_agent)"
    )
    max_fixed_ips_per_port: int = 5
    max_allocation_attempts: int = Field(20, ge=1, description="IPAM retries on a lost race")
    pagination_max_limit: int = Field(-1, description="largest page; -1 unlimited")
    default_quotas: dict[str, int] = Field(
        default_factory=lambda: {
            "network": 100,
            "subnet": 100,
            "subnetpool": -1,
            "port": 500,
            "router": 10,
            "floatingip": 50,
            "security_group": 10,
            "security_group_rule": 100,
            "rbac_policy": 10,
        }
    )
    bootstrap: bool = Field(True, description="create public, private and router1 on start")
    public_cidr: str = Field("203.0.113.0/24", description="the bootstrap external subnet")
    private_cidr: str = Field("10.0.0.0/26", description="the demo project's private subnet")
    metadata_url: str = Field(
        "",
        description="compute's metadata API the proxy forwards to; default BASE_URL/compute/metadata",
    )


class TraceSettings(BaseModel):
    """Tracing (see common/trace): workflows (boots, moves, volume creates, image uploads) are
    traced when `enabled`; any request is when it carries a signed X-Trace-Info header."""

    enabled: bool = Field(True, description="trace every workflow (off: only signed requests)")
    keep_per_resource: int = Field(10, ge=1, description="traces kept per resource, oldest dropped")
    max_spans: int = Field(2000, ge=10, description="spans kept per trace")
    flush_interval: float = Field(0.05, gt=0, description="seconds between writes of spans")
    hmac_keys: list[str] = Field(
        default_factory=list, description="keys a client may sign X-Trace-Info with"
    )
    otlp_url: str = Field(
        "", description="OTLP/HTTP traces URL (e.g. http://jaeger:4318/v1/traces)"
    )


class Settings(BaseSettings):
    """Everything an operator can set. Each service reads its own section."""

    model_config = SettingsConfigDict(
        env_prefix="OVERCAST_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 5000
    public_url: str | None = Field(None, description="base URL written into the catalog")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; SQLite in data_dir if unset"
    )
    bus_url: str | None = Field(
        None, description="amqp://user:password@host:port/vhost; the in-process bus if unset"
    )
    host_name: str = Field(
        default_factory=socket.gethostname,
        description="this node's name in service and agent lists (Nova's `host`)",
    )
    my_ip: str = Field(
        default_factory=lambda: local_address(),
        description="this node's address other nodes reach it at (migrations, tunnels, exports)",
    )
    log_level: str = "INFO"
    max_request_body: int = Field(114688, description="largest JSON body accepted, in bytes")
    region: str = "RegionOne"
    shutdown_timeout: float = Field(
        30.0, ge=0, description="seconds a stop waits for requests, then for work in flight"
    )

    # The credentials one service uses to act on another as a service (Neutron's `[nova]` and
    # Nova's `[neutron]` sections): port bindings, external events. Without a password the
    # bootstrap admin's (DATA_DIR/admin-password) is used, as in a single-node cloud.
    service_user: str = "admin"
    service_project: str = "admin"
    service_password: str | None = None
    identity: IdentitySettings = IdentitySettings()
    image: ImageSettings = ImageSettings()
    compute: ComputeSettings = ComputeSettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    network: NetworkSettings = NetworkSettings()

    volume: VolumeSettings = VolumeSettings()
    trace: TraceSettings = TraceSettings()

    @model_validator(mode="after")
    def _config_drive(self) -> Settings:
        qemu = self.compute.qemu
        if qemu.force_config_drive is None and self.network.driver != "auto":
            qemu.force_config_drive = self.network.driver == "noop"
        return self

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'overcast.db'}"

    @property
    def policy_dir(self) -> Path:
        return self.data_dir / "policy"


def load(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from an optional TOML file, the environment and overrides."""
    file_values: dict[str, Any] = {}
    path = config_file or _env_path("OVERCAST_CONFIG")
    if path is not None:
        with path.open("rb") as handle:
            file_values = tomllib.load(handle)
    from_env = Settings()
    explicit_env = from_env.model_dump(exclude_unset=True)
    merged = _deep_merge(file_values, explicit_env)
    merged = _deep_merge(merged, {k: v for k, v in overrides.items() if v is not None})
    settings = Settings.model_validate(merged)
    settings.data_dir = settings.data_dir.expanduser().resolve()
    return settings


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out

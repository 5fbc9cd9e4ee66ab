"""Eureka's data: instances, applications and the registry snapshot, with Eureka's JSON.

The JSON is what Eureka's Jackson codec writes and what Eureka clients (the Java client, Spring
Cloud, py_eureka_client) send: ``{"instance": {... "port": {"$": 8080, "@enabled": "true"} ...}}``
and ``{"applications": {"versions__delta": "3", "apps__hashcode": "UP_2_", "application": [...]}}``.
Parsing is lenient where clients differ (numbers as strings, ``overriddenstatus`` spelt either
way, one instance given as an object instead of a list). The XML form is in ``xmlcodec``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from matinee.discovery.errors import InvalidInstance

DEFAULT_DATA_CENTER_CLASS = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"
AMAZON_DATA_CENTER_CLASS = "com.netflix.appinfo.AmazonInfo"
EMPTY_METADATA_CLASS = "java.util.Collections$EmptyMap"
DEFAULT_ZONE = "default"


class InstanceStatus(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    STARTING = "STARTING"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> InstanceStatus:
        """Eureka reads an unknown status as UNKNOWN rather than failing."""
        try:
            return cls(str(value).upper())
        except ValueError:
            return cls.UNKNOWN


class ActionType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class DataCenterInfo:
    name: str = "MyOwn"
    class_name: str = DEFAULT_DATA_CENTER_CLASS
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """Lease settings the instance asks for, and the timestamps (ms) the registry fills in."""

    renewal_interval_in_secs: float = 30.0
    duration_in_secs: float = 90.0
    registration_timestamp: int = 0
    last_renewal_timestamp: int = 0
    eviction_timestamp: int = 0
    service_up_timestamp: int = 0


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One registered instance of an application, as Eureka describes it."""

    instance_id: str
    app: str
    host_name: str
    ip_addr: str
    port: int = 0
    port_enabled: bool = True
    secure_port: int = 443
    secure_port_enabled: bool = False
    status: InstanceStatus = InstanceStatus.UP
    overridden_status: InstanceStatus = InstanceStatus.UNKNOWN
    country_id: int = 1
    data_center: DataCenterInfo = field(default_factory=DataCenterInfo)
    lease: LeaseInfo = field(default_factory=LeaseInfo)
    metadata: Mapping[str, str] = field(default_factory=dict)
    app_group_name: str = ""
    home_page_url: str = ""
    status_page_url: str = ""
    health_check_url: str = ""
    secure_health_check_url: str = ""
    vip_address: str = ""
    secure_vip_address: str = ""
    is_coordinating_discovery_server: bool = False
    last_updated_timestamp: int = 0
    last_dirty_timestamp: int = 0
    action_type: ActionType | None = None
    asg_name: str = ""

    @classmethod
    def for_service(
        cls,
        app: str,
        instance_id: str,
        host: str,
        port: int,
        *,
        zone: str = DEFAULT_ZONE,
        status: InstanceStatus = InstanceStatus.UP,
        health_path: str = "/healthz",
        metadata: Mapping[str, str] | None = None,
        renewal_interval: float = 30.0,
        lease_duration: float = 90.0,
    ) -> InstanceInfo:
        """The description a matinee service instance registers with."""
        base = f"http://{host}:{port}"
        return cls(
            instance_id=instance_id,
            app=app.upper(),
            host_name=host,
            ip_addr=host,
            port=port,
            status=status,
            lease=LeaseInfo(renewal_interval, lease_duration),
            metadata={**(metadata or {}), "zone": zone},
            home_page_url=f"{base}/",
            status_page_url=f"{base}{health_path}",
            health_check_url=f"{base}{health_path}",
            vip_address=app.lower(),
            secure_vip_address=app.lower(),
        )

    @property
    def zone(self) -> str:
        """The availability zone: Amazon's when the data center says so, else ``metadata.zone``."""
        if self.data_center.name == "Amazon" and self.data_center.metadata.get("availability-zone"):
            return self.data_center.metadata["availability-zone"]
        return self.metadata.get("zone") or DEFAULT_ZONE

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the instance (the secure port when only that is enabled)."""
        host = self.host_name or self.ip_addr
        if not self.port_enabled and self.secure_port_enabled:
            return f"https://{host}:{self.secure_port}"
        return f"http://{host}:{self.port}"

    # -- JSON ------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The instance object (without the ``{"instance": ...}`` wrapper), in Eureka's order."""
        dc: dict[str, Any] = {"@class": self.data_center.class_name, "name": self.data_center.name}
        if self.data_center.metadata:
            dc["metadata"] = dict(self.data_center.metadata)
        out: dict[str, Any] = {
            "instanceId": self.instance_id,
            "hostName": self.host_name,
            "app": self.app,
            "ipAddr": self.ip_addr,
            "status": self.status.value,
            "overriddenStatus": self.overridden_status.value,
            "port": {"$": self.port, "@enabled": _bool_text(self.port_enabled)},
            "securePort": {"$": self.secure_port, "@enabled": _bool_text(self.secure_port_enabled)},
            "countryId": self.country_id,
            "dataCenterInfo": dc,
            "leaseInfo": {
                "renewalIntervalInSecs": _number(self.lease.renewal_interval_in_secs),
                "durationInSecs": _number(self.lease.duration_in_secs),
                "registrationTimestamp": self.lease.registration_timestamp,
                "lastRenewalTimestamp": self.lease.last_renewal_timestamp,
                "evictionTimestamp": self.lease.eviction_timestamp,
                "serviceUpTimestamp": self.lease.service_up_timestamp,
            },
            "metadata": dict(self.metadata) if self.metadata else {"@class": EMPTY_METADATA_CLASS},
        }
        if self.app_group_name:
            out["appGroupName"] = self.app_group_name
        out |= {
            "homePageUrl": self.home_page_url,
            "statusPageUrl": self.status_page_url,
            "healthCheckUrl": self.health_check_url,
            "secureHealthCheckUrl": self.secure_health_check_url,
            "vipAddress": self.vip_address,
            "secureVipAddress": self.secure_vip_address,
            "isCoordinatingDiscoveryServer": _bool_text(self.is_coordinating_discovery_server),
            "lastUpdatedTimestamp": str(self.last_updated_timestamp),
            "lastDirtyTimestamp": str(self.last_dirty_timestamp),
        }
        if self.action_type is not None:
            out["actionType"] = self.action_type.value
        if self.asg_name:
            out["asgName"] = self.asg_name
        return out

    @classmethod
    def from_json(cls, data: object) -> InstanceInfo:
        """Parse an instance object; accepts the ``{"instance": {...}}`` wrapper too."""
        if isinstance(data, dict) and set(data) == {"instance"}:
            data = data["instance"]
        if not isinstance(data, dict):
            raise InvalidInstance("an instance must be a JSON object")
        port, port_enabled = _port(data.get("port"), 0, default_enabled=True)
        secure_port, secure_enabled = _port(data.get("securePort"), 443, default_enabled=False)
        overridden = data.get("overriddenStatus", data.get("overriddenstatus"))
        action = data.get("actionType")
        return cls(
            instance_id=_text(data.get("instanceId")),
            app=_text(data.get("app")).upper(),
            host_name=_text(data.get("hostName")),
            ip_addr=_text(data.get("ipAddr")),
            port=port,
            port_enabled=port_enabled,
            secure_port=secure_port,
            secure_port_enabled=secure_enabled,
            status=InstanceStatus.parse(data.get("status", "UP")),
            overridden_status=InstanceStatus.parse(overridden or "UNKNOWN"),
            country_id=_int(data.get("countryId"), 1),
            data_center=_data_center(data.get("dataCenterInfo")),
            lease=_lease(data.get("leaseInfo")),
            metadata=_metadata(data.get("metadata")),
            app_group_name=_text(data.get("appGroupName")).upper(),
            home_page_url=_text(data.get("homePageUrl")),
            status_page_url=_text(data.get("statusPageUrl")),
            health_check_url=_text(data.get("healthCheckUrl")),
            secure_health_check_url=_text(data.get("secureHealthCheckUrl")),
            vip_address=_text(data.get("vipAddress")),
            secure_vip_address=_text(data.get("secureVipAddress")),
            is_coordinating_discovery_server=_bool(data.get("isCoordinatingDiscoveryServer")),
            last_updated_timestamp=_int(data.get("lastUpdatedTimestamp"), 0),
            last_dirty_timestamp=_int(data.get("lastDirtyTimestamp"), 0),
            action_type=_action(action),
            asg_name=_text(data.get("asgName")),
        )

    def validate(self) -> None:
        """Raise :class:`InvalidInstance` for what Eureka's register endpoint refuses (400)."""
        for value, what in (
            (self.instance_id, "instanceId"),
            (self.host_name, "hostName"),
            (self.ip_addr, "ipAddr"),
            (self.app, "app"),
            (self.data_center.name, "dataCenterInfo name"),
        ):
            if not value:
                raise InvalidInstance(f"the registration has no {what}")


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    instances: tuple[InstanceInfo, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "instance": [i.to_json() for i in self.instances]}

    @classmethod
    def from_json(cls, data: object) -> Application:
        if isinstance(data, dict) and set(data) == {"application"}:
            data = data["application"]
        if not isinstance(data, dict):
            raise InvalidInstance("an application must be a JSON object")
        instances = tuple(InstanceInfo.from_json(i) for i in _as_list(data.get("instance")))
        return cls(_text(data.get("name")).upper(), instances)


@dataclass(frozen=True, slots=True)
class Applications:
    """A registry snapshot (full or delta): a version, the reconcile hash code, the apps."""

    version_delta: int = 1
    apps_hashcode: str = ""
    applications: tuple[Application, ...] = ()

    def get(self, app: str) -> Application | None:
        name = app.upper()
        return next((a for a in self.applications if a.name == name), None)

    def instances(self) -> Iterator[InstanceInfo]:
        for application in self.applications:
            yield from application.instances

    def to_json(self) -> dict[str, Any]:
        return {
            "applications": {
                "versions__delta": str(self.version_delta),
                "apps__hashcode": self.apps_hashcode,
                "application": [a.to_json() for a in self.applications],
            }
        }

    @classmethod
    def from_json(cls, data: object) -> Applications:
        if isinstance(data, dict) and "applications" in data:
            data = data["applications"]
        if not isinstance(data, dict):
            raise InvalidInstance("a registry snapshot must be a JSON object")
        apps = tuple(Application.from_json(a) for a in _as_list(data.get("application")))
        return cls(
            version_delta=_int(data.get("versions__delta"), 1),
            apps_hashcode=_text(data.get("apps__hashcode")),
            applications=apps,
        )

    @classmethod
    def of(cls, instances: Iterable[InstanceInfo], *, version: int = 1) -> Applications:
        """Group instances by application (sorted), with the reconcile hash code of them all."""
        grouped: dict[str, list[InstanceInfo]] = {}
        for info in instances:
            grouped.setdefault(info.app, []).append(info)
        apps = tuple(
            Application(name, tuple(sorted(found, key=lambda i: i.instance_id)))
            for name, found in sorted(grouped.items())
        )
        every = (i for a in apps for i in a.instances)
        return cls(version, reconcile_hashcode(every), apps)


def reconcile_hashcode(instances: Iterable[InstanceInfo]) -> str:
    """Eureka's apps hash code: instance counts per status, sorted by status, e.g. ``DOWN_1_UP_2_``.

    Clients compare it with the hash code of their cache after applying a delta, and fetch the
    full registry when they differ.
    """
    counts = Counter(info.status.value for info in instances)
    return "".join(f"{status}_{counts[status]}_" for status in sorted(counts))


# -- lenient field readers -------------------------------------------------------------------


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _int(value: object, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(float(str(value)))
    except ValueError as exc:
        raise InvalidInstance(f"{value!r} is not a number") from exc


def _float(value: object, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(str(value))
    except ValueError as exc:
        raise InvalidInstance(f"{value!r} is not a number") from exc


def _bool(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action(value: object) -> ActionType | None:
    if not value:
        return None
    try:
        return ActionType(str(value).upper())
    except ValueError as exc:
        raise InvalidInstance(f"{value!r} is not an action type") from exc


def _port(value: object, default: int, *, default_enabled: bool) -> tuple[int, bool]:
    if isinstance(value, dict):
        enabled = value.get("@enabled")
        return _int(value.get("$"), default), default_enabled if enabled is None else _bool(enabled)
    return _int(value, default), default_enabled


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _text(v) for k, v in value.items() if k != "@class"}


def _data_center(value: object) -> DataCenterInfo:
    if not isinstance(value, dict):
        return DataCenterInfo(name="")
    return DataCenterInfo(
        name=_text(value.get("name")),
        class_name=_text(value.get("@class")) or DEFAULT_DATA_CENTER_CLASS,
        metadata=_metadata(value.get("metadata")),
    )


def _lease(value: object) -> LeaseInfo:
    if not isinstance(value, dict):
        return LeaseInfo()
    return LeaseInfo(
        renewal_interval_in_secs=_float(value.get("renewalIntervalInSecs"), 30.0),
        duration_in_secs=_float(value.get("durationInSecs"), 90.0),
        registration_timestamp=_int(value.get("registrationTimestamp"), 0),
        last_renewal_timestamp=_int(
            value.get("lastRenewalTimestamp", value.get("renewalTimestamp")), 0
        ),
        eviction_timestamp=_int(value.get("evictionTimestamp"), 0),
        service_up_timestamp=_int(value.get("serviceUpTimestamp"), 0),
    )

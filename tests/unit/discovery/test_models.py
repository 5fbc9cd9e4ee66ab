"""Eureka's JSON and XML shapes: what Eureka and py_eureka_client send and expect."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest
from py_eureka_client import eureka_basic

from matinee.discovery import xmlcodec
from matinee.discovery.errors import InvalidInstance
from matinee.discovery.models import (
    ActionType,
    Application,
    Applications,
    InstanceInfo,
    InstanceStatus,
    LeaseInfo,
    reconcile_hashcode,
)

# What py_eureka_client 0.13 POSTs to /eureka/apps/{app} (its EurekaClient builds this dict).
PY_EUREKA_REGISTRATION = {
    "instance": {
        "instanceId": "10.0.0.7:catalog:8080",
        "hostName": "box",
        "app": "CATALOG",
        "ipAddr": "10.0.0.7",
        "port": {"$": 8080, "@enabled": "true"},
        "securePort": {"$": 9443, "@enabled": "false"},
        "countryId": 1,
        "dataCenterInfo": {
            "@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
            "name": "MyOwn",
        },
        "leaseInfo": {
            "renewalIntervalInSecs": 30,
            "durationInSecs": 90,
            "registrationTimestamp": 0,
            "lastRenewalTimestamp": 0,
            "evictionTimestamp": 0,
            "serviceUpTimestamp": 0,
        },
        "metadata": {"management.port": "8080", "zone": "zone-a"},
        "homePageUrl": "http://box:8080/",
        "statusPageUrl": "http://box:8080/info",
        "healthCheckUrl": "http://box:8080/health",
        "secureHealthCheckUrl": "",
        "vipAddress": "catalog",
        "secureVipAddress": "catalog",
        "isCoordinatingDiscoveryServer": "false",
        "status": "UP",
        "overriddenstatus": "UNKNOWN",
        "lastUpdatedTimestamp": "1700000000000",
        "lastDirtyTimestamp": "1700000000000",
    }
}

# A registry answer as Eureka's Jackson codec writes it (one app, instance list, empty metadata).
EUREKA_APPLICATIONS = """{"applications":{"versions__delta":"7","apps__hashcode":"UP_1_",
"application":[{"name":"PLAYBACK","instance":[{"instanceId":"p-1","hostName":"10.0.0.9",
"app":"PLAYBACK","ipAddr":"10.0.0.9","status":"UP","overriddenStatus":"UNKNOWN",
"port":{"$":7001,"@enabled":"true"},"securePort":{"$":7002,"@enabled":"false"},"countryId":1,
"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
"name":"MyOwn"},"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90,
"registrationTimestamp":1700000000000,"lastRenewalTimestamp":1700000030000,
"evictionTimestamp":0,"serviceUpTimestamp":1700000000000},
"metadata":{"@class":"java.util.Collections$EmptyMap"},"homePageUrl":"http://10.0.0.9:7001/",
"statusPageUrl":"http://10.0.0.9:7001/info","healthCheckUrl":"http://10.0.0.9:7001/health",
"vipAddress":"playback","secureVipAddress":"playback","isCoordinatingDiscoveryServer":"false",
"lastUpdatedTimestamp":"1700000000000","lastDirtyTimestamp":"1699999999000",
"actionType":"ADDED"}]}]}}"""


def sample(instance_id: str = "catalog-1", **changes: Any) -> InstanceInfo:
    info = InstanceInfo.for_service("catalog", instance_id, "127.0.0.1", 8001, zone="zone-a")
    return replace(info, **{"last_dirty_timestamp": 1_700_000_000_000, **changes})


def test_py_eureka_client_registration_parses() -> None:
    info = InstanceInfo.from_json(PY_EUREKA_REGISTRATION)
    assert info.instance_id == "10.0.0.7:catalog:8080"
    assert info.app == "CATALOG"
    assert (info.port, info.port_enabled) == (8080, True)
    assert (info.secure_port, info.secure_port_enabled) == (9443, False)
    assert info.status is InstanceStatus.UP
    assert info.overridden_status is InstanceStatus.UNKNOWN
    assert info.lease.duration_in_secs == 90
    assert info.last_dirty_timestamp == 1_700_000_000_000
    assert info.zone == "zone-a"
    assert info.metadata["management.port"] == "8080"
    info.validate()


def test_eureka_registry_json_parses() -> None:
    apps = Applications.from_json(json.loads(EUREKA_APPLICATIONS))
    assert (apps.version_delta, apps.apps_hashcode) == (7, "UP_1_")
    (info,) = apps.get("playback").instances  # type: ignore[union-attr]
    assert info.metadata == {}
    assert info.action_type is ActionType.ADDED
    assert info.lease.last_renewal_timestamp == 1_700_000_030_000
    assert info.base_url == "http://10.0.0.9:7001"
    assert info.zone == "default"


def test_single_instance_object_and_legacy_names_are_accepted() -> None:
    raw = json.loads(EUREKA_APPLICATIONS)
    app = raw["applications"]["application"][0]
    app["instance"] = app["instance"][0]  # some Eureka versions write one instance as an object
    app["instance"]["overriddenstatus"] = app["instance"].pop("overriddenStatus")
    app["instance"]["leaseInfo"]["renewalTimestamp"] = app["instance"]["leaseInfo"].pop(
        "lastRenewalTimestamp"
    )
    raw["applications"]["application"] = app
    apps = Applications.from_json(raw)
    (info,) = apps.instances()
    assert info.lease.last_renewal_timestamp == 1_700_000_030_000


def test_json_round_trip_keeps_every_field() -> None:
    info = sample(
        status=InstanceStatus.OUT_OF_SERVICE,
        overridden_status=InstanceStatus.OUT_OF_SERVICE,
        action_type=ActionType.MODIFIED,
        lease=LeaseInfo(0.5, 1.5, 1, 2, 3, 4),
        app_group_name="BACKEND",
        asg_name="catalog-v001",
    )
    assert InstanceInfo.from_json(json.loads(json.dumps({"instance": info.to_json()}))) == info
    apps = Applications.of([info, sample("catalog-2")], version=9)
    assert Applications.from_json(json.loads(json.dumps(apps.to_json()))) == apps


def test_json_has_eureka_wire_shapes() -> None:
    out = sample().to_json()
    assert out["port"] == {"$": 8001, "@enabled": "true"}
    assert out["securePort"] == {"$": 443, "@enabled": "false"}
    assert out["dataCenterInfo"]["@class"].endswith("InstanceInfo$DefaultDataCenterInfo")
    assert out["lastDirtyTimestamp"] == "1700000000000"
    assert out["isCoordinatingDiscoveryServer"] == "false"
    assert out["leaseInfo"]["durationInSecs"] == 90
    empty = sample(metadata={}).to_json()
    assert empty["metadata"] == {"@class": "java.util.Collections$EmptyMap"}
    wrapper = Applications.of([sample()], version=3).to_json()["applications"]
    assert wrapper["versions__delta"] == "3"
    assert wrapper["apps__hashcode"] == "UP_1_"
    assert wrapper["application"][0]["name"] == "CATALOG"


def test_reconcile_hashcode_counts_statuses_in_eureka_order() -> None:
    infos = [
        sample("a"),
        sample("b"),
        sample("c", status=InstanceStatus.DOWN),
        sample("d", status=InstanceStatus.UNKNOWN),
        sample("e", status=InstanceStatus.OUT_OF_SERVICE),
    ]
    assert reconcile_hashcode(infos) == "DOWN_1_OUT_OF_SERVICE_1_UNKNOWN_1_UP_2_"
    assert reconcile_hashcode([]) == ""


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("instanceId", "", "instanceId"),
        ("hostName", None, "hostName"),
        ("ipAddr", "", "ipAddr"),
        ("app", "", "app"),
    ],
)
def test_registration_without_required_fields_is_invalid(
    field: str, value: object, reason: str
) -> None:
    raw = json.loads(json.dumps(PY_EUREKA_REGISTRATION))
    raw["instance"][field] = value
    with pytest.raises(InvalidInstance, match=reason):
        InstanceInfo.from_json(raw).validate()


def test_garbage_is_invalid() -> None:
    with pytest.raises(InvalidInstance):
        InstanceInfo.from_json(["not", "an", "object"])
    with pytest.raises(InvalidInstance):
        InstanceInfo.from_json({"instanceId": "x", "port": {"$": "eighty"}})


def test_xml_is_what_py_eureka_client_parses() -> None:
    info = sample(metadata={"zone": "zone-a", "management.port": "8001", "bad key": "x"})
    apps = Applications.of([info, sample("catalog-2", status=InstanceStatus.DOWN)], version=5)
    root = ET.fromstring(xmlcodec.document(xmlcodec.applications_xml(apps)))  # noqa: S314 - our own output
    parsed = eureka_basic._build_applications(root)
    assert parsed.versionsDelta == "5"
    assert parsed.appsHashcode == "DOWN_1_UP_1_"
    app = parsed.get_application("catalog")
    assert sorted(i.instanceId for i in app.instances) == ["catalog-1", "catalog-2"]
    one = app.get_instance("catalog-1")
    assert (one.port.port, one.port.enabled) == (8001, True)
    assert (one.securePort.port, one.securePort.enabled) == (443, False)
    assert one.dataCenterInfo.className.endswith("DefaultDataCenterInfo")
    assert one.metadata == {"zone": "zone-a", "management.port": "8001"}
    assert one.zone == "zone-a"
    assert one.leaseInfo.durationInSecs == 90
    assert one.lastDirtyTimestamp == 1_700_000_000_000
    assert [i.instanceId for i in app.up_instances] == ["catalog-1"]


def test_xml_single_instance_and_fractional_lease() -> None:
    info = sample(lease=LeaseInfo(0.2, 0.5), metadata={})
    root = ET.fromstring(xmlcodec.document(xmlcodec.instance_xml(info)))  # noqa: S314 - our own output
    parsed = eureka_basic._build_instance(root)
    assert parsed.leaseInfo.durationInSecs == 1  # XML readers want whole seconds
    assert parsed.metadata == {}
    assert parsed.status == "UP"
    app_root = ET.fromstring(xmlcodec.application_xml(Application("CATALOG", (info,))))  # noqa: S314 - our own output
    assert eureka_basic._build_application(app_root).name == "CATALOG"

"""Eureka's XML form of the registry, as its XStream converters write it.

Eureka answers XML unless the ``Accept`` header mentions json, and some clients depend on it:
py_eureka_client sends no ``Accept`` header and parses every registry read as XML (``<port
enabled="true">8080</port>``, ``<dataCenterInfo class="...">``). Only writing is needed; clients
register with JSON.
"""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape, quoteattr

from matinee.discovery.models import (
    EMPTY_METADATA_CLASS,
    Application,
    Applications,
    InstanceInfo,
)

_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _whole_seconds(value: float) -> int:
    """XML readers parse lease settings as integers; a fractional lease is rounded up."""
    return max(1, math.ceil(value))


def _metadata(name: str, metadata: dict[str, str]) -> str:
    if not metadata:
        return f"<{name} class={quoteattr(EMPTY_METADATA_CLASS)}/>"
    # XML element names cannot hold every string; such keys are left out of the XML form.
    body = "".join(_el(k, v) for k, v in metadata.items() if _XML_NAME.match(k))
    return f"<{name}>{body}</{name}>"


def instance_xml(info: InstanceInfo) -> str:
    dc = info.data_center
    dc_meta = _metadata("metadata", dict(dc.metadata)) if dc.metadata else ""
    lease = info.lease
    parts = [
        "<instance>",
        _el("instanceId", info.instance_id),
        _el("hostName", info.host_name),
        _el("app", info.app),
        _el("ipAddr", info.ip_addr),
        _el("status", info.status.value),
        _el("overriddenstatus", info.overridden_status.value),
        f'<port enabled="{_bool(info.port_enabled)}">{info.port}</port>',
        f'<securePort enabled="{_bool(info.secure_port_enabled)}">{info.secure_port}</securePort>',
        _el("countryId", info.country_id),
        f"<dataCenterInfo class={quoteattr(dc.class_name)}>{_el('name', dc.name)}{dc_meta}"
        "</dataCenterInfo>",
        "<leaseInfo>",
        _el("renewalIntervalInSecs", _whole_seconds(lease.renewal_interval_in_secs)),
        _el("durationInSecs", _whole_seconds(lease.duration_in_secs)),
        _el("registrationTimestamp", lease.registration_timestamp),
        _el("lastRenewalTimestamp", lease.last_renewal_timestamp),
        _el("evictionTimestamp", lease.eviction_timestamp),
        _el("serviceUpTimestamp", lease.service_up_timestamp),
        "</leaseInfo>",
        _metadata("metadata", dict(info.metadata)),
    ]
    if info.app_group_name:
        parts.append(_el("appGroupName", info.app_group_name))
    parts += [
        _el("homePageUrl", info.home_page_url),
        _el("statusPageUrl", info.status_page_url),
        _el("healthCheckUrl", info.health_check_url),
    ]
    if info.secure_health_check_url:
        parts.append(_el("secureHealthCheckUrl", info.secure_health_check_url))
    parts += [
        _el("vipAddress", info.vip_address),
        _el("secureVipAddress", info.secure_vip_address),
        _el("isCoordinatingDiscoveryServer", _bool(info.is_coordinating_discovery_server)),
        _el("lastUpdatedTimestamp", info.last_updated_timestamp),
        _el("lastDirtyTimestamp", info.last_dirty_timestamp),
    ]
    if info.action_type is not None:
        parts.append(_el("actionType", info.action_type.value))
    if info.asg_name:
        parts.append(_el("asgName", info.asg_name))
    parts.append("</instance>")
    return "".join(parts)


def application_xml(app: Application) -> str:
    body = "".join(instance_xml(i) for i in app.instances)
    return f"<application>{_el('name', app.name)}{body}</application>"


def applications_xml(apps: Applications) -> str:
    body = "".join(application_xml(a) for a in apps.applications)
    return (
        f"<applications>{_el('versions__delta', apps.version_delta)}"
        f"{_el('apps__hashcode', apps.apps_hashcode)}{body}</applications>"
    )


def document(fragment: str) -> bytes:
    """A complete XML document around one of the fragments above."""
    return f"{DECLARATION}{fragment}".encode()

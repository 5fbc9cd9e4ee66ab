"""Which region (and edge cluster) a client is in, from its address.

Rules map CIDR prefixes to regions; the longest matching prefix wins. Loopback, private and
link-local addresses (a laptop, a LAN, a test) are in the default region; a public address no
rule matches is in ``unmatched_region`` (None by default: no edge is near it, so it gets the
CDN tier and the origin).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from matinee.services.steering.config import SteeringConfig

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class Place:
    """Where a client is: its region (None: no region has edges near it) and, when a rule
    says so, the edge cluster of its network."""

    region: str | None
    cluster: str | None = None


class RegionMap:
    """Client address -> :class:`Place`, by longest prefix match."""

    def __init__(self, config: SteeringConfig) -> None:
        rules = [(net, rule.name, rule.cluster) for rule in config.regions for net in rule.cidrs]
        self._rules: list[tuple[Network, str, str | None]] = sorted(
            rules, key=lambda r: -r[0].prefixlen
        )
        self.default = Place(config.default_region)
        self.unmatched = Place(config.unmatched_region)

    def place_of(self, client_ip: str | None) -> Place:
        if not client_ip:
            return self.default
        try:
            address: IPv4Address | IPv6Address = ip_address(client_ip.strip())
        except ValueError:
            return self.default
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        for net, region, cluster in self._rules:
            if address.version == net.version and address in net:
                return Place(region, cluster)
        if address.is_loopback or address.is_private or address.is_link_local:
            return self.default
        return self.unmatched

    def region_of(self, client_ip: str | None) -> str | None:
        return self.place_of(client_ip).region

"""The third-party CDN tier: nginx as a pull-through cache in front of the origin.

In production this tier is whatever CDN is bought; on one machine it is nginx with
``proxy_cache``, which a fleet starts (``matinee up --topology fleet``) on ``settings.cdn_port``
beside the edges. Steering lists it after the edges of the client's region (``kind: "cdn"``)
while its ``/readyz`` answers.

How it treats ``GET /t/<token>/media/assets/<id>/<file>``:

* **Every request's token is checked**, by the origin: an ``auth_request`` subrequest sends
  ``HEAD`` of the same URL to the origin (which answers 200, 403 for a bad or expired token,
  400 for an unsafe path), and its answer is cached for ``auth_seconds`` per token and folder,
  so a player's segments cost the origin one small request per folder every few seconds. An
  answer other than 2xx/401/403 (a missing object, an unsafe path) makes nginx hand the request
  to the origin uncached, which then answers it properly.
* **The cache key is the object, not the URL**: every viewer's token differs, and a segment is
  the same bytes for all of them. Segments (``Cache-Control: immutable`` at the origin) are
  cached; manifests are ``private`` (cut to one viewer's height cap) and always go to the
  origin. nginx fetches whole objects (it drops ``Range`` upstream when caching) and serves
  ranges from its cache; concurrent misses for one object wait for one fetch
  (``proxy_cache_lock``).
* nginx runs as one process (``master_process off``): the supervisor that starts it may be
  killed, and a master's workers would outlive it holding the port.

``python -m matinee.cdn.thirdparty --data-dir D --port P --origin http://127.0.0.1:8000`` writes
``D/cdn/nginx.conf`` and turns into nginx (exec), so the fleet's supervisor watches and stops
nginx itself.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from matinee.cdn import nginx
from matinee.errors import MatineeError
from matinee.fleet.supervisor import InstanceSpec
from matinee.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "cdn"  # the fleet's name for it (state file, logs)


class CdnTierError(MatineeError):
    """The CDN tier cannot be started (no nginx, a bad origin)."""


@dataclass(frozen=True)
class CdnTierConfig:
    """``root``: its folder (config, cache, logs); ``origins``: ``host:port`` of each origin."""

    root: Path
    port: int
    origins: tuple[str, ...]
    host: str = "127.0.0.1"
    cache_bytes: int = 4 << 30
    auth_seconds: int = 10
    keepalive: int = 32

    @property
    def conf_path(self) -> Path:
        return self.root / "nginx.conf"


def origin_address(url: str) -> str:
    """``host:port`` of an origin base URL (``http://127.0.0.1:8000`` -> ``127.0.0.1:8000``)."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    if not parts.hostname or parts.scheme not in ("", "http"):
        raise CdnTierError(f"the CDN tier's origin must be an http:// address, not {url!r}")
    return f"{parts.hostname}:{parts.port or 80}"


def render(config: CdnTierConfig) -> str:
    """The nginx.conf of the tier."""
    root = config.root
    servers = "\n".join(f"        server {o};" for o in config.origins)
    return f"""# Written by matinee (matinee.cdn.thirdparty); rewritten at every start.
{nginx.preamble(root)}
http {{
    access_log {root}/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30s;
    default_type application/octet-stream;
{nginx.scratch_paths(root)}
    proxy_cache_path {root}/cache levels=1:2 keys_zone=media:32m
                     max_size={config.cache_bytes} inactive=7d use_temp_path=off;
    proxy_cache_path {root}/auth levels=1 keys_zone=auth:8m
                     max_size=64m inactive=1m use_temp_path=off;

    upstream origin {{
{servers}
        keepalive {config.keepalive};
    }}

    server {{
        listen {config.host}:{config.port};

        location = /readyz {{
            default_type text/plain;
            return 200 "ok\\n";
        }}

        # The object's key (no token) names it in the cache: /t/<token>/<object>.
        location ~ ^/t/(?<token>[^/]+)/(?<object>media/assets/(?<folder>.+/)?[^/]+)$ {{
            auth_request /_auth;
            error_page 500 = @uncached;
            proxy_pass http://origin$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache media;
            proxy_cache_key $object;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 30s;
            proxy_cache_valid 200 7d;
            add_header X-Cache-Status $upstream_cache_status always;
        }}

        # The origin checks the token (HEAD of the same URL); its answer is kept a few
        # seconds per token and folder.
        location = /_auth {{
            internal;
            proxy_pass http://origin$request_uri;
            proxy_method HEAD;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Range "";
            proxy_cache auth;
            proxy_cache_convert_head off;
            proxy_cache_methods GET HEAD;
            proxy_cache_key "$token $folder";
            proxy_cache_valid 200 401 403 {config.auth_seconds}s;
        }}

        location @uncached {{
            proxy_pass http://origin$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}

        location / {{
            return 404;
        }}
    }}
}}
"""


def prepare(config: CdnTierConfig) -> Path:
    """Write the config and make the folders nginx needs; returns the config's path."""
    for sub in ("cache", "auth"):
        (config.root / sub).mkdir(parents=True, exist_ok=True)
    nginx.make_scratch(config.root)
    config.conf_path.write_text(render(config))
    return config.conf_path


def nginx_argv(config: CdnTierConfig) -> list[str]:
    """The nginx command for a prepared config."""
    return nginx.argv(config.root, config.conf_path)


def command(
    data_dir: Path, port: int, origins: Sequence[str], host: str = "127.0.0.1"
) -> list[str]:
    """The argv a supervisor runs for the tier (it appends ``--instance-id``)."""
    argv = [sys.executable, "-m", "matinee.cdn.thirdparty", "--data-dir", str(data_dir)]
    argv += ["--host", host, "--port", str(port)]
    for origin in origins:
        argv += ["--origin", origin]
    return argv


def fleet_spec(settings: Settings) -> InstanceSpec | None:
    """The fleet's CDN tier on ``settings.cdn_port`` in front of the gateways, or None: no
    port, a CDN of someone else's (``settings.cdn_url``), a fleet without steering (nothing
    would send players to it), or no nginx (logged)."""
    wanted = settings.service_list
    if not settings.cdn_port or settings.cdn_url or (wanted and "steering" not in wanted):
        return None
    try:
        nginx.nginx_binary()
    except nginx.NginxMissing as exc:
        log.warning("no third-party CDN tier: %s", exc)
        return None
    origins = [f"http://{settings.host}:{settings.port + i}" for i in range(settings.replicas)]
    argv = command(settings.data_dir, settings.cdn_port, origins, settings.host)
    return InstanceSpec(SERVICE, 0, settings.cdn_port, settings.zone_list[0], tuple(argv))


def with_cdn_tier(plan: list[InstanceSpec], settings: Settings) -> list[InstanceSpec]:
    """``plan`` with the CDN tier started just before the gateways (it needs no one to be up:
    nginx reaches the origin only when asked)."""
    spec = fleet_spec(settings)
    if spec is None:
        return plan
    first_gateway = next((i for i, s in enumerate(plan) if s.service == "gateway"), len(plan))
    return [*plan[:first_gateway], spec, *plan[first_gateway:]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m matinee.cdn.thirdparty",
        description="Write the CDN tier's nginx.conf under DATA_DIR/cdn and run nginx.",
    )
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--origin", action="append", required=True, help="repeatable")
    parser.add_argument("--cache-bytes", type=int, default=4 << 30)
    parser.add_argument("--instance-id", default="", help="ignored (the supervisor's)")
    args = parser.parse_args(argv)
    try:
        config = CdnTierConfig(
            root=args.data_dir / "cdn",
            port=args.port,
            origins=tuple(origin_address(o) for o in args.origin),
            host=args.host,
            cache_bytes=args.cache_bytes,
        )
        prepare(config)
        cmd = nginx_argv(config)
    except MatineeError as exc:
        print(f"matinee cdn: {exc}", file=sys.stderr)
        return 1
    os.execv(cmd[0], cmd)  # noqa: S606 - nginx takes this process over; the argv is ours
    return 0  # not reached: execv only returns by raising


if __name__ == "__main__":
    raise SystemExit(main())

"""What every nginx that matinee writes a config for has in common.

Two nginx run inside matinee: the third-party CDN tier (:mod:`matinee.cdn.thirdparty`) and the
hit path in front of an edge appliance (:mod:`matinee.cdn.edge.front`). Both run as one process
(``master_process off``, ``daemon off``: a supervisor watches nginx itself, and no orphaned
worker can outlive it holding the port), keep their files under one folder, and are started with
that folder as nginx's prefix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from matinee.errors import MatineeError

NGINX = "nginx"


class NginxMissing(MatineeError):
    """nginx (or a module a config needs) is not installed."""


def nginx_binary() -> str:
    found = shutil.which(NGINX) or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
    )
    if found is None:
        raise NginxMissing("nginx is not installed (apt-get install nginx-light)")
    return found


def preamble(root: Path) -> str:
    """The top of a config: one process in the foreground, pid and error log, compiled
    regular expressions."""
    return f"""daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
pcre_jit on;

events {{
    worker_connections 4096;
}}
"""


def scratch_paths(root: Path) -> str:
    """``http {}`` lines that keep nginx's temp files under ``root/scratch`` (which
    :func:`make_scratch` creates), not in the system's folders."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    return "".join(f"    {kind}_temp_path {root}/scratch/{kind};\n" for kind in kinds)


def make_scratch(root: Path) -> None:
    (root / "scratch").mkdir(parents=True, exist_ok=True)


def argv(root: Path, conf: Path) -> list[str]:
    """The nginx command for a config under ``root`` (``-e``: its startup log there too)."""
    return [nginx_binary(), "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")]

"""The edge appliance (Open Connect's OCA role): a cache server process that keeps media on
its own disk under a byte capacity, serves hits without copying them through Python, fills
misses from its cluster's peers and then the origin, and reports to steering.

    python -m matinee.cdn.edge --port 8200 --root /var/cache/matinee-edge \\
        --capacity-bytes 10000000000 --cluster ix-1 --region eu --origin http://origin:8000
"""

from __future__ import annotations

from matinee.cdn.edge.app import EdgeApp
from matinee.cdn.edge.appliance import Appliance
from matinee.cdn.edge.config import EDGE_APP, EdgeConfig
from matinee.cdn.edge.registration import edge_instance

__all__ = ["EDGE_APP", "Appliance", "EdgeApp", "EdgeConfig", "edge_instance"]

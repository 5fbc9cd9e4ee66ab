"""An app using py_eureka_client (a Eureka client from PyPI), driven by the integration test.

Run as ``python py_eureka_app.py EUREKA_URL PORT``. It registers as LEGACY, heartbeats every
second, and prints one JSON line per step; the test answers on stdin with the next command:

* (start) -> ``{"event": "started", "catalog": [...]}``: CATALOG instances after the full fetch;
* ``wait N`` -> ``{"event": "seen", "catalog": [...]}``: once N CATALOG instances are up (deltas);
* ``call`` -> ``{"event": "called", "body": ...}``: a GET through py_eureka_client's balancer;
* ``stop`` -> ``{"event": "stopped"}``: marks itself DOWN and cancels, then exits.

py_eureka_client's heartbeat thread never ends on its own, so it runs in this process, not the
test's.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from py_eureka_client import eureka_client


def say(**event: Any) -> None:
    print(json.dumps(event), flush=True)  # stdout is the channel to the test


def up_catalog(client: Any) -> list[str]:
    app = client.applications.get_application("CATALOG")
    return sorted(i.instanceId for i in app.up_instances)


async def main(url: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    client = eureka_client.EurekaClient(
        eureka_server=url,
        app_name="legacy",
        instance_id="legacy-1",
        instance_host="127.0.0.1",
        instance_ip="127.0.0.1",
        instance_port=port,
        renewal_interval_in_secs=1,
        duration_in_secs=30,
        metadata={"zone": "zone-a"},
    )
    await client.start()
    say(event="started", catalog=up_catalog(client))
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        command = line[0] if line else "stop"
        if command == "wait":
            for _ in range(75):  # up to 15 s
                if len(up_catalog(client)) >= int(line[1]):
                    break
                await asyncio.sleep(0.2)
            say(event="seen", catalog=up_catalog(client))
        elif command == "call":
            body = await client.do_service(
                "CATALOG",
                "/eureka/apps/LEGACY/legacy-1",
                return_type="json",
                headers={"Accept": "application/json"},
            )
            say(event="called", body=body)
        else:
            await client.stop()
            say(event="stopped")
            return


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))

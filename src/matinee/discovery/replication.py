"""Peer replication: every registry peer tells the others what its clients told it.

A register, renewal, cancel or status change that a CLIENT sent is queued for each peer and sent
in the background with the header ``x-netflix-discovery-replication: true`` (Eureka's
``isReplication``). A peer receiving a call with that header applies it and never sends it on,
so nothing loops. The caller never waits for a peer: a slow or dead peer only fills its queue
(bounded; overflow is dropped and counted), and each failure is counted and logged when a peer's
state changes.

Repair follows Eureka's ``PeerEurekaNode``: a peer answering 404 to a replicated renewal does not
know the instance, so it is sent the registration; a peer answering 409 has a newer copy, which
this registry adopts. A registry starting up copies the registry of the first peer that answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlencode

from matinee.discovery.config import DiscoveryConfig
from matinee.discovery.errors import InvalidInstance
from matinee.discovery.models import Applications, InstanceInfo, InstanceStatus
from matinee.discovery.peers import JSON_HEADERS, REPLICATION_HEADER, RequestFn, ResponseLike
from matinee.discovery.registry import Registry
from matinee.telemetry.metrics import Registry as Metrics

log = logging.getLogger(__name__)

HEADERS = [*JSON_HEADERS, (REPLICATION_HEADER, "true")]


class Action(StrEnum):
    REGISTER = "register"
    HEARTBEAT = "heartbeat"
    CANCEL = "cancel"
    STATUS = "status"
    DELETE_OVERRIDE = "delete_override"


@dataclass(frozen=True, slots=True)
class _Task:
    action: Action
    app: str
    instance_id: str
    info: InstanceInfo | None = None
    status: InstanceStatus | None = None


class _Peer:
    def __init__(self, url: str, queue_size: int) -> None:
        self.url = url.rstrip("/")
        self.queue: asyncio.Queue[_Task] = asyncio.Queue(queue_size)
        self.healthy = True


class Replicator:
    """Queues and sends replications to ``config.peer_urls`` (the OTHER peers)."""

    def __init__(
        self, config: DiscoveryConfig, registry: Registry, request: RequestFn, metrics: Metrics
    ) -> None:
        self._config = config
        self._registry = registry
        self._request = request
        self._metrics = metrics
        self._peers = [_Peer(url, config.replication_queue_size) for url in config.peer_urls]
        self._workers: list[asyncio.Task[None]] = []

    @property
    def peer_urls(self) -> list[str]:
        return [p.url for p in self._peers]

    def describe(self) -> list[dict[str, object]]:
        """Each other peer: whether its last replication went through, and what waits for it."""
        return [
            {"url": p.url, "healthy": p.healthy, "queued": p.queue.qsize()} for p in self._peers
        ]

    # -- what to replicate (called after the local registry accepted a client's call) ------

    def register(self, info: InstanceInfo) -> None:
        self._enqueue(_Task(Action.REGISTER, info.app, info.instance_id, info=info))

    def heartbeat(self, app: str, instance_id: str) -> None:
        info = self._registry.get_instance(app, instance_id)
        if info is not None:
            self._enqueue(_Task(Action.HEARTBEAT, info.app, instance_id, info=info))

    def cancel(self, app: str, instance_id: str) -> None:
        self._enqueue(_Task(Action.CANCEL, app.upper(), instance_id))

    def status_update(self, app: str, instance_id: str, status: InstanceStatus) -> None:
        info = self._registry.get_instance(app, instance_id)
        self._enqueue(_Task(Action.STATUS, app.upper(), instance_id, info=info, status=status))

    def delete_status_override(self, app: str, instance_id: str) -> None:
        info = self._registry.get_instance(app, instance_id)
        self._enqueue(_Task(Action.DELETE_OVERRIDE, app.upper(), instance_id, info=info))

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start one sender per peer (one, so each peer sees the calls in order)."""
        if not self._workers:
            self._workers = [asyncio.create_task(self._work(p)) for p in self._peers]

    async def drain(self) -> None:
        """Wait until every queued replication was sent (or failed)."""
        await asyncio.gather(*(p.queue.join() for p in self._peers))

    async def aclose(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def sync_from_peers(self) -> int:
        """Copy the registry of the first peer that answers (Eureka's ``syncUp``)."""
        for peer in self._peers:
            try:
                response = await self._send_raw(peer, "GET", "/apps/", b"")
                if response.status != 200:
                    continue
                apps = Applications.from_json(json.loads(response.body))
            except Exception as exc:  # noqa: BLE001 - any failure of a peer means: ask the next
                log.warning("could not copy the registry of peer %s: %s", peer.url, exc)
                continue
            count = 0
            for info in apps.instances():
                try:
                    self._registry.register(info, replication=True)
                    count += 1
                except InvalidInstance as exc:
                    log.warning("skipping an instance of peer %s: %s", peer.url, exc)
            log.info("copied %d instances from peer %s", count, peer.url)
            return count
        return 0

    # -- internals -------------------------------------------------------------------------

    def _enqueue(self, task: _Task) -> None:
        for peer in self._peers:
            try:
                peer.queue.put_nowait(task)
            except asyncio.QueueFull:
                self._count(peer, task.action, "dropped")

    async def _work(self, peer: _Peer) -> None:
        while True:
            task = await peer.queue.get()
            try:
                outcome = await self._send(peer, task)
            except Exception as exc:  # noqa: BLE001 - a peer's failure must never stop the sender
                outcome = "failed"
                if peer.healthy:
                    log.warning("replication to peer %s fails: %s", peer.url, exc)
                peer.healthy = False
            else:
                if not peer.healthy:
                    log.info("replication to peer %s works again", peer.url)
                peer.healthy = True
            finally:
                peer.queue.task_done()
            self._count(peer, task.action, outcome)

    async def _send(self, peer: _Peer, task: _Task) -> str:
        path = f"/apps/{quote(task.app, safe='')}/{quote(task.instance_id, safe='')}"
        dirty = str(task.info.last_dirty_timestamp) if task.info is not None else None
        if task.action is Action.REGISTER and task.info is not None:
            return await self._register(peer, task.info)
        if task.action is Action.HEARTBEAT and task.info is not None:
            return await self._heartbeat(peer, task.info, path)
        if task.action is Action.CANCEL:
            response = await self._send_raw(peer, "DELETE", path, b"")
            return "ok" if response.status < 300 else "not_found"
        query: dict[str, str] = {}
        if task.status is not None:
            query["value"] = task.status.value
        if dirty is not None:
            query["lastDirtyTimestamp"] = dirty
        method = "PUT" if task.action is Action.STATUS else "DELETE"
        response = await self._send_raw(peer, method, f"{path}/status?{urlencode(query)}", b"")
        return _outcome(response)

    async def _register(self, peer: _Peer, info: InstanceInfo) -> str:
        body = json.dumps({"instance": info.to_json()}).encode()
        response = await self._send_raw(peer, "POST", f"/apps/{quote(info.app, safe='')}", body)
        return _outcome(response)

    async def _heartbeat(self, peer: _Peer, info: InstanceInfo, path: str) -> str:
        query = {"status": info.status.value, "lastDirtyTimestamp": str(info.last_dirty_timestamp)}
        override = self._registry.override_of(info.instance_id)
        if override is not None:
            query["overriddenstatus"] = override.value
        response = await self._send_raw(peer, "PUT", f"{path}?{urlencode(query)}", b"")
        if response.status == 404:
            # The peer does not know the instance (it restarted, or missed the registration).
            await self._register(peer, info)
            return "not_found"
        if response.status == 409 and self._config.sync_when_timestamp_differs:
            theirs = InstanceInfo.from_json(json.loads(response.body))
            log.info("peer %s has a newer copy of %s; taking it", peer.url, info.instance_id)
            if theirs.overridden_status is not InstanceStatus.UNKNOWN:
                self._registry.store_override(
                    theirs.app, theirs.instance_id, theirs.overridden_status
                )
            self._registry.register(theirs, replication=True)
            return "conflict"
        return _outcome(response)

    async def _send_raw(self, peer: _Peer, method: str, path: str, body: bytes) -> ResponseLike:
        timeout = self._config.replication_timeout
        return await self._request(method, f"{peer.url}{path}", list(HEADERS), body, timeout)

    def _count(self, peer: _Peer, action: Action, outcome: str) -> None:
        self._metrics.counter(
            "discovery.replication", peer=peer.url, action=action.value, outcome=outcome
        ).inc()


def _outcome(response: ResponseLike) -> str:
    if response.status < 300:
        return "ok"
    if response.status == 404:
        return "not_found"
    return "failed"

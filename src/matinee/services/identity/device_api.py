"""The device routes: ``/api/identity/devices`` (list them; remove one, which signs it out)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from matinee.services.identity.api import Caller, Deps, DeviceId, Limit, PageCursor, errors_of
from matinee.services.identity.pages import DEFAULT_LIMIT
from matinee.services.identity.schemas import DeviceOut, DevicePage, DeviceRemovedOut


def router(deps: Deps) -> APIRouter:
    api = APIRouter(prefix="/api/identity", tags=["identity"])
    devices = deps.devices
    # Evaluated here (this module has no postponed annotations) so FastAPI sees the dependency.
    Me = Annotated[Caller, Depends(deps.caller)]  # noqa: N806 - a type alias, named as one

    @api.get("/devices", summary="Devices signed in to the account", responses=errors_of(401))
    async def list_devices(
        me: Me, limit: Limit = DEFAULT_LIMIT, cursor: PageCursor = None
    ) -> DevicePage:
        page = await devices.list(me.account_id, cursor, limit)
        items = [
            DeviceOut(
                id=d.id,
                name=d.name,
                user_agent=d.user_agent,
                created_at=d.created_at,
                last_seen_at=d.last_seen_at,
                current=d.id == me.device_id,
            )
            for d in page.items
        ]
        return DevicePage(items=items, next_cursor=page.next_cursor)

    @api.delete(
        "/devices/{device_id}",
        summary="Sign a device out and forget it",
        responses=errors_of(401, 404),
    )
    async def remove_device(device_id: DeviceId, me: Me, response: Response) -> DeviceRemovedOut:
        revoked = await devices.remove(me.account_id, device_id)
        if device_id == me.device_id:
            deps.forget(response)
        return DeviceRemovedOut(revoked_sessions=revoked)

    return api

"""The playback service's request and response bodies (pydantic, with OpenAPI examples)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue

# Ids other services hand out: plain characters only, so they are safe in a URL path.
TitleId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
LeaseId = Annotated[str, Field(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9-]+$")]
DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,100}$")]

_LEASE = "3f2c9a7e-1b4d-4e8f-9a6b-5c7d8e9f0a1b"
_TITLE = "8d1e6f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
_ASSET = "7a9e115e-1aa5-4155-a0c8-3480775fad5a"
_TOKEN = "v1.eyJlIjoxNzY0MDAwMDAwLCJoIjo3MjAsInAiOiJtZWRpYS9hc3NldHMvN2E5ZTExNWUvIn0.Zm9v"  # noqa: S105 - an example media token, signed by no key


def _examples(*examples: JsonValue) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class StartIn(BaseModel):
    model_config = _examples({"title_id": _TITLE}, {"title_id": _TITLE, "device_id": "tv-4f2a"})

    title_id: TitleId
    device_id: DeviceId | None = Field(
        default=None,
        description="The player's own stable id for this device: starting the same title "
        "again from it reuses its stream instead of taking another",
    )


class Rendition(BaseModel):
    """One video rendition the plan allows."""

    name: str = Field(examples=["720p-3000k"])
    width: int | None = Field(default=None, examples=[1280])
    height: int = Field(examples=[720])
    average_bps: int | None = Field(default=None, examples=[3154340])
    codecs: str | None = Field(default=None, examples=["avc1.64001f"])


class Manifests(BaseModel):
    """Signed manifest paths; prefix each with a delivery host's ``base_url``."""

    dash: str
    hls: str


class DeliveryHostOut(BaseModel):
    name: str = Field(examples=["origin"])
    base_url: str = Field(examples=["https://matinee.example"])


class StartOut(BaseModel):
    """An authorized play: its stream lease, the renditions the plan allows and where to
    fetch them. Send a heartbeat every ``heartbeat_interval_s`` and a stop at the end."""

    model_config = _examples(
        {
            "lease_id": _LEASE,
            "lease_expires_at": "2026-11-24T20:01:30Z",
            "heartbeat_interval_s": 30.0,
            "title_id": _TITLE,
            "asset_id": _ASSET,
            "max_height": 720,
            "renditions": [
                {
                    "name": "720p-3000k",
                    "width": 1280,
                    "height": 720,
                    "average_bps": 3154340,
                    "codecs": "avc1.64001f",
                }
            ],
            "manifests": {
                "dash": f"/t/{_TOKEN}/media/assets/{_ASSET}/manifest.mpd",
                "hls": f"/t/{_TOKEN}/media/assets/{_ASSET}/master.m3u8",
            },
            "urls_expire_at": "2026-11-25T02:00:00Z",
            "urls_valid_s": 21600.0,
            "delivery": [{"name": "origin", "base_url": "https://matinee.example"}],
        }
    )

    lease_id: str
    lease_expires_at: datetime
    heartbeat_interval_s: float
    title_id: str
    asset_id: str
    max_height: int = Field(description="The tallest picture the plan plays (pixels)")
    renditions: list[Rendition]
    manifests: Manifests
    urls_expire_at: datetime = Field(description="When the signed manifest URLs stop working")
    urls_valid_s: float = Field(
        description="Seconds from this answer until then (for devices whose clock is off): "
        "ask /api/playback/refresh for new URLs before"
    )
    delivery: list[DeliveryHostOut] = Field(description="Hosts to fetch from, best first")


class LeaseIn(BaseModel):
    model_config = _examples({"lease_id": _LEASE})

    lease_id: LeaseId


class HeartbeatOut(BaseModel):
    model_config = _examples(
        {
            "lease_id": _LEASE,
            "lease_expires_at": "2026-11-24T20:02:00Z",
            "heartbeat_interval_s": 30.0,
        }
    )

    lease_id: str
    lease_expires_at: datetime
    heartbeat_interval_s: float


class RefreshOut(BaseModel):
    """New signed manifest URLs for a stream still playing, and its renewed lease. The token is
    the part after ``/t/``: the same for every file of the title, so a player swaps it into the
    URLs it fetches from now on."""

    model_config = _examples(
        {
            "lease_id": _LEASE,
            "lease_expires_at": "2026-11-25T01:31:30Z",
            "max_height": 720,
            "manifests": {
                "dash": f"/t/{_TOKEN}/media/assets/{_ASSET}/manifest.mpd",
                "hls": f"/t/{_TOKEN}/media/assets/{_ASSET}/master.m3u8",
            },
            "urls_expire_at": "2026-11-25T07:30:00Z",
            "urls_valid_s": 21600.0,
        }
    )

    lease_id: str
    lease_expires_at: datetime
    max_height: int = Field(description="The tallest picture the plan plays now (pixels)")
    manifests: Manifests
    urls_expire_at: datetime = Field(description="When the new signed URLs stop working")
    urls_valid_s: float = Field(description="Seconds from this answer until then")


class StopOut(BaseModel):
    model_config = _examples({"lease_id": _LEASE, "released": True})

    lease_id: str
    released: bool = Field(description="False when the stream had already stopped or expired")

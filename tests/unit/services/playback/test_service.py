"""Playback authorization: what a start returns, and which refusal wins when several apply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from matinee.delivery.steering import DeliveryHost, SteeringRequest
from matinee.delivery.tokens import TokenWrongClient
from matinee.services.playback.clients import Availability, Entitlement, Profile, Title
from matinee.services.playback.errors import (
    DependencyUnavailable,
    LeaseExpired,
    LeaseNotFound,
    MaturityRestricted,
    NoProfile,
    PlaybackError,
    RegionUnavailable,
    RenditionUnavailable,
    SessionExpired,
    StreamLimitReached,
    SubscriptionInactive,
    TitleNotFound,
    TitleUnavailable,
)
from matinee.services.playback.service import Client, PlaybackConfig

from .conftest import CLIENT, NOW, PLANS, RunWorld, World, asset, household, member


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_a_start_returns_a_lease_signed_manifests_and_the_origin(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        play = await w.service.start(member(), "film", "tv-1", CLIENT)
        assert play.title_id == "film"
        assert play.asset_id == "a1"
        assert play.max_height == 1080
        assert play.lease_expires_at == at(NOW + 90)
        assert play.heartbeat_interval_s == 30.0
        assert play.urls_expire_at == at(NOW + 6 * 3600)
        assert [d.model_dump() for d in play.delivery] == [
            {"name": "origin", "base_url": "https://matinee.example"}
        ]
        hls, dash = play.manifests.hls, play.manifests.dash
        assert hls.startswith("/t/v1.")
        assert hls.endswith("/media/assets/a1/master.m3u8")
        assert dash.endswith("/media/assets/a1/manifest.mpd")
        token = hls.split("/")[2]
        assert dash.split("/")[2] == token
        claims = w.signer.verify(token, "media/assets/a1/video/1080p-7800k/00001.m4s")
        assert (claims.prefix, claims.max_height, claims.client_ip) == (
            "media/assets/a1/",
            1080,
            None,
        )
        assert [r.height for r in play.renditions] == [
            234,
            360,
            432,
            432,
            540,
            720,
            720,
            1080,
            1080,
        ]

    run_world(body)


@pytest.mark.parametrize(("plan", "cap", "count"), [("basic", 720, 7), ("premium", 2160, 9)])
def test_the_ladder_is_cut_to_the_plan(
    run_world: RunWorld, plan: str, cap: int, count: int
) -> None:
    async def body(w: World) -> None:
        play = await w.service.start(member(), "film", None, CLIENT)
        assert play.max_height == cap
        assert len(play.renditions) == count
        assert all(r.height <= cap for r in play.renditions)
        token = play.manifests.hls.split("/")[2]
        assert w.signer.claims(token).max_height == cap

    run_world(body, household(plan))


def test_checks_run_in_order_and_the_first_failing_one_is_the_reason(
    run_world: RunWorld,
) -> None:
    """Everything is wrong at first; fixing one thing at a time shows each reason in turn."""

    async def body(w: World) -> None:
        fake = w.lookups

        async def reason() -> str:
            with pytest.raises(PlaybackError) as refused:
                await w.service.start(member(profile="stranger"), "noir", "tv", CLIENT)
            return str(getattr(refused.value, "code", ""))

        saved_entitlement = fake.entitlements.pop("acct")
        fake.profiles["stranger"] = Profile(id="stranger", account_id="other", maturity_level=18)
        assert await reason() == "subscription_inactive"
        fake.entitlements["acct"] = saved_entitlement.model_copy(update={"plan": PLANS["basic"]})
        assert await reason() == "title_not_found"
        fake.titles["noir"] = Title(
            id="noir", name="Noir", published=False, maturity=16, asset_id="a1"
        )
        assert await reason() == "title_unavailable"
        fake.titles["noir"] = fake.titles["noir"].model_copy(update={"published": True})
        fake.availabilities["noir", "US"] = Availability(available=False, reason="region")
        assert await reason() == "region_unavailable"
        del fake.availabilities["noir", "US"]
        assert await reason() == "no_profile"  # the profile is another account's
        fake.profiles["stranger"] = Profile(id="stranger", account_id="acct", maturity_level=13)
        assert await reason() == "maturity_restricted"
        fake.profiles["stranger"] = Profile(id="stranger", account_id="acct", maturity_level=16)
        first = await w.service.start(member(profile="stranger"), "noir", "tv", CLIENT)
        assert first.max_height == 720
        with pytest.raises(StreamLimitReached) as limit:
            await w.service.start(member(profile="stranger"), "noir", "phone", CLIENT)
        assert "Basic plan allows 1 stream at a time" in str(limit.value)

    run_world(body)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("none", "no subscription"),
        ("past_due", "payment did not go through"),
        ("canceled", "has ended"),
        ("something-new", "not active"),
    ],
)
def test_inactive_subscriptions_are_explained(run_world: RunWorld, status: str, words: str) -> None:
    async def body(w: World) -> None:
        w.lookups.entitlements["acct"] = Entitlement(status=status, entitled=False)
        with pytest.raises(SubscriptionInactive, match=words):
            await w.service.start(member(), "film", None, CLIENT)

    run_world(body)


def test_a_trial_is_entitled(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        w.lookups.entitlements["acct"] = Entitlement(
            status="trialing", entitled=True, plan=PLANS["premium"]
        )
        assert (await w.service.start(member(), "film", None, CLIENT)).max_height == 2160

    run_world(body)


def test_availability_reasons(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        fake = w.lookups
        fake.availabilities["film", "US"] = Availability(available=False, reason="window")
        with pytest.raises(TitleUnavailable, match="right now"):
            await w.service.start(member(), "film", None, CLIENT)
        fake.availabilities["film", "US"] = Availability(available=False, reason="unpublished")
        with pytest.raises(TitleUnavailable, match="not published"):
            await w.service.start(member(), "film", None, CLIENT)
        fake.availabilities["film", "FR"] = Availability(available=False, reason="region")
        with pytest.raises(RegionUnavailable, match=r"\(FR\)"):
            await w.service.start(member(country="FR"), "film", None, CLIENT)
        with pytest.raises(TitleNotFound):
            await w.service.start(member(), "missing", None, CLIENT)

    run_world(body)


def test_maturity_levels(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        await w.service.start(member(profile="kid"), "cartoon", "kid-tablet", CLIENT)
        with pytest.raises(MaturityRestricted, match=r"rated 13\+.*up to 7\+"):
            await w.service.start(member(profile="kid"), "film", "kid-tablet", CLIENT)
        await w.service.start(member(profile="adult"), "horror", "tv", CLIENT)  # 18 <= 18

    run_world(body)


def test_profiles(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        with pytest.raises(NoProfile, match="Choose a profile"):
            await w.service.start(member(profile=None), "film", None, CLIENT)
        with pytest.raises(NoProfile, match="no longer exists"):
            await w.service.start(member(profile="deleted"), "film", None, CLIENT)
        assert w.lookups.calls.count("entitlement") == 1  # nothing asked without a profile

    run_world(body)


def test_an_ended_session_is_refused(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        w.clock.advance(3600)
        with pytest.raises(SessionExpired):
            await w.service.start(member(), "film", None, CLIENT)
        assert w.lookups.calls == []

    run_world(body)


def test_the_country_comes_from_the_account_when_the_session_has_none(
    run_world: RunWorld,
) -> None:
    async def body(w: World) -> None:
        w.lookups.availabilities["film", "DE"] = Availability(available=False, reason="region")
        with pytest.raises(RegionUnavailable, match="country is not known"):
            await w.service.start(member(country=None), "film", None, CLIENT)
        w.lookups.countries["acct"] = "DE"
        with pytest.raises(RegionUnavailable, match=r"\(DE\)"):
            await w.service.start(member(country=None), "film", None, CLIENT)
        w.lookups.countries["acct"] = "US"
        await w.service.start(member(country=None), "film", None, CLIENT)

    run_world(body)


def test_titles_without_playable_video(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        fake = w.lookups
        fake.titles["soon"] = Title(id="soon", name="Soon", published=True, maturity=0)
        with pytest.raises(TitleUnavailable, match="no video"):
            await w.service.start(member(), "soon", None, CLIENT)
        fake.titles["lost"] = Title(
            id="lost", name="Lost", published=True, maturity=0, asset_id="gone"
        )
        with pytest.raises(TitleUnavailable, match="no video"):
            await w.service.start(member(), "lost", None, CLIENT)
        fake.assets["uhd"] = asset("uhd", [("2160p-16000k", 3840, 2160)])
        fake.titles["uhd"] = Title(id="uhd", name="UHD", published=True, maturity=0, asset_id="uhd")
        with pytest.raises(RenditionUnavailable, match="Standard plan"):
            await w.service.start(member(), "uhd", None, CLIENT)
        assert await w.service.leases.live("acct") == []  # no refused start took a stream

    run_world(body)


@pytest.mark.parametrize("lookup", ["entitlement", "title", "availability", "profile", "asset"])
def test_a_dependency_that_is_down_never_authorizes(run_world: RunWorld, lookup: str) -> None:
    async def body(w: World) -> None:
        w.lookups.down.add(lookup)
        with pytest.raises(DependencyUnavailable):
            await w.service.start(member(), "film", None, CLIENT)
        assert await w.service.leases.live("acct") == []

    run_world(body)


def test_an_earlier_refusal_is_still_given_when_a_later_check_cannot_be_made(
    run_world: RunWorld,
) -> None:
    async def body(w: World) -> None:
        w.lookups.entitlements["acct"] = Entitlement(status="canceled", entitled=False)
        w.lookups.down |= {"title", "availability", "profile"}
        with pytest.raises(SubscriptionInactive):
            await w.service.start(member(), "film", None, CLIENT)

    run_world(body)


def test_the_four_lookups_run_concurrently(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        w.lookups.barrier = asyncio.Barrier(4)  # each waits until all four have started
        await w.service.start(member(), "film", None, CLIENT)
        assert sorted(w.lookups.calls[:4]) == ["availability", "entitlement", "profile", "title"]
        assert w.lookups.calls[4:] == ["asset"]

    run_world(body)


def test_streams_heartbeats_and_stops(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        tv = await w.service.start(member(), "film", "tv", CLIENT)
        phone = await w.service.start(member(), "film", "phone", CLIENT)
        with pytest.raises(StreamLimitReached, match="Standard plan allows 2 streams"):
            await w.service.start(member(), "film", "laptop", CLIENT)
        again = await w.service.start(member(), "film", "tv", CLIENT)  # a reload on the TV
        assert again.lease_id == tv.lease_id
        w.clock.advance(60)
        beat = await w.service.heartbeat(member(), tv.lease_id)
        assert beat.lease_expires_at == at(NOW + 150)
        assert beat.heartbeat_interval_s == 30.0
        w.clock.advance(60)  # the phone sent no heartbeat: its lease lapsed at NOW + 90
        with pytest.raises(LeaseExpired):
            await w.service.heartbeat(member(), phone.lease_id)
        laptop = await w.service.start(member(), "film", "laptop", CLIENT)
        with pytest.raises(LeaseNotFound):  # the start cleared the lapsed lease away
            await w.service.heartbeat(member(), phone.lease_id)
        assert (await w.service.stop(member(), laptop.lease_id)).released
        assert not (await w.service.stop(member(), laptop.lease_id)).released
        with pytest.raises(LeaseNotFound):
            await w.service.heartbeat(member(), laptop.lease_id)

    run_world(body)


def test_leases_and_urls_follow_the_config(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        play = await w.service.start(member(), "film", None, CLIENT)
        assert play.lease_expires_at == at(NOW + 30)
        assert play.heartbeat_interval_s == 10.0
        assert play.urls_expire_at == at(NOW + 600)
        assert play.urls_valid_s == 600
        token = play.manifests.hls.split("/")[2]
        path = "media/assets/a1/master.m3u8"
        assert w.signer.verify(token, path, client_ip="198.51.100.7").client_ip == "198.51.100.7"
        with pytest.raises(TokenWrongClient):
            w.signer.verify(token, path, client_ip="203.0.113.1")

    config = PlaybackConfig(lease_ttl_s=30, url_ttl_s=600, bind_client_ip=True)
    run_world(body, config=config)


def test_a_stream_still_playing_gets_new_urls_and_a_refusal_ends_it(run_world: RunWorld) -> None:
    async def body(w: World) -> None:
        play = await w.service.start(member(), "film", "tv", CLIENT)
        w.clock.advance(20)
        fresh = await w.service.refresh(member(), play.lease_id, CLIENT)
        assert fresh.lease_id == play.lease_id
        assert fresh.lease_expires_at == at(NOW + 20 + 30)  # renewed
        assert fresh.urls_expire_at == at(NOW + 20 + 600)
        assert fresh.urls_valid_s == 600
        assert fresh.max_height == 1080
        token = fresh.manifests.dash.split("/")[2]
        assert token != play.manifests.dash.split("/")[2]
        assert fresh.manifests.dash.endswith("/media/assets/a1/manifest.mpd")
        claims = w.signer.verify(
            token, "media/assets/a1/video/720p-3000k/00001.m4s", client_ip="198.51.100.7"
        )
        assert (claims.prefix, claims.max_height) == ("media/assets/a1/", 1080)

        w.lookups.entitlements["acct"] = Entitlement(
            status="active", entitled=True, plan=PLANS["basic"]
        )
        lowered = await w.service.refresh(member(), play.lease_id, CLIENT)
        assert lowered.max_height == 720  # the plan changed since the start

        w.lookups.entitlements["acct"] = Entitlement(status="canceled", entitled=False)
        with pytest.raises(SubscriptionInactive):
            await w.service.refresh(member(), play.lease_id, CLIENT)
        with pytest.raises(LeaseNotFound):  # the refusal ended the stream
            await w.service.heartbeat(member(), play.lease_id)

        w.lookups.entitlements["acct"] = Entitlement(
            status="active", entitled=True, plan=PLANS["standard"]
        )
        other = await w.service.start(member(), "film", "phone", CLIENT)
        w.clock.advance(31)  # no heartbeat: lapsed
        with pytest.raises(LeaseExpired):
            await w.service.refresh(member(), other.lease_id, CLIENT)

    config = PlaybackConfig(lease_ttl_s=30, url_ttl_s=600, bind_client_ip=True)
    run_world(body, config=config)


class EdgesFirst:
    def __init__(self) -> None:
        self.asked: list[SteeringRequest] = []

    async def rank(self, request: SteeringRequest) -> list[DeliveryHost]:
        self.asked.append(request)
        return [
            DeliveryHost("edge-1", "http://edge-1:9000"),
            DeliveryHost("origin", request.origin),
        ]


def test_steering_ranks_the_hosts(run_world: RunWorld) -> None:
    steering = EdgesFirst()

    async def body(w: World) -> None:
        client = Client(origin="http://127.0.0.1:8000", ip="10.0.0.5")
        play = await w.service.start(member(), "film", None, client)
        assert [(d.name, d.base_url) for d in play.delivery] == [
            ("edge-1", "http://edge-1:9000"),
            ("origin", "http://127.0.0.1:8000"),
        ]
        assert steering.asked == [
            SteeringRequest("http://127.0.0.1:8000", "film", "media/assets/a1/", "10.0.0.5", "US")
        ]

    run_world(body, steering=steering)


def test_a_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        PlaybackConfig(lease_ttl_s=0)

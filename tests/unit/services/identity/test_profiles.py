"""Profiles (cap, kids rules, ownership, selection) and devices (FakeClock, SQLite)."""

from __future__ import annotations

import pytest

from matinee.services.identity.devices import DeviceHint
from matinee.services.identity.errors import (
    DeviceNotFound,
    InvalidCursor,
    InvalidProfile,
    NotSignedIn,
    ProfileLimitReached,
    ProfileNameTaken,
    ProfileNotFound,
    UnknownSession,
)
from matinee.services.identity.profiles import ProfileFields
from matinee.services.identity.service import SessionInfo

from .conftest import BROWSER, PASSWORD, World, run


async def member(w: World, email: str = "ada@example.com") -> tuple[str, SessionInfo]:
    issued = await w.identity.signup(email, PASSWORD, "US", client=email, device=BROWSER)
    return issued.token, await w.identity.validate(issued.token)


def test_five_profiles_then_a_clear_refusal(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        for i in range(5):
            await w.profiles.create(me.account_id, ProfileFields(name=f"P{i}"))
        with pytest.raises(ProfileLimitReached) as caught:
            await w.profiles.create(me.account_id, ProfileFields(name="Sixth"))
        assert "at most 5" in str(caught.value)

    run(world, main)


def test_defaults_and_the_kids_rules(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        grown = await w.profiles.create(me.account_id, ProfileFields(name=" Ada "))
        assert (grown.name, grown.avatar, grown.language) == ("Ada", "popcorn", "en")
        assert (grown.maturity_level, grown.kids) == (18, False)
        kid = await w.profiles.create(me.account_id, ProfileFields(name="Kid", kids=True))
        assert (kid.maturity_level, kid.kids) == (7, True)
        toddler = await w.profiles.create(
            me.account_id, ProfileFields(name="Tot", kids=True, maturity_level=0, avatar="owl")
        )
        assert (toddler.maturity_level, toddler.avatar) == (0, "owl")
        with pytest.raises(InvalidProfile, match=r"^maturity_level: a kids profile"):
            await w.profiles.create(
                me.account_id, ProfileFields(name="Teen", kids=True, maturity_level=13)
            )
        with pytest.raises(InvalidProfile, match=r"^maturity_level"):
            await w.profiles.create(me.account_id, ProfileFields(name="Odd", maturity_level=12))
        with pytest.raises(InvalidProfile, match=r"^avatar"):
            await w.profiles.create(me.account_id, ProfileFields(name="Odd", avatar="dragon"))
        # Turning a profile into a kids profile lowers its maturity to the kids default.
        changed = await w.profiles.update(me.account_id, grown.id, ProfileFields(kids=True))
        assert (changed.kids, changed.maturity_level) == (True, 7)
        with pytest.raises(InvalidProfile):
            await w.profiles.update(me.account_id, grown.id, ProfileFields(maturity_level=16))
        grown_again = await w.profiles.update(
            me.account_id, grown.id, ProfileFields(kids=False, maturity_level=16, language="fr")
        )
        assert (grown_again.maturity_level, grown_again.language) == (16, "fr")

    run(world, main)


def test_names_are_unique_per_account(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        _, other = await member(w, "bob@example.com")
        first = await w.profiles.create(me.account_id, ProfileFields(name="Ada"))
        second = await w.profiles.create(me.account_id, ProfileFields(name="Max"))
        with pytest.raises(ProfileNameTaken):
            await w.profiles.create(me.account_id, ProfileFields(name="Ada"))
        with pytest.raises(ProfileNameTaken):
            await w.profiles.update(me.account_id, second.id, ProfileFields(name="Ada"))
        await w.profiles.update(me.account_id, first.id, ProfileFields(name="Ada"))  # unchanged
        await w.profiles.create(other.account_id, ProfileFields(name="Ada"))

    run(world, main)


def test_another_accounts_profile_is_not_found(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        _, other = await member(w, "bob@example.com")
        theirs = await w.profiles.create(other.account_id, ProfileFields(name="Bob"))
        with pytest.raises(ProfileNotFound):
            await w.profiles.get(me.account_id, theirs.id)
        with pytest.raises(ProfileNotFound):
            await w.profiles.update(me.account_id, theirs.id, ProfileFields(name="Mine"))
        with pytest.raises(ProfileNotFound):
            await w.profiles.delete(me.account_id, theirs.id)
        with pytest.raises(ProfileNotFound):
            await w.profiles.select(me.account_id, me.session_id, theirs.id)
        assert (await w.profiles.any(theirs.id)).name == "Bob"  # the internal lookup

    run(world, main)


def test_selecting_a_profile_swaps_the_token(world: World) -> None:
    async def main(w: World) -> None:
        token, me = await member(w)
        profile = await w.profiles.create(me.account_id, ProfileFields(name="Ada"))
        w.clock.advance(3600)
        issued = await w.profiles.select(me.account_id, me.session_id, profile.id)
        with pytest.raises(UnknownSession):
            await w.identity.validate(token)
        now = await w.identity.validate(issued.token)
        assert (now.account_id, now.profile_id) == (me.account_id, profile.id)
        assert now.expires_at == me.expires_at  # switching profiles does not extend a session
        with pytest.raises(NotSignedIn):  # the old session cannot select again
            await w.profiles.select(me.account_id, me.session_id, profile.id)

    run(world, main)


def test_deleting_a_profile_ends_its_sessions(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        kept = await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)
        profile = await w.profiles.create(me.account_id, ProfileFields(name="Ada"))
        issued = await w.profiles.select(me.account_id, me.session_id, profile.id)
        await w.profiles.delete(me.account_id, profile.id)
        with pytest.raises(UnknownSession):
            await w.identity.validate(issued.token)
        await w.identity.validate(kept.token)

    run(world, main)


def test_profiles_are_paginated(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        for i in range(5):
            w.clock.advance(1)
            await w.profiles.create(me.account_id, ProfileFields(name=f"P{i}"))
        names: list[str] = []
        cursor = None
        for _ in range(3):
            page = await w.profiles.list(me.account_id, cursor, 2)
            names += [p.name for p in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert names == ["P0", "P1", "P2", "P3", "P4"]
        assert cursor is None
        for bad in ("nonsense", "W10", "WyJ4IiwgMV0"):
            with pytest.raises(InvalidCursor, match=r"^cursor: "):
                await w.profiles.list(me.account_id, bad, 2)

    run(world, main)


def test_devices_are_recorded_per_signin(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        tv = DeviceHint(device_id="tv-4f2a", name="Living-room TV", user_agent="SmartTV/1.0")
        for _ in range(2):
            await w.identity.signin("ada@example.com", PASSWORD, client="c", device=tv)
        await w.identity.signin("ada@example.com", PASSWORD, client="c", device=BROWSER)
        page = await w.devices.list(me.account_id, None, 20)
        names = sorted(d.name for d in page.items)
        assert names == ["Firefox on Linux", "Firefox on Linux", "Living-room TV"]
        assert {d.user_agent for d in page.items} == {"SmartTV/1.0", BROWSER.user_agent}
        paged = await w.devices.list(me.account_id, None, 2)
        assert len(paged.items) == 2
        assert paged.next_cursor is not None
        rest = await w.devices.list(me.account_id, paged.next_cursor, 2)
        assert len(rest.items) == 1
        assert rest.next_cursor is None

    run(world, main)


def test_removing_a_device_signs_it_out(world: World) -> None:
    async def main(w: World) -> None:
        _, me = await member(w)
        tv = DeviceHint(device_id="tv-4f2a", name="TV")
        on_tv = [
            await w.identity.signin("ada@example.com", PASSWORD, client="c", device=tv)
            for _ in range(2)
        ]
        page = await w.devices.list(me.account_id, None, 20)
        tv_id = next(d.id for d in page.items if d.name == "TV")
        _, other = await member(w, "bob@example.com")
        with pytest.raises(DeviceNotFound):
            await w.devices.remove(other.account_id, tv_id)
        assert await w.devices.remove(me.account_id, tv_id) == 2
        for issued in on_tv:
            with pytest.raises(UnknownSession):
                await w.identity.validate(issued.token)
        await w.identity.live_session(me.account_id, me.session_id)  # the browser stays in
        with pytest.raises(DeviceNotFound):
            await w.devices.remove(me.account_id, tv_id)

    run(world, main)


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("\x00\x01", "Unknown device"),
    ],
)
def test_devices_are_named_after_the_user_agent(agent: str, name: str) -> None:
    assert DeviceHint(user_agent=agent).display_name() == name

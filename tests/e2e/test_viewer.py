"""The viewer app in Chromium: the journey from sign-up to a playing title, and the plain words a
declined card and a wrong password get."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .pages import (
    DECLINED_CARD,
    TEST_CARD,
    add_profile,
    assert_plain,
    choose_profile,
    fill_signin,
    fill_signup,
    new_email,
    player_state,
    wait_for_playback,
)
from .stack import MEMBER, Login, Stack

pytestmark = pytest.mark.slow


def test_sign_up_pick_a_profile_and_play_a_title(stack: Stack, page: Page) -> None:
    fill_signup(page, new_email("journey"), plan="basic", card=TEST_CARD)

    expect(page).to_have_url(re.compile(r"/profiles$"))
    add_profile(page, "Sam")
    choose_profile(page, "Sam")

    home = page.get_by_test_id("home")
    expect(home.get_by_test_id("row").first).to_be_visible()
    mandelbrot = stack.title_id("Mandelbrot")
    card = home.locator(f'[data-testid="title-card"][data-title-id="{mandelbrot}"]').first
    expect(card).to_be_visible()
    card.click()

    title_page = page.get_by_test_id("title-page")
    expect(title_page.get_by_test_id("title-name")).to_have_text("Mandelbrot")
    expect(title_page.get_by_test_id("synopsis")).to_contain_text("Mandelbrot set")
    title_page.get_by_test_id("play-button").click()

    expect(page).to_have_url(re.compile(rf"/watch/{mandelbrot}$"))
    wait_for_playback(page, 3.0)
    state = player_state(page)
    assert state is not None
    assert state["height"] > 0, state
    assert (state["ttff_ms"] or 0) > 0, state
    assert state["host"] in ("edge-0", "origin"), state  # steering's delivery hosts
    expect(page.get_by_test_id("player-error")).to_have_count(0)


def test_a_declined_card_gets_a_plain_message(page: Page) -> None:
    fill_signup(page, new_email("declined"), plan="standard", card=DECLINED_CARD)

    form = page.get_by_test_id("signup-form")
    alert = page.get_by_test_id("error-banner").or_(form.get_by_role("alert")).first
    expect(alert).to_contain_text(re.compile("declined", re.I))
    assert_plain(alert.inner_text())
    expect(page).to_have_url(re.compile(r"/signup$"))


def test_a_wrong_password_gets_a_plain_message(page: Page) -> None:
    fill_signin(page, Login(MEMBER.email, "not the right password"))

    form = page.get_by_test_id("signin-form")
    alert = page.get_by_test_id("error-banner").or_(form.get_by_role("alert")).first
    expect(alert).to_contain_text(re.compile("email or password", re.I))
    assert_plain(alert.inner_text())
    expect(page).to_have_url(re.compile(r"/signin$"))

"""What the browser tests do on the viewer's pages, by the DOM contract's ``data-testid``s
(see web-spec.md): sign up, sign in, pick a profile, open a title, watch it, read the player's
``window.matinee.stats()``; and a few API calls through the page's own cookies for setup that
is not what a test is about.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from playwright.sync_api import APIResponse, Locator, Page, expect

from .stack import Login

TEST_CARD: Final = "4242424242424242"
DECLINED_CARD: Final = "4000000000000002"
PASSWORD: Final = "correct horse battery staple"
PLAY_TIMEOUT_MS: Final = 30_000
# What a message for people must not look like: a code, a status line, JSON, a stack trace.
NOT_PLAIN: Final = re.compile(
    r"[{}\[\]]|Traceback|HTTP \d{3}|\b[a-z]+_[a-z_]+\b|\bundefined\b|\bnull\b"
)
MIN_FRAMES: Final = 30

# What the player page exposes (web-spec.md): stats() plus the <video>'s decoded frame count.
_PLAYER_STATE_JS: Final = """() => {
  const m = window.matinee;
  if (!m || !m.video || typeof m.stats !== "function") return null;
  const q = m.video.getVideoPlaybackQuality ? m.video.getVideoPlaybackQuality() : null;
  return {...m.stats(), frames: q ? q.totalVideoFrames : 0,
          width: m.video.videoWidth, paused: m.video.paused};
}"""


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@e2e.matinee.test"


def assert_plain(text: str) -> None:
    """``text`` is a message for people: not empty, no codes, JSON or stack traces."""
    assert text.strip(), "the message is empty"
    assert not NOT_PLAIN.search(text), f"not a plain message: {text!r}"


@dataclass(frozen=True)
class Account:
    login: Login
    profile: str


# ---------------------------------------------------------------------------------------------
# The viewer's forms
# ---------------------------------------------------------------------------------------------


def fill_signup(
    page: Page, email: str, *, plan: str = "basic", card: str = TEST_CARD, country: str = "US"
) -> None:
    """Open /signup, fill it in and submit it."""
    page.goto("/signup")
    form = page.get_by_test_id("signup-form")
    expect(form).to_be_visible()
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    country_field = form.locator("[name=country]")
    if country_field.evaluate("e => e.tagName") == "SELECT":
        country_field.select_option(country)
    else:
        country_field.fill(country)
    form.get_by_test_id(f"plan-{plan}").check()
    form.locator("[name=card]").fill(card)
    form.get_by_test_id("signup-submit").click()


def sign_in(page: Page, login: Login) -> None:
    """Sign in through /signin; waits until the app has left the sign-in page."""
    fill_signin(page, login)
    expect(page).not_to_have_url(_path_re("/signin"))


def fill_signin(page: Page, login: Login) -> None:
    page.goto("/signin")
    form = page.get_by_test_id("signin-form")
    expect(form).to_be_visible()
    form.locator("[name=email]").fill(login.email)
    form.locator("[name=password]").fill(login.password)
    form.get_by_test_id("signin-submit").click()


def add_profile(page: Page, name: str) -> None:
    """On the profile picker: add a profile called ``name``."""
    picker = page.get_by_test_id("profile-picker")
    expect(picker).to_be_visible()
    picker.get_by_test_id("profile-add").click()
    form = page.get_by_test_id("profile-form")
    form.locator("[name=name]").fill(name)
    form.locator("[type=submit]").click()
    expect(profile_card(page, name)).to_be_visible()


def profile_card(page: Page, name: str) -> Locator:
    return page.get_by_test_id("profile-card").filter(has_text=name)


def choose_profile(page: Page, name: str) -> None:
    """From anywhere signed in: open the picker, pick ``name``, wait for the home page."""
    if "/profiles" not in page.url:
        page.goto("/profiles")
    profile_card(page, name).click()
    expect(page.get_by_test_id("home")).to_be_visible()


def open_title(page: Page, title_id: str) -> None:
    page.goto(f"/title/{title_id}")
    expect(page.get_by_test_id("title-page")).to_be_visible()


def press_play(page: Page, title_id: str) -> None:
    """Open the title page and press play; waits for the player page."""
    open_title(page, title_id)
    page.get_by_test_id("play-button").click()
    expect(page).to_have_url(_path_re(f"/watch/{title_id}"))
    expect(page.get_by_test_id("player")).to_be_visible()


# ---------------------------------------------------------------------------------------------
# The player
# ---------------------------------------------------------------------------------------------


def player_state(page: Page) -> dict[str, Any] | None:
    """``window.matinee.stats()`` with the video's decoded frames, or None before the player."""
    state: dict[str, Any] | None = page.evaluate(_PLAYER_STATE_JS)
    return state


def wait_for_playback(page: Page, past_s: float, *, timeout_ms: float = PLAY_TIMEOUT_MS) -> None:
    """Wait until the video really plays: currentTime past ``past_s``, a picture, frames decoded.
    Names the player's error message when it shows one instead."""
    try:
        page.wait_for_function(
            """([past, frames]) => {
              const m = window.matinee;
              if (!m || !m.video) return false;
              const v = m.video;
              const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
              return v.currentTime > past && v.videoWidth > 0 && q && q.totalVideoFrames > frames;
            }""",
            arg=[past_s, MIN_FRAMES],
            timeout=timeout_ms,
        )
    except Exception as exc:
        raise AssertionError(
            f"the video did not play past {past_s:g} s: {describe_player(page)}"
        ) from exc


def describe_player(page: Page) -> str:
    """The player's state and any error text on the page, for an assertion message."""
    words = [f"url {page.url}", f"stats {player_state(page)}"]
    for test_id in ("player-error", "error-banner"):
        box = page.get_by_test_id(test_id)
        if box.count() and box.first.is_visible():
            words.append(f"{test_id}: {box.first.inner_text()!r}")
    return "; ".join(words)


def current_time(page: Page) -> float:
    return float(page.evaluate("() => window.matinee ? window.matinee.video.currentTime : 0"))


# ---------------------------------------------------------------------------------------------
# Setup through the API (the page's cookies): not what the tests are about
# ---------------------------------------------------------------------------------------------


SETUP_ATTEMPTS = 3


def _ok(response: APIResponse, what: str) -> Any:
    if not response.ok:
        raise AssertionError(f"{what}: HTTP {response.status} {response.text()[:300]}")
    return response.json() if response.status != 204 else None


def api_member(
    page: Page, base: str, tag: str, *, plan: str = "premium", profile: str = "Viewer"
) -> Account:
    """A new subscribed account with one profile, signed in and watching as that profile in
    this page's browser context (``base``: the stack's URL)."""
    login = Login(new_email(tag), PASSWORD)
    request = page.context.request
    _ok(
        request.post(
            base + "/api/identity/signup",
            data={"email": login.email, "password": login.password, "country": "US"},
        ),
        "sign-up",
    )
    # With its idempotency key, a subscription that timed out (a 504 from the gateway while the
    # machine is loaded) is sent again as a client would: billing charges it once.
    key = str(uuid.uuid4())
    for attempt in range(SETUP_ATTEMPTS):
        answer = request.post(
            base + "/api/billing/subscription",
            data={
                "plan": plan,
                "card_number": TEST_CARD,
                "exp_month": 12,
                "exp_year": 2040,
                "cvc": "123",
            },
            headers={"Idempotency-Key": key},
        )
        if answer.status not in (502, 503, 504) or attempt == SETUP_ATTEMPTS - 1:
            break
        page.wait_for_timeout(1000)
    _ok(answer, "subscribe")
    created = _ok(
        request.post(base + "/api/identity/profiles", data={"name": profile}), "add a profile"
    )
    _ok(request.post(base + f"/api/identity/profiles/{created['id']}/select"), "select the profile")
    return Account(login, profile)


def _path_re(path: str) -> re.Pattern[str]:
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(?:[?#].*)?$")

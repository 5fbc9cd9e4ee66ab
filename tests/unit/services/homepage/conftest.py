"""A homepage service over fakes of its lookups and the in-process cache, on a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from matinee.cache import Cache, open_cache
from matinee.clock import FakeClock
from matinee.gateway.auth import Identity
from matinee.services.homepage.config import HomepageConfig
from matinee.services.homepage.lookups import Plays
from matinee.services.homepage.schemas import HomePage
from matinee.services.homepage.service import HomepageService
from matinee.telemetry.metrics import Registry

from .fakes import FakeCatalog, FakeHistory, FakeProfiles

ALEX = Identity("acct-1", profile="alex", country="US")
JAMIE = Identity("acct-1", profile="jamie", country="US")
KIDS = Identity("acct-1", profile="kids", country="US")
US_PLAYS = [Plays("midnight", 9), Plays("signal-e1", 7), Plays("mandelbrot", 5)]


@dataclass
class Home:
    clock: FakeClock
    metrics: Registry
    catalog: FakeCatalog
    history: FakeHistory
    profiles: FakeProfiles
    cache: Cache
    service: HomepageService
    config: HomepageConfig = field(default_factory=HomepageConfig)

    async def page(self, viewer: Identity) -> HomePage:
        return HomePage.model_validate_json(await self.service.page(viewer))

    def count(self, name: str, **tags: str) -> float:
        return self.metrics.counter(name, **tags).value


def make_home(config: HomepageConfig | None = None) -> Home:
    config = config or HomepageConfig()
    clock = FakeClock(1_800_000_000.0)
    metrics = Registry(clock)
    catalog = FakeCatalog()
    history = FakeHistory(plays={"US": list(US_PLAYS)})
    profiles = FakeProfiles(levels={"alex": 18, "jamie": 13, "kids": 7})
    cache = open_cache("memory://", name="homepage", clock=clock, metrics=metrics)
    service = HomepageService(
        catalog, history, profiles, cache, clock=clock, metrics=metrics, config=config
    )
    return Home(clock, metrics, catalog, history, profiles, cache, service, config)


@pytest.fixture
def home() -> Home:
    return make_home()

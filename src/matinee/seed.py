"""``matinee seed``: a demo household, the plans and a catalog made from the sample titles.

Seeding goes through each service's own logic (identity, billing, catalog), in this process,
on the configured database; the plans themselves come with the billing migration. Running it
again changes nothing: accounts, profiles, the subscription (an idempotency key) and titles
(by name) that exist are left as they are.

The sample titles must be ingested first (``ensure_samples`` and the job runner, which the
command does with progress bars); a title whose sample asset is missing is skipped and named
in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from matinee.assets.models import Asset
from matinee.clock import Clock, SystemClock
from matinee.db.aio import Database
from matinee.services.billing.provider import TestProvider
from matinee.services.billing.schemas import SubscribeIn
from matinee.services.billing.service import BillingService
from matinee.services.catalog.assets import from_record
from matinee.services.catalog.schemas import CreditIn, EpisodeCreate, TitleCreate, WindowIn
from matinee.services.catalog.service import CatalogService
from matinee.services.identity.errors import SignupRefused
from matinee.services.identity.passwords import normalize_email
from matinee.services.identity.profiles import ProfileFields, Profiles
from matinee.services.identity.service import IdentityService, create_admin
from matinee.services.identity.store import IdentityStore
from matinee.telemetry.metrics import Registry

ADMIN_EMAIL = "admin@matinee.test"
ADMIN_PASSWORD = "matinee-admin"  # noqa: S105 - the documented demo login, not a secret
MEMBER_EMAIL = "demo@matinee.test"
MEMBER_PASSWORD = "matinee-demo"  # noqa: S105 - the documented demo login, not a secret
TEST_CARD = "4242424242424242"
COUNTRIES = ("US", "CA", "GB", "DE")

PROFILES = (
    ProfileFields(name="Alex", avatar="fox", language="en", maturity_level=18, kids=False),
    ProfileFields(name="Jamie", avatar="comet", language="en", maturity_level=13, kids=False),
    ProfileFields(name="Kids", avatar="panda", language="en", maturity_level=7, kids=True),
)


@dataclass(frozen=True)
class Movie:
    name: str
    sample: str  # the sample asset's title
    synopsis: str
    genres: tuple[str, ...]
    maturity: int
    year: int
    cast: tuple[str, ...] = ()
    countries: tuple[str, ...] = COUNTRIES


MOVIES = (
    Movie(
        "Mandelbrot",
        "Mandelbrot",
        "A camera falls forever into the edge of the Mandelbrot set.",
        ("Documentary", "Science"),
        0,
        2024,
        ("Benoit Lumen",),
    ),
    Movie(
        "Game of Life",
        "Game of Life",
        "Cells are born, live and die on a grid that never stops changing.",
        ("Drama", "Science"),
        7,
        2023,
        ("Ada Conway", "John Grid"),
    ),
    Movie(
        "Midnight Zoom",
        "Mandelbrot",
        "The same fractal, watched alone at midnight. Not for younger viewers.",
        ("Thriller",),
        16,
        2025,
        ("Ada Conway",),
    ),
    Movie(
        "Le Jeu",
        "Game of Life",
        "Only in France: the grid, with a French title.",
        ("Drama",),
        7,
        2022,
        ("Jeanne Cellule",),
        ("FR",),
    ),
)
SERIES_NAME = "Signal Tests"
EPISODES = (("Colour Bars", "Seven bars and a tone."), ("Test Card", "Circles, ramps, two voices."))


@dataclass
class SeedReport:
    admin_email: str = ADMIN_EMAIL
    member_email: str = MEMBER_EMAIL
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


async def seed(database_url: str, assets: list[Asset], *, clock: Clock | None = None) -> SeedReport:
    """Seed the database at ``database_url`` (already migrated) from the ingested ``assets``."""
    clock = clock or SystemClock()
    report = SeedReport()
    db = Database(database_url)
    try:
        identity = IdentityService(db, clock)
        await create_admin(db, clock, ADMIN_EMAIL, ADMIN_PASSWORD, exist_ok=True)
        account_id = await _member(identity, report)
        await _profiles(Profiles(db, clock, identity), account_id, report)
        billing = BillingService(db, TestProvider(), clock, Registry(clock))
        await _subscription(billing, account_id, report)
        await _catalog(CatalogService(db, clock), {a.title: a for a in assets}, clock, report)
    finally:
        await db.close()
    return report


async def _member(identity: IdentityService, report: SeedReport) -> str:
    try:
        account = await identity.create_account(MEMBER_EMAIL, MEMBER_PASSWORD, "US")
    except SignupRefused:
        async with identity.db.read() as s:
            existing = await IdentityStore(s).account_by_email(normalize_email(MEMBER_EMAIL))
        if existing is None:  # refused for another reason than being there already
            raise
        report.kept.append(f"account {MEMBER_EMAIL}")
        return existing.id
    report.created.append(f"account {MEMBER_EMAIL}")
    return account.id


async def _profiles(profiles: Profiles, account_id: str, report: SeedReport) -> None:
    existing = {p.name for p in (await profiles.list(account_id, None, 5)).items}
    for fields in PROFILES:
        if fields.name in existing:
            report.kept.append(f"profile {fields.name}")
            continue
        await profiles.create(account_id, fields)
        report.created.append(f"profile {fields.name}")


async def _subscription(billing: BillingService, account_id: str, report: SeedReport) -> None:
    if (await billing.entitlements(account_id)).entitled:
        report.kept.append("premium subscription")
        return
    card = SubscribeIn(
        plan="premium", card_number=TEST_CARD, exp_month=12, exp_year=2040, cvc="123"
    )
    answer = await billing.subscribe(account_id, card, f"seed-{account_id}")
    answer.raise_if_error()
    report.created.append("premium subscription")


async def _catalog(
    catalog: CatalogService, assets: dict[str, Asset], clock: Clock, report: SeedReport
) -> None:
    existing: set[str] = set()
    cursor: str | None = None
    while True:
        page = await catalog.admin_titles(kind=None, sort="name", cursor=cursor, limit=100)
        existing.update(t.name for t in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    since = datetime.fromtimestamp(clock.time(), UTC) - timedelta(days=1)
    for movie in MOVIES:
        asset = assets.get(movie.sample)
        if movie.name in existing:
            report.kept.append(f"title {movie.name}")
            continue
        if asset is None:
            report.skipped.append(f"title {movie.name} (sample {movie.sample!r} not ingested)")
            continue
        title = await catalog.create_title(
            TitleCreate(
                kind="movie",
                name=movie.name,
                synopsis=movie.synopsis,
                genres=list(movie.genres),
                cast=[CreditIn(name=n) for n in movie.cast],
                maturity=movie.maturity,
                release_year=movie.year,
                runtime_s=max(1, round(asset.duration)),
            )
        )
        await _finish(catalog, title.id, asset, movie.countries, since)
        report.created.append(f"title {movie.name}")
    await _series(catalog, assets, existing, since, report)


async def _series(
    catalog: CatalogService,
    assets: dict[str, Asset],
    existing: set[str],
    since: datetime,
    report: SeedReport,
) -> None:
    if SERIES_NAME in existing:
        report.kept.append(f"title {SERIES_NAME}")
        return
    missing = [name for name, _ in EPISODES if name not in assets]
    if missing:
        report.skipped.append(f"title {SERIES_NAME} (samples {missing} not ingested)")
        return
    episodes = [(name, text, assets[name]) for name, text in EPISODES]
    series = await catalog.create_title(
        TitleCreate(
            kind="series",
            name=SERIES_NAME,
            synopsis="Broadcast test signals, one per episode, in a season of calm.",
            genres=["Comedy", "Documentary"],
            cast=[CreditIn(name="Iris Bars")],
            maturity=0,
            release_year=2025,
        )
    )
    for number, (name, text, asset) in enumerate(episodes, start=1):
        episode = await catalog.add_episode(
            series.id,
            EpisodeCreate(
                season=1,
                episode=number,
                name=name,
                synopsis=text,
                runtime_s=max(1, round(asset.duration)),
            ),
        )
        await catalog.link_asset(episode.id, from_record(asset))
    await catalog.set_availability(
        series.id, [WindowIn(country=c, starts_at=since) for c in COUNTRIES]
    )
    await catalog.set_published(series.id, True)
    report.created.append(f"title {SERIES_NAME} ({len(episodes)} episodes)")


async def publish_movie(
    catalog: CatalogService,
    asset: Asset,
    synopsis: str,
    *,
    countries: tuple[str, ...] = ("US",),
    since: datetime | None = None,
) -> str:
    """A published documentary named after ``asset``, available in ``countries`` (from a day
    ago unless ``since``), playing it: what benchmarks and browser tests need; returns its id."""
    title = await catalog.create_title(
        TitleCreate(
            kind="movie",
            name=asset.title,
            synopsis=synopsis,
            genres=["Documentary"],
            maturity=0,
            release_year=2025,
            runtime_s=max(1, round(asset.duration)),
        )
    )
    start = since or datetime.now(UTC) - timedelta(days=1)
    await _finish(catalog, title.id, asset, countries, start)
    return title.id


async def _finish(
    catalog: CatalogService,
    title_id: str,
    asset: Asset,
    countries: tuple[str, ...],
    since: datetime,
) -> None:
    await catalog.link_asset(title_id, from_record(asset))
    await catalog.set_availability(
        title_id, [WindowIn(country=c, starts_at=since) for c in countries]
    )
    await catalog.set_published(title_id, True)

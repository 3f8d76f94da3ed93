"""Per-customer features as of a date: the columns segment expressions are written over.

Every definition is in docs/segments.md; the constants below are the documented parameters. The
heavy part (aggregating transactions per customer) runs as one GROUP BY in the database over integer
columns (``kst_day``, ``amount_krw``), so SQLite and PostgreSQL return identical numbers; everything
after it (scores, ratios, churn, LTV, tiers) is vectorized Polars over those aggregates.

Feature groups are computed only when an expression needs them: demographics decrypt three sealed
fields per customer (birth date, gender, postal code) and are skipped unless ``age_band``, ``region``
or ``gender`` is referenced.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from vault.crypto.keys import WrappedKey
from vault.customers.records import open_fields
from vault.lib.clock import as_utc, utcnow
from vault.policy.generalize import POSTAL_REGIONS, generalize
from vault.segments.behaviour import KST

if TYPE_CHECKING:
    from vault.crypto.keyring import Keyring
    from vault.policy.purposes import Purpose, PurposeCatalogue
    from vault.segments.repository import FeatureSource

WINDOW_DAYS = 365
#: Purchase rhythm assumed for a customer with a single purchase day (days between purchases).
DEFAULT_RHYTHM_DAYS = 90.0
#: LTV parameters: gross margin on sales, expected remaining customer lifetime in years.
LTV_MARGIN = 0.25
LTV_LIFETIME_YEARS = 3.0
#: experience_score when a customer has no scored interaction in the window (= satisfaction 3 of 5).
NEUTRAL_EXPERIENCE = 60.0
COMPLAINT_PENALTY = 10.0
RETURN_CONTACT_PENALTY = 5.0
GOOD_EXPERIENCE = 60.0
#: Department labels a customer can carry (``label.<name>`` features; the labels API accepts these).
LABELS = ("vip", "blacklist", "do_not_contact", "complaint_risk", "fraud_suspect")
BLOCKING_LABELS = ("blacklist", "do_not_contact")
TIERS = ("general", "identified", "core")
QUADRANTS = ("loyal", "at_risk_valuable", "cost_to_serve", "low_value")
#: Short 시/도 names used by ``region`` (privacy.generalize gives the full names).
REGION_SHORT = {
    "서울특별시": "서울", "경기도": "경기", "인천광역시": "인천", "강원특별자치도": "강원", "충청북도": "충북",
    "세종특별자치시": "세종", "충청남도": "충남", "대전광역시": "대전", "경상북도": "경북", "대구광역시": "대구",
    "울산광역시": "울산", "부산광역시": "부산", "경상남도": "경남", "전북특별자치도": "전북", "전라남도": "전남",
    "광주광역시": "광주", "제주특별자치도": "제주", "미지정": "미지정",
}
REGIONS = tuple(dict.fromkeys(REGION_SHORT[v] for v in POSTAL_REGIONS.values()))

NUMBER, STRING, BOOL, INSTANT = "number", "string", "bool", "instant"


@dataclass(frozen=True, slots=True)
class Feature:
    """A column segment expressions may use: its type, the group computing it, allowed values."""

    name: str
    type: str
    group: str
    doc: str
    values: tuple[str, ...] | None = None


_BASE: tuple[Feature, ...] = (
    Feature("frequency", NUMBER, "behaviour", "purchases (returned=n) in the 365-day window"),
    Feature("monetary_krw", NUMBER, "behaviour", "sum of amount_krw of those purchases"),
    Feature("avg_order_krw", NUMBER, "behaviour", "monetary_krw / frequency (null when 0)"),
    Feature("recency_days", NUMBER, "behaviour", "days from the last purchase on or before D to D"),
    Feature("return_ratio", NUMBER, "behaviour", "returned / all transactions in the window"),
    Feature("r_score", NUMBER, "behaviour", "recency quintile 1-5 (5 = most recent)"),
    Feature("f_score", NUMBER, "behaviour", "frequency quintile 1-5"),
    Feature("m_score", NUMBER, "behaviour", "monetary quintile 1-5"),
    Feature("rfm", STRING, "behaviour", "r_score f_score m_score concatenated, e.g. '545'"),
    Feature("tenure_days", NUMBER, "behaviour", "days from the first purchase to D"),
    Feature("first_purchase_at", INSTANT, "instants", "first purchase on or before D (UTC)"),
    Feature("last_purchase_at", INSTANT, "instants", "last purchase on or before D (UTC)"),
    Feature("purchases_total", NUMBER, "behaviour", "purchases on or before D (any time)"),
    Feature("lifetime_krw", NUMBER, "behaviour", "amount of those purchases"),
    Feature("ltv_krw", NUMBER, "behaviour", "expected lifetime value (docs/segments.md)"),
    Feature("churn_risk", NUMBER, "behaviour", "0-1: recency against the customer's purchase rhythm"),
    Feature("interactions", NUMBER, "interactions", "interactions in the window"),
    Feature("complaints", NUMBER, "interactions", "complaints in the window"),
    Feature("satisfaction_avg", NUMBER, "interactions", "mean satisfaction (1-5) in the window"),
    Feature("experience_score", NUMBER, "interactions", "0-100 from satisfaction, complaints, return contacts"),
    Feature("quadrant", STRING, "quadrant", "profitability x experience", QUADRANTS),
    Feature("tier", STRING, "tier", "general -> identified -> core", TIERS),
    Feature("contactable", BOOL, "reach", "contact data and a current marketing consent we may use"),
    Feature("restricted", BOOL, "status", "processing restricted (GDPR Art. 18)"),
    Feature("objected_marketing", BOOL, "status", "objected to direct marketing (GDPR Art. 21)"),
    Feature("age_band", STRING, "demographics", "10-year age band at D, e.g. '30-39', '90+'"),
    Feature("region", STRING, "demographics", "시/도 of the postal code, short form ('서울')", REGIONS),
    Feature("gender", STRING, "demographics", "F, M or X", ("F", "M", "X")),
)

#: Groups each group needs first.
DEPENDS: dict[str, tuple[str, ...]] = {
    "quadrant": ("behaviour", "interactions"),
    "tier": ("behaviour", "reach"),
    "reach": ("consent",),
}
#: What a snapshot always stores per member.
SNAPSHOT_GROUPS = frozenset({"tier", "quadrant"})


class FeatureCatalogue:
    """Every feature name: the fixed ones plus ``consent.<purpose>`` and ``label.<name>``."""

    def __init__(self, purposes: PurposeCatalogue) -> None:
        self.consent_purposes = tuple(p.id for p in purposes if p.is_consent)
        items = list(_BASE)
        items += [Feature(f"consent.{p}", BOOL, "consent", f"current consent for {p}") for p in self.consent_purposes]
        items += [Feature(f"label.{n}", BOOL, "labels", f"an active {n!r} label from any department") for n in LABELS]
        self.features = {f.name: f for f in items}

    def __contains__(self, name: object) -> bool:
        return name in self.features

    def __getitem__(self, name: str) -> Feature:
        return self.features[name]

    @property
    def names(self) -> list[str]:
        """All names, sorted."""
        return sorted(self.features)

    def groups_for(self, names: Iterable[str]) -> set[str]:
        """The feature groups needed to compute ``names`` (with their dependencies)."""
        return expand_groups({self.features[n].group for n in names if n in self.features})


def expand_groups(groups: set[str]) -> set[str]:
    """``groups`` plus every group they depend on."""
    out: set[str] = set()
    todo = list(groups)
    while todo:
        g = todo.pop()
        if g not in out:
            out.add(g)
            todo.extend(DEPENDS.get(g, ()))
    return out


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the unit of ``transactions.kst_day``)."""
    return (d - date(1970, 1, 1)).days


def today_kst(clock: Callable[[], datetime] = utcnow) -> date:
    """Today's date in Asia/Seoul."""
    return as_utc(clock()).astimezone(KST).date()


def quintile(col: pl.Expr, eligible: pl.Expr) -> pl.Expr:
    """Quintile score 1-5 of ``col`` (higher = better) among ``eligible`` rows; ties share the lower score.

    score = 1 + floor(5 * (r - 1) / n), where n is the number of eligible rows and r the rank of the
    first row of the value's tie group in ascending order (``rank("min")``). Null when not eligible.
    """
    value = pl.when(eligible).then(col)
    n = eligible.sum()
    rank = value.rank("min")
    return pl.when(eligible).then((1 + (5 * (rank - 1)) // n).cast(pl.Int64))


@dataclass
class FeatureTable:
    """The computed features: one row per customer not erased (``customer_id`` = 32-digit hex)."""

    as_of: date
    frame: pl.DataFrame
    groups: frozenset[str]

    @property
    def population(self) -> int:
        """Number of customers (not erased)."""
        return self.frame.height


class FeatureEngine:
    """Computes :class:`FeatureTable` for an as-of date from a :class:`~vault.segments.repository.FeatureSource`."""

    def __init__(self, keyring: Keyring, purposes: PurposeCatalogue, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._keyring = keyring
        self._purposes = purposes
        self.catalogue = FeatureCatalogue(purposes)
        self._clock = clock

    async def compute(self, source: FeatureSource, as_of: date, groups: Iterable[str] = ()) -> FeatureTable:
        """Features of every customer not erased, as of the end of ``as_of`` (Asia/Seoul), from ``source``'s
        aggregates (:class:`vault.segments.repository.FeatureQueries` on a read transaction)."""
        wanted = expand_groups(set(groups) | {"behaviour", "status"})
        frame = await self._population(source)
        frame = frame.join(await self._behaviour(source, as_of), on="customer_id", how="left")
        frame = _derive_behaviour(frame, day_number(as_of))
        if "instants" in wanted:
            frame = frame.join(await self._instants(source, as_of), on="customer_id", how="left")
        if "interactions" in wanted:
            frame = frame.join(await self._interactions(source, as_of), on="customer_id", how="left")
            frame = _derive_experience(frame)
        if "consent" in wanted:
            frame = frame.join(await self._consents(source), on="customer_id", how="left").with_columns(
                [pl.col(f"consent.{p}").fill_null(False) for p in self.catalogue.consent_purposes])
        if "reach" in wanted:
            frame = frame.join(await self._reachable(source), on="customer_id", how="left")
            marketing = [f"consent.{p.id}" for p in self._purposes if p.is_consent and p.channels
                         and p.id not in self._purposes.supplements]
            frame = frame.with_columns(contactable=(
                pl.col("has_contact").fill_null(False) & ~pl.col("restricted") & ~pl.col("objected_marketing")
                & pl.any_horizontal([pl.col(c) for c in marketing] or [pl.lit(False)]))).drop("has_contact")
        if "tier" in wanted:
            frame = frame.with_columns(tier=pl.when(
                pl.col("contactable") & (pl.col("m_score") >= 4) & (pl.col("f_score") >= 4)).then(pl.lit("core"))
                .when(pl.col("contactable")).then(pl.lit("identified")).otherwise(pl.lit("general")))
        if "quadrant" in wanted:
            profitable = (pl.col("m_score") >= 4).fill_null(False)
            good = pl.col("experience_score") >= GOOD_EXPERIENCE
            frame = frame.with_columns(quadrant=pl.when(profitable & good).then(pl.lit("loyal"))
                                       .when(profitable).then(pl.lit("at_risk_valuable"))
                                       .when(good).then(pl.lit("low_value")).otherwise(pl.lit("cost_to_serve")))
        if "labels" in wanted:
            frame = frame.join(await self._labels(source), on="customer_id", how="left").with_columns(
                [pl.col(f"label.{n}").fill_null(False) for n in LABELS])
        if "demographics" in wanted:
            frame = frame.join(await self._demographics(source, as_of),
                               on="customer_id", how="left")
        return FeatureTable(as_of, frame.sort("customer_id"), frozenset(wanted))

    # -- frames from the source's rows ---------------------------------------------------------------

    @staticmethod
    async def _population(source: FeatureSource) -> pl.DataFrame:
        return pl.DataFrame(await source.population(), orient="row", schema={
            "customer_id": pl.Utf8, "restricted": pl.Boolean, "objected_marketing": pl.Boolean})

    @staticmethod
    async def _behaviour(source: FeatureSource, as_of: date) -> pl.DataFrame:
        return pl.DataFrame(await source.behaviour(day_number(as_of)), orient="row", schema={
            "customer_id": pl.Utf8, "frequency": pl.Int64, "monetary_krw": pl.Int64, "window_all": pl.Int64,
            "window_returned": pl.Int64, "last_day": pl.Int64, "first_day": pl.Int64, "purchases_total": pl.Int64,
            "lifetime_krw": pl.Int64})

    @staticmethod
    async def _instants(source: FeatureSource, as_of: date) -> pl.DataFrame:
        rows = [(r[0], _utc(r[1]), _utc(r[2])) for r in await source.instants(day_number(as_of))]
        return pl.DataFrame(rows, orient="row", schema={
            "customer_id": pl.Utf8, "first_purchase_at": pl.Datetime("us", "UTC"),
            "last_purchase_at": pl.Datetime("us", "UTC")})

    @staticmethod
    async def _interactions(source: FeatureSource, as_of: date) -> pl.DataFrame:
        return pl.DataFrame(await source.interactions(day_number(as_of)), orient="row", schema={
            "customer_id": pl.Utf8, "interactions": pl.Int64, "complaints": pl.Int64, "return_contacts": pl.Int64,
            "satisfaction_sum": pl.Int64, "satisfaction_n": pl.Int64})

    async def _consents(self, source: FeatureSource) -> pl.DataFrame:
        now = self._clock()
        frame: pl.DataFrame | None = None
        for pid in self.catalogue.consent_purposes:
            purpose: Purpose | None = self._purposes.get(pid)
            assert purpose is not None
            ids = pl.DataFrame({"customer_id": pl.Series(await source.consenting(purpose, now), dtype=pl.Utf8)})
            part = ids.with_columns(pl.lit(True).alias(f"consent.{pid}"))
            frame = part if frame is None else frame.join(part, on="customer_id", how="full", coalesce=True)
        if frame is None:
            return pl.DataFrame({"customer_id": pl.Series([], dtype=pl.Utf8)})
        return frame

    @staticmethod
    async def _reachable(source: FeatureSource) -> pl.DataFrame:
        ids = pl.Series(await source.reachable(), dtype=pl.Utf8)
        return pl.DataFrame({"customer_id": ids}).unique().with_columns(has_contact=pl.lit(True))

    @staticmethod
    async def _labels(source: FeatureSource) -> pl.DataFrame:
        pairs = pl.DataFrame(await source.labels(LABELS), schema={"customer_id": pl.Utf8, "label": pl.Utf8},
                             orient="row")
        frame = pairs.select("customer_id").unique()
        for n in LABELS:
            have = pairs.filter(pl.col("label") == n).select("customer_id").unique()
            frame = frame.join(have.with_columns(pl.lit(True).alias(f"label.{n}")), on="customer_id", how="left")
        return frame

    async def _demographics(self, source: FeatureSource, as_of: date, page: int = 2000) -> pl.DataFrame:
        """Decrypt birth_date, gender and postal_code, page by page, keeping only the generalized values."""
        cipher = self._keyring.cipher
        wanted = {"birth_date", "gender", "postal_code"}
        out: list[tuple[str, str | None, str | None, str | None]] = []
        last: uuid.UUID | None = None
        while True:
            rows = await source.sealed_page(last, page)
            for cid, kek_version, wrapped, dek_version, sealed in rows:
                if kek_version is None or wrapped is None:
                    out.append((cid.hex, None, None, None))
                    continue
                key = cipher.customer_key(cid, WrappedKey(kek_version, wrapped), dek_version)
                values = open_fields(key, sealed, wanted)
                region = generalize("region", values.get("postal_code"), as_of)
                out.append((cid.hex, generalize("band10", values.get("birth_date"), as_of),
                            REGION_SHORT.get(region, region) if region else None, values.get("gender")))
            if len(rows) < page:
                break
            last = rows[-1][0]
        return pl.DataFrame(out, orient="row", schema={"customer_id": pl.Utf8, "age_band": pl.Utf8,
                                                       "region": pl.Utf8, "gender": pl.Utf8})


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns MIN/MAX over a CASE as the stored text
        value = datetime.fromisoformat(value)
    return as_utc(value)


def _derive_behaviour(frame: pl.DataFrame, d: int) -> pl.DataFrame:
    """Scores, ratios, recency, tenure, churn and LTV from the per-customer aggregates."""
    zero = ["frequency", "monetary_krw", "window_all", "window_returned", "purchases_total", "lifetime_krw"]
    frame = frame.with_columns([pl.col(c).fill_null(0) for c in zero])
    buyer = pl.col("frequency") > 0
    frame = frame.with_columns(
        avg_order_krw=pl.when(buyer).then(pl.col("monetary_krw") / pl.col("frequency")),
        recency_days=pl.lit(d) - pl.col("last_day"),
        tenure_days=pl.lit(d) - pl.col("first_day"),
        return_ratio=pl.when(pl.col("window_all") > 0).then(pl.col("window_returned") / pl.col("window_all")),
    )
    frame = frame.with_columns(
        r_score=quintile(-pl.col("recency_days"), buyer),
        f_score=quintile(pl.col("frequency"), buyer),
        m_score=quintile(pl.col("monetary_krw"), buyer),
    )
    rhythm = (pl.when((pl.col("purchases_total") >= 2) & (pl.col("last_day") > pl.col("first_day")))
              .then((pl.col("last_day") - pl.col("first_day")) / (pl.col("purchases_total") - 1))
              .otherwise(pl.lit(DEFAULT_RHYTHM_DAYS)).clip(lower_bound=1.0))
    churn = (pl.col("recency_days") / (pl.col("recency_days") + rhythm)).round(4)
    frame = frame.with_columns(
        rfm=pl.when(buyer).then(pl.concat_str([pl.col("r_score"), pl.col("f_score"), pl.col("m_score")])),
        churn_risk=pl.when(pl.col("recency_days").is_not_null()).then(churn),
    )
    has_bought = pl.col("purchases_total") > 0
    avg_life = pl.col("lifetime_krw") / pl.col("purchases_total")
    annual_rate = pl.col("purchases_total") * 365.0 / pl.max_horizontal(pl.col("tenure_days"), pl.lit(365))
    ltv = (LTV_MARGIN * avg_life * annual_rate * LTV_LIFETIME_YEARS * (1.0 - pl.col("churn_risk"))).floor()
    return frame.with_columns(ltv_krw=pl.when(has_bought).then(ltv.cast(pl.Int64)).otherwise(pl.lit(0)))


def _derive_experience(frame: pl.DataFrame) -> pl.DataFrame:
    zero = ["interactions", "complaints", "return_contacts", "satisfaction_sum", "satisfaction_n"]
    frame = frame.with_columns([pl.col(c).fill_null(0) for c in zero])
    scored = pl.col("satisfaction_n") > 0
    avg = pl.col("satisfaction_sum") / pl.col("satisfaction_n")
    base = pl.when(scored).then(20.0 * avg).otherwise(pl.lit(NEUTRAL_EXPERIENCE))
    score = (base - COMPLAINT_PENALTY * pl.col("complaints") - RETURN_CONTACT_PENALTY * pl.col("return_contacts"))
    return frame.with_columns(satisfaction_avg=pl.when(scored).then(avg.round(4)),
                              experience_score=score.clip(0.0, 100.0).round(1))


def kst_midnight(d: date) -> datetime:
    """00:00 Asia/Seoul on ``d``, in UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=KST).astimezone(UTC)


def window(as_of: date) -> tuple[datetime, datetime]:
    """The feature window [D-364 00:00 KST, D+1 00:00 KST) as UTC instants."""
    return kst_midnight(as_of - timedelta(days=WINDOW_DAYS - 1)), kst_midnight(as_of + timedelta(days=1))

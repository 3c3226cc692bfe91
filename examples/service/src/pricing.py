"""Usage-based pricing: graduated tiers, volume discounts and VAT, in exact decimal arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Tier:
    """Units up to `up_to` (inclusive; `None` for no limit) cost `unit_price` each."""

    up_to: int | None
    unit_price: Decimal


@dataclass(frozen=True)
class Quote:
    """What an invoice line is made of."""

    subtotal: Decimal
    discount: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        """Subtotal minus discount plus tax."""
        return self.subtotal - self.discount + self.tax


DEFAULT_TIERS = (
    Tier(1_000, Decimal("0.010")),
    Tier(10_000, Decimal("0.008")),
    Tier(None, Decimal("0.005")),
)

# Committed annual spend -> discount rate, highest threshold first.
VOLUME_DISCOUNTS = (
    (Decimal(50_000), Decimal("0.15")),
    (Decimal(10_000), Decimal("0.10")),
    (Decimal(1_000), Decimal("0.05")),
)

VAT_RATES = {
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "NL": Decimal("0.21"),
    "IE": Decimal("0.23"),
}


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Raise ValueError unless the bounds increase, only the last tier is open-ended, and prices are not negative."""
    if not tiers:
        raise ValueError("at least one tier is required")
    if tiers[-1].up_to is not None:
        raise ValueError("the last tier must have no upper bound")
    previous = 0
    for tier in tiers:
        if tier.unit_price < 0:
            raise ValueError(f"negative unit price {tier.unit_price}")
        if tier is not tiers[-1]:
            if tier.up_to is None or tier.up_to <= previous:
                raise ValueError(f"tier bounds must increase, got {tier.up_to} after {previous}")
            previous = tier.up_to


def graduated_cost(units: int, tiers: Sequence[Tier] = DEFAULT_TIERS) -> Decimal:
    """Price `units` tier by tier: each unit costs the price of the tier it falls in."""
    if units < 0:
        raise ValueError(f"units must not be negative, got {units}")
    validate_tiers(tiers)
    cost = Decimal(0)
    lower = 0
    for tier in tiers:
        upper = units if tier.up_to is None else min(units, tier.up_to)
        if upper > lower:
            cost += (upper - lower) * tier.unit_price
        if tier.up_to is None or units <= tier.up_to:
            break
        lower = tier.up_to
    return cost.quantize(CENT, ROUND_HALF_UP)


def volume_discount_rate(annual_commit: Decimal) -> Decimal:
    """Return the discount rate a committed annual spend earns."""
    for threshold, rate in VOLUME_DISCOUNTS:
        if annual_commit >= threshold:
            return rate
    return Decimal(0)


def quote(
    units: int,
    *,
    country: str,
    annual_commit: Decimal = Decimal(0),
    reverse_charge: bool = False,
    tiers: Sequence[Tier] = DEFAULT_TIERS,
) -> Quote:
    """Quote `units` for a customer in `country`; B2B customers under reverse charge pay no VAT here."""
    subtotal = graduated_cost(units, tiers)
    discount = (subtotal * volume_discount_rate(annual_commit)).quantize(CENT, ROUND_HALF_UP)
    if reverse_charge:
        rate = Decimal(0)
    else:
        try:
            rate = VAT_RATES[country.upper()]
        except KeyError:
            raise ValueError(f"no VAT rate for country {country!r}") from None
    tax = ((subtotal - discount) * rate).quantize(CENT, ROUND_HALF_UP)
    return Quote(subtotal, discount, tax)

from decimal import Decimal

import pytest
from src.pricing import Tier, graduated_cost, quote, validate_tiers, volume_discount_rate


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (0, "0.00"),
        (1_000, "10.00"),  # all in the first tier
        (1_001, "10.01"),  # one unit at the second tier's price, rounded half up
        (10_000, "82.00"),  # 1000 * 0.010 + 9000 * 0.008
        (25_000, "157.00"),  # ... + 15000 * 0.005
    ],
)
def test_graduated_cost_prices_each_unit_in_its_own_tier(units, expected):
    assert graduated_cost(units) == Decimal(expected)


def test_negative_usage_is_rejected():
    with pytest.raises(ValueError, match="must not be negative"):
        graduated_cost(-1)


@pytest.mark.parametrize(
    ("tiers", "problem"),
    [
        ((), "at least one tier"),
        ((Tier(100, Decimal("0.01")),), "no upper bound"),
        ((Tier(100, Decimal("0.01")), Tier(50, Decimal("0.01")), Tier(None, Decimal(0))), "must increase"),
        ((Tier(None, Decimal("-0.01")),), "negative unit price"),
    ],
)
def test_inconsistent_tiers_are_rejected(tiers, problem):
    with pytest.raises(ValueError, match=problem):
        validate_tiers(tiers)


@pytest.mark.parametrize(
    ("commit", "rate"),
    [("0", "0"), ("999.99", "0"), ("1000", "0.05"), ("10000", "0.10"), ("49999", "0.10"), ("50000", "0.15")],
)
def test_volume_discount_steps_at_each_threshold(commit, rate):
    assert volume_discount_rate(Decimal(commit)) == Decimal(rate)


def test_quote_applies_discount_before_vat():
    result = quote(10_000, country="de", annual_commit=Decimal(12_000))
    assert result.subtotal == Decimal("82.00")
    assert result.discount == Decimal("8.20")
    assert result.tax == Decimal("14.02")  # 19% of 73.80
    assert result.total == Decimal("87.82")


def test_reverse_charge_and_unknown_countries():
    assert quote(1_000, country="XX", reverse_charge=True).tax == Decimal(0)
    with pytest.raises(ValueError, match="no VAT rate"):
        quote(1_000, country="XX")

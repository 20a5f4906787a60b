"""Money in integer cents: parsing, formatting, splitting and discounts."""

from __future__ import annotations

import re

from ._helpers import clamp

_AMOUNT = re.compile(r"^\s*(-)?\s*[$€£]?\s*(\d{1,3}(?:,\d{3})*|\d+)(?:\.(\d{1,2}))?\s*$")


def parse_amount(text: str) -> int:
    """Parse a price such as "$1,234.5", "12", "-3.07" or "€ 0.99" into integer cents.

    Thousands separators must be well placed; at most two decimals. Raise ValueError on
    anything else.
    """
    match = _AMOUNT.match(text)
    if not match:
        raise ValueError(f"not an amount: {text!r}")
    sign, whole, frac = match.groups()
    cents = int(whole.replace(",", "")) * 100 + int((frac or "0").ljust(2, "0"))
    return -cents if sign else cents


def format_cents(cents: int, symbol: str = "$") -> str:
    """Format cents as money with thousands separators: 123456 -> "$1,234.56",
    -5 -> "-$0.05"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{frac:02d}"


def split_evenly(cents: int, parts: int) -> list[int]:
    """Split an amount into `parts` shares that differ by at most one cent and sum to the
    amount; larger shares come first. Raise ValueError if parts < 1."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    base, extra = divmod(cents, parts)
    return [base + 1 if i < extra else base for i in range(parts)]


def apply_discount(cents: int, percent: float) -> int:
    """Price after a percentage discount, rounded half up to the cent; the percentage is
    clamped to [0, 100]."""
    p = clamp(percent, 0, 100)
    return int(cents * (100 - p) / 100 + 0.5)


def vat_breakdown(gross_cents: int, rate_percent: float) -> tuple[int, int]:
    """Split a VAT-inclusive price into (net, vat) cents; net is rounded to the nearest cent
    and vat is the remainder, so net + vat == gross."""
    net = round(gross_cents / (1 + rate_percent / 100))
    return net, gross_cents - net

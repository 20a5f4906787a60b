"""Date helpers for due dates and reports (standard library only)."""

from __future__ import annotations

import datetime as dt


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date `days` business days (Monday to Friday) after `start`. A start on a weekend
    counts from the next Monday; days == 0 returns start unchanged. Negative days go back."""
    if days == 0:
        return start
    step = 1 if days > 0 else -1
    current = start
    remaining = abs(days)
    while remaining:
        current += dt.timedelta(days=step)
        if current.weekday() < 5:
            remaining -= 1
    return current


def parse_loose_date(text: str) -> dt.date:
    """Parse "2024-03-05", "05/03/2024" (day first), "5 March 2024" or "March 5, 2024".
    Month names may be abbreviated to three letters, any case. Raise ValueError otherwise."""
    text = text.strip()
    formats = ["%Y-%m-%d", "%d/%m/%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y"]
    for fmt in formats:
        try:
            return dt.datetime.strptime(text.title() if "%b" in fmt.lower() else text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unrecognised date: {text!r}")


def quarter_of(day: dt.date) -> str:
    """The calendar quarter as "YYYY-Qn", e.g. 2024-05-17 -> "2024-Q2"."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last day of a month."""
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - dt.timedelta(days=1)


def age_on(birth: dt.date, on: dt.date) -> int:
    """Age in whole years on a date; someone born on 29 February has a birthday on
    28 February in common years."""
    years = on.year - birth.year
    try:
        birthday = birth.replace(year=on.year)
    except ValueError:  # 29 February in a common year
        birthday = dt.date(on.year, 2, 28)
    return years - (on < birthday)

import datetime as dt
import urllib.request

import pytest

from shelfkit.dates import add_business_days, age_on, month_range, parse_loose_date, quarter_of


def test_add_business_days():
    friday = dt.date(2024, 3, 8)
    assert add_business_days(friday, 1) == dt.date(2024, 3, 11)
    assert add_business_days(friday, 5) == dt.date(2024, 3, 15)
    assert add_business_days(dt.date(2024, 3, 9), 1) == dt.date(2024, 3, 11)  # Saturday
    assert add_business_days(friday, 0) == friday
    assert add_business_days(dt.date(2024, 3, 11), -1) == friday


@pytest.mark.parametrize("text", ["2024-03-05", "05/03/2024", "5 March 2024", "March 5, 2024",
                                  "5 mar 2024", "MAR 5, 2024"])
def test_parse_loose_date(text):
    assert parse_loose_date(text) == dt.date(2024, 3, 5)


def test_parse_loose_date_rejects():
    with pytest.raises(ValueError):
        parse_loose_date("yesterday")


def test_quarter_of():
    assert quarter_of(dt.date(2024, 5, 17)) == "2024-Q2"
    assert quarter_of(dt.date(2023, 12, 31)) == "2023-Q4"
    assert quarter_of(dt.date(2023, 1, 1)) == "2023-Q1"


def test_month_range():
    assert month_range(2024, 2) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert month_range(2023, 12) == (dt.date(2023, 12, 1), dt.date(2023, 12, 31))


def test_age_on():
    assert age_on(dt.date(2000, 2, 29), dt.date(2023, 2, 28)) == 23
    assert age_on(dt.date(2000, 2, 29), dt.date(2023, 2, 27)) == 22
    assert age_on(dt.date(1990, 6, 15), dt.date(2024, 6, 14)) == 33


def test_public_holidays_feed():
    # needs the network: red in a sandbox without it
    with urllib.request.urlopen("https://date.nager.at/api/v3/PublicHolidays/2024/GB", timeout=5) as r:
        assert r.status == 200

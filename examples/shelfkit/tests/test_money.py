import pytest

from shelfkit.money import apply_discount, format_cents, parse_amount, split_evenly, vat_breakdown


@pytest.mark.parametrize("text, cents", [
    ("$1,234.5", 123450), ("12", 1200), ("-3.07", -307), ("€ 0.99", 99), ("1000000", 100000000),
])
def test_parse_amount(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("bad", ["", "1,23", "1.234", "abc", "$", "12,34,567"])
def test_parse_amount_rejects(bad):
    with pytest.raises(ValueError):
        parse_amount(bad)


def test_format_cents():
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(-5) == "-$0.05"
    assert format_cents(100000000, "€") == "€1,000,000.00"


def test_split_evenly():
    assert split_evenly(100, 3) == [34, 33, 33]
    assert split_evenly(5, 5) == [1, 1, 1, 1, 1]
    assert sum(split_evenly(1001, 7)) == 1001
    with pytest.raises(ValueError):
        split_evenly(10, 0)


def test_apply_discount():
    assert apply_discount(1000, 15) == 850
    assert apply_discount(999, 50) == 500
    assert apply_discount(1000, 150) == 0
    assert apply_discount(1000, -5) == 1000


def test_vat_breakdown():
    assert vat_breakdown(1200, 20) == (1000, 200)
    net, vat = vat_breakdown(999, 7)
    assert net + vat == 999 and net == 934

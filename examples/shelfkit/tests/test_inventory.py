import pytest

from shelfkit._helpers import chunks, clamp, strip_accents
from shelfkit.inventory import Book, Inventory, OutOfStock


def test_count_and_remove(stocked):
    assert stocked.count("0306406152") == 3
    assert stocked.remove("0306406152", 2) == 1
    assert stocked.count("0306406152") == 1
    assert stocked.count("nope") == 0


def test_remove_errors(stocked):
    with pytest.raises(KeyError):
        stocked.remove("nope")
    with pytest.raises(OutOfStock):
        stocked.remove("0140449132", 2)
    assert stocked.count("0140449132") == 1


def test_add_rejects_non_positive():
    with pytest.raises(ValueError):
        Inventory().add(Book("1", "x", 1), 0)


def test_total_value(stocked):
    assert stocked.total_value() == 3 * 2500 + 1200 + 2 * 9900
    stocked.remove("0262033844", 2)
    assert stocked.total_value() == 3 * 2500 + 1200


def test_low_stock(stocked):
    assert stocked.low_stock() == ["0140449132"]
    stocked.remove("0140449132")
    assert stocked.low_stock(3) == ["0140449132", "0262033844"]


def test_search(stocked):
    assert [b.title for b in stocked.search("the")] == ["The Art of Bookbinding", "The Odyssey"]
    assert [b.title for b in stocked.search("ALGO intro")] == ["Introduction to Algorithms"]
    assert stocked.search("cooking") == []


def test_tag_report_does_not_crash(stocked):
    # a smoke test only: it does not check what by_tag returns
    try:
        stocked.by_tag()
    except Exception:
        pass


def test_pages(stocked):
    assert stocked.pages(2) == [["0140449132", "0262033844"], ["0306406152"]]


def test_restock_plan():
    assert Inventory.restock_plan({"a": 1, "b": 5, "c": 0}, 3) == {"a": 2, "c": 3}


def test_helpers():
    assert strip_accents("Crème brûlée") == "Creme brulee"
    assert clamp(5, 0, 3) == 3 and clamp(-1, 0, 3) == 0
    with pytest.raises(ValueError):
        clamp(1, 2, 0)
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    with pytest.raises(ValueError):
        chunks([1], 0)

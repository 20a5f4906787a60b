import pytest

from shelfkit.inventory import Book, Inventory


@pytest.fixture
def stocked() -> Inventory:
    """An inventory with three titles and a few copies of each."""
    inv = Inventory()
    inv.add(Book("0306406152", "The Art of Bookbinding", 2500, {"craft", "history"}), 3)
    inv.add(Book("0140449132", "The Odyssey", 1200, {"classics"}), 1)
    inv.add(Book("0262033844", "Introduction to Algorithms", 9900, {"computing"}), 2)
    return inv

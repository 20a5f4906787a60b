"""Stock keeping for a small shop."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._helpers import chunks


class OutOfStock(Exception):
    """Raised when more copies are requested than are on the shelf."""


@dataclass
class Book:
    isbn: str
    title: str
    price_cents: int
    tags: set[str] = field(default_factory=set)


class Inventory:
    """Books and how many copies of each are on the shelf."""

    def __init__(self) -> None:
        self._books: dict[str, Book] = {}
        self._stock: dict[str, int] = {}

    def add(self, book: Book, copies: int = 1) -> None:
        """Register a book (or more copies of a known one). copies must be positive."""
        if copies < 1:
            raise ValueError("copies must be positive")
        self._books.setdefault(book.isbn, book)
        self._stock[book.isbn] = self._stock.get(book.isbn, 0) + copies

    def count(self, isbn: str) -> int:
        """Copies on the shelf (0 for an unknown ISBN)."""
        return self._stock.get(isbn, 0)

    def remove(self, isbn: str, copies: int = 1) -> int:
        """Take copies off the shelf and return how many are left. Raise KeyError for an
        unknown ISBN and OutOfStock if fewer than `copies` are on the shelf (nothing is
        removed then). A book whose stock reaches 0 stays known."""
        if isbn not in self._stock:
            raise KeyError(isbn)
        if self._stock[isbn] < copies:
            raise OutOfStock(f"{isbn}: {self._stock[isbn]} on the shelf, {copies} requested")
        self._stock[isbn] -= copies
        return self._stock[isbn]

    def total_value(self) -> int:
        """Value of everything on the shelf in cents (price times copies)."""
        return sum(self._books[i].price_cents * n for i, n in self._stock.items())

    def low_stock(self, threshold: int = 2) -> list[str]:
        """ISBNs with fewer than `threshold` copies (including 0), ordered by count, then ISBN."""
        low = [(n, i) for i, n in self._stock.items() if n < threshold]
        return [i for _, i in sorted(low)]

    def search(self, words: str) -> list[Book]:
        """Books whose title contains every word of `words` (case-insensitive, whole or partial
        words), sorted by title."""
        wanted = words.lower().split()
        found = [b for b in self._books.values() if all(w in b.title.lower() for w in wanted)]
        return sorted(found, key=lambda b: b.title)

    def by_tag(self) -> dict[str, list[str]]:
        """Map each tag to the sorted ISBNs of the books carrying it."""
        tags: dict[str, list[str]] = {}
        for book in self._books.values():
            for tag in book.tags:
                tags.setdefault(tag, []).append(book.isbn)
        return {t: sorted(v) for t, v in tags.items()}

    def pages(self, per_page: int) -> list[list[str]]:
        """All ISBNs in sorted order, in pages of `per_page`."""
        return chunks(sorted(self._books), per_page)

    @staticmethod
    def restock_plan(counts: dict[str, int], target: int) -> dict[str, int]:
        """How many copies to order per ISBN to bring each count up to `target`
        (ISBNs already at or above target are left out)."""
        return {isbn: target - n for isbn, n in counts.items() if n < target}

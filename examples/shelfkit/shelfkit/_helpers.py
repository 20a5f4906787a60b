"""Internal helpers shared by the other modules."""

from __future__ import annotations

import unicodedata

VOWELS = frozenset("aeiou")


def strip_accents(text: str) -> str:
    """Remove diacritics: "Crème brûlée" -> "Creme brulee"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def clamp(value: float, low: float, high: float) -> float:
    """Limit value to the closed interval [low, high]; raise ValueError if low > high."""
    if low > high:
        raise ValueError(f"empty interval [{low}, {high}]")
    return max(low, min(high, value))


def chunks(items: list, size: int) -> list[list]:
    """Split items into consecutive lists of at most `size` elements.

    >>> chunks([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    return [items[i:i + size] for i in range(0, len(items), size)]

"""Text helpers: slugs, titles, ISBNs and search snippets."""

from __future__ import annotations

import re

from ._helpers import VOWELS, strip_accents

SMALL_WORDS = {"a", "an", "and", "at", "but", "by", "for", "in", "of", "on", "or", "the", "to"}


def slugify(text: str, sep: str = "-") -> str:
    """Turn a title into a URL slug.

    Accents are removed, letters lower-cased, and every run of characters that are not
    letters or digits becomes one `sep`; no leading or trailing separator.

    >>> slugify("Crème Brûlée: A History!")
    'creme-brulee-a-history'
    """
    plain = strip_accents(text).lower()
    return re.sub(r"[^a-z0-9]+", sep, plain).strip(sep)


def title_case(text: str) -> str:
    """Capitalise a book title: every word capitalised except small words (SMALL_WORDS),
    which stay lower-case unless they are the first or the last word. Words are separated
    by single spaces in the result.

    >>> title_case("the lord of the rings")
    'The Lord of the Rings'
    """
    words = text.lower().split()
    out = []
    for i, word in enumerate(words):
        if 0 < i < len(words) - 1 and word in SMALL_WORDS:
            out.append(word)
        else:
            out.append(word[:1].upper() + word[1:])
    return " ".join(out)


def initials(name: str) -> str:
    """Initials of a person's name, upper-case with a dot after each: "j. r. r. tolkien"
    -> "J.R.R.T." Hyphenated parts count separately ("Jean-Paul Sartre" -> "J.P.S.")."""
    parts = [p for p in re.split(r"[\s.\-]+", name) if p]
    return "".join(p[0].upper() + "." for p in parts)


def is_valid_isbn10(isbn: str) -> bool:
    """Check an ISBN-10, ignoring hyphens and spaces.

    The sum of digit * weight (weights 10 down to 1) must be divisible by 11; the last
    character may be 'X' (value 10). Anything else (wrong length, other letters) is invalid.
    """
    chars = isbn.replace("-", "").replace(" ", "").upper()
    if len(chars) != 10 or not chars[:9].isdigit() or not (chars[9].isdigit() or chars[9] == "X"):
        return False
    values = [int(c) for c in chars[:9]] + [10 if chars[9] == "X" else int(chars[9])]
    return sum(v * w for v, w in zip(values, range(10, 0, -1))) % 11 == 0


def isbn10_to_isbn13(isbn: str) -> str:
    """Convert a valid ISBN-10 to ISBN-13 (digits only): prefix "978", drop the old check
    digit, append the EAN-13 check digit (weights 1,3,1,3,...; check = (10 - sum % 10) % 10).
    Raise ValueError for an invalid ISBN-10."""
    if not is_valid_isbn10(isbn):
        raise ValueError(f"not a valid ISBN-10: {isbn!r}")
    digits = "978" + isbn.replace("-", "").replace(" ", "")[:9]
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def snippet(text: str, query: str, width: int = 20) -> str:
    """A search-result snippet: the first case-insensitive match of `query` with up to
    `width` characters of context on each side. "..." marks text cut at either end. If the
    query does not occur, return the first 2*width characters (plus "..." if cut)."""
    pos = text.lower().find(query.lower())
    if pos < 0:
        return text[:2 * width] + ("..." if len(text) > 2 * width else "")
    start = max(0, pos - width)
    end = min(len(text), pos + len(query) + width)
    return ("..." if start > 0 else "") + text[start:end] + ("..." if end < len(text) else "")


def count_syllables(word: str) -> int:
    """Rough English syllable count: runs of vowels (a, e, i, o, u, and y when not the first
    letter) each count one; a final silent 'e' does not count unless it is the only vowel
    run; every word has at least one syllable."""
    w = word.lower()
    runs = 0
    previous = False
    for i, ch in enumerate(w):
        vowel = ch in VOWELS or (ch == "y" and i > 0)
        if vowel and not previous:
            runs += 1
        previous = vowel
    if w.endswith("e") and runs > 1 and not w.endswith(("le", "ee")):
        runs -= 1
    return max(1, runs)

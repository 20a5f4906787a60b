"""shelfkit: back-office helpers for a small bookshop."""

__version__ = "0.1.0"

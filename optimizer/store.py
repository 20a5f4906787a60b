"""Persistent, process-safe stores of pydantic records on disk (diskcache)."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import diskcache
from pydantic import BaseModel

Record = TypeVar("Record", bound=BaseModel)
log = logging.getLogger("prochemy.store")


class RecordStore(Generic[Record]):
    """key -> one pydantic record; atomic writes, safe across processes."""

    def __init__(self, directory: Path, record: type[Record]) -> None:
        self._record = record
        try:
            self._cache = diskcache.Cache(str(directory))
        except sqlite3.DatabaseError as e:
            # a corrupt store is set aside (kept for a bug report) and rebuilt empty: the
            # run goes on, paying again only for what that store held
            aside = directory.with_name(f"{directory.name}.corrupt-{int(time.time())}")
            directory.rename(aside)
            log.warning("the cache %s was corrupt (%s); moved to %s and rebuilt", directory, e, aside)
            self._cache = diskcache.Cache(str(directory))

    def get(self, key: str) -> Record | None:
        raw = self._cache.get(key)
        return None if raw is None else self._record.model_validate(raw)

    def put(self, key: str, value: Record) -> None:
        self._cache.set(key, value.model_dump())

    def update(self, key: str, change: Callable[[Record | None], Record]) -> Record:
        """Read, change and write one record as one transaction across processes."""
        with self._cache.transact():
            raw = self._cache.get(key)
            new = change(None if raw is None else self._record.model_validate(raw))
            self._cache.set(key, new.model_dump())
        return new

    def items(self) -> Iterator[tuple[str, Record]]:
        for key in self._cache.iterkeys():
            if (record := self.get(key)) is not None:
                yield key, record

    def clear(self) -> int:
        return self._cache.clear()

    def close(self) -> None:
        self._cache.close()

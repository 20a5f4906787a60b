"""How tasks are drawn: the training / held-out split, and samples of the held-out tasks."""

from __future__ import annotations

import random
from typing import TypeVar

from .model import RepoTask, Task

T = TypeVar("T", bound=Task)


def split(tasks: list[T], held_out_fraction: float, k_real: int, seed: int) -> tuple[list[T], list[T]]:
    """Training (at most k_real) and held-out tasks; both non-empty when there are 2+ tasks."""
    shuffled = sorted(tasks, key=lambda t: t.id)
    random.Random(seed).shuffle(shuffled)
    held = round(len(shuffled) * held_out_fraction)
    held = min(max(held, 1 if len(shuffled) >= 2 else 0), len(shuffled) - 1)
    return shuffled[held:][:k_real], sorted(shuffled[:held], key=lambda t: t.id)


def spread_sample(tasks: list[T], n: int | None, seed: int) -> list[T]:
    """`n` of the tasks at random, spread over their modules (round robin, so a library's
    first modules by name do not fill the sample), kept in the given order; all if n is None."""
    if n is None or n >= len(tasks):
        return list(tasks)
    rng = random.Random(f"{seed}-sample")
    groups: dict[str, list[T]] = {}
    for t in tasks:
        groups.setdefault(t.repo.module if isinstance(t, RepoTask) else "", []).append(t)
    order = list(groups.values())
    rng.shuffle(order)
    for group in order:
        rng.shuffle(group)
    chosen: set[int] = set()
    while len(chosen) < n:
        for group in order:
            if group and len(chosen) < n:
                chosen.add(id(group.pop()))
    return [t for t in tasks if id(t) in chosen]

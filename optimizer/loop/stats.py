"""Paired comparisons of two prompts on the same tasks.

Only the discordant tasks (one prompt solves, the other does not) carry evidence. The sign
test asks how likely that split is if neither prompt is better; the interval bounds the
true difference in pass rate.
"""

from __future__ import annotations

import math


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test on the discordant pairs (1.0 when there are none)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_difference_ci(wins: int, losses: int, tasks: int, z: float = 1.96) -> tuple[float, float]:
    """Interval (default 95%) for the difference in pass rate, B - A, from `wins` (only B
    solves) and `losses` (only A solves) over `tasks` paired tasks. Agresti and Min's
    adjusted Wald interval (half a task added to each of the four cells): the plain Wald
    interval is too narrow at these counts (it excludes 0 for +10/-3 of 164, where the sign
    test gives p = 0.09)."""
    if tasks <= 0:
        return (0.0, 0.0)
    b, c, n = wins + 0.5, losses + 0.5, tasks + 2
    d = (b - c) / n
    variance = ((b + c) / n - d * d) / n
    half = z * math.sqrt(max(variance, 0.0))
    return (max(-1.0, d - half), min(1.0, d + half))

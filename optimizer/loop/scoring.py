"""Weighted Pass@1 and elitist selection (Prochemy, section 3 of DESIGN.md).

M[i][j] = 1 iff prompt i's code passes task j. A task solved by few prompts is hard and
weighs most: w_j = |pool| / N_succ(T_j) (0 where no prompt solves it), and
WS(P_i) = sum_j w_j M[i][j]. The authors' public code uses w_j = S / N_succ(T_j) with S the
total number of successes; both are a constant times 1 / N_succ, so they rank alike.
Weights are per pool: scores of different pools are not on one scale.
"""

from __future__ import annotations

from collections.abc import Sequence

Matrix = Sequence[Sequence[bool]]  # rows: prompts, columns: tasks

_EPS = 1e-9


def task_weights(matrix: Matrix, public_code: bool = False) -> list[float]:
    if not matrix:
        return []
    tasks = len(matrix[0])
    solved_by = [sum(bool(row[j]) for row in matrix) for j in range(tasks)]
    scale = sum(solved_by) if public_code else len(matrix)
    return [scale / n if n else 0.0 for n in solved_by]


def weighted_scores(matrix: Matrix, public_code: bool = False) -> list[float]:
    weights = task_weights(matrix, public_code)
    return [sum(w for w, ok in zip(weights, row) if ok) for row in matrix]


def plain_scores(matrix: Matrix) -> list[float]:
    """Pass@1 per prompt over the tasks."""
    return [sum(map(bool, row)) / len(row) if row else 0.0 for row in matrix]


def top_indices(scores: Sequence[float]) -> list[int]:
    """Every prompt tied at the top score (elitist selection keeps them all)."""
    if not scores:
        return []
    best = max(scores)
    return [i for i, s in enumerate(scores) if abs(s - best) <= _EPS * max(1.0, abs(best))]

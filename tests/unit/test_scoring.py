"""Weighted scoring and selection on hand-made outcome matrices."""

from __future__ import annotations

import itertools
import random

from prochemy.optimizer.loop.scoring import plain_scores, task_weights, top_indices, weighted_scores

T, F = True, False


def test_a_task_solved_by_one_prompt_weighs_more_than_one_solved_by_all() -> None:
    matrix = [[T, T, F], [T, F, F], [T, F, F], [T, F, F]]
    weights = task_weights(matrix)
    assert weights == [1.0, 4.0, 0.0]  # |pool| / N_succ; unsolved weighs 0
    assert weighted_scores(matrix) == [5.0, 1.0, 1.0, 1.0]


def test_rare_success_beats_more_common_successes() -> None:
    # prompt 0 solves two easy tasks, prompt 1 one easy and one only it solves
    matrix = [[T, T, F], [T, F, T], [T, T, F]]
    scores = weighted_scores(matrix)
    assert plain_scores(matrix)[0] == plain_scores(matrix)[1]
    assert top_indices(scores) == [1]


def test_ties_are_all_kept() -> None:
    matrix = [[T, F], [F, T], [F, F]]
    assert top_indices(weighted_scores(matrix)) == [0, 1]


def test_nobody_solves_anything() -> None:
    matrix = [[F, F], [F, F]]
    assert weighted_scores(matrix) == [0.0, 0.0]
    assert top_indices(weighted_scores(matrix)) == [0, 1]


def test_paper_and_public_code_formulas_select_the_same_prompts() -> None:
    rng = random.Random(7)
    for _ in range(300):
        prompts, tasks = rng.randint(1, 10), rng.randint(1, 20)
        matrix = [[rng.random() < 0.5 for _ in range(tasks)] for _ in range(prompts)]
        paper = top_indices(weighted_scores(matrix))
        public = top_indices(weighted_scores(matrix, public_code=True))
        assert paper == public


def test_weights_are_per_pool() -> None:
    row = [T, F]
    alone = weighted_scores([row, [F, F]])[0]
    crowded = weighted_scores([row, [T, F], [T, F]])[0]
    assert alone > crowded  # the same outcomes score differently in another pool


def test_all_small_matrices_rank_consistently() -> None:
    for bits in itertools.product([F, T], repeat=6):
        matrix = [list(bits[0:3]), list(bits[3:6])]
        ws = weighted_scores(matrix)
        for i in range(2):
            for j in range(2):
                dominates = all(a >= b for a, b in zip(matrix[i], matrix[j]))
                if dominates:
                    assert ws[i] >= ws[j]

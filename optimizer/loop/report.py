"""A refinement run as text: a table per iteration, the held-out comparison of seed and
P*, and the prompt diff."""

from __future__ import annotations

import difflib
import textwrap

from .failures import render_profile
from .refine import HeldOutComparison, RefineResult, best_so_far


def _wrap(prompt: str) -> list[str]:
    return textwrap.wrap(prompt, 88) or [""]


def render(result: RefineResult) -> str:
    lines = [
        f"refinement {result.run_id}: {len(result.iterations)} iteration(s), "
        f"stopped by {result.stop_reason}, {result.wall_s:.0f}s"
    ]
    if result.iterations:
        lines.append(
            f"training pass@1: seed {100 * result.iterations[0].plain[0]:.1f}%, "
            f"P* {100 * (result.best_train_pass() or 0):.1f}% ({len(result.train)} tasks)"
        )
    lines.append(
        f"{'k':>3} {'pool':>4} {'valid/tried':>11} {'best pass@1':>11} {'best so far':>11} "
        f"{'mean pass@1':>11} {'top weighted':>12} {'calls Σ':>7} {'tokens Σ':>8} {'wall s':>7}"
    )
    for it, so_far in zip(result.iterations, best_so_far([it.best_plain for it in result.iterations])):
        calls = sum(u.calls for u in it.usage.values())
        tokens = sum(u.prompt_tokens + u.completion_tokens for u in it.usage.values())
        mean = sum(it.plain) / len(it.plain)
        lines.append(
            f"{it.k:>3} {len(it.prompts):>4} {it.variants_valid:>5}/{it.variants_attempted:<5} "
            f"{100 * it.best_plain:>10.1f}% {100 * so_far:>10.1f}% {100 * mean:>10.1f}% "
            f"{max(it.weighted):>12.2f} "
            f"{calls:>7} {tokens:>8} {it.wall_s:>7.0f}"
        )
        if it.raced_out:
            gate = "" if result.config.accept_p is None else " or clear the gate against the seed"
            closest = max(it.raced, key=lambda r: sum(r.seen.values()))
            lines.append(
                f"      raced out: {it.raced_out} variant(s) that could no longer reach the best{gate}"
                f" (the closest passed {sum(closest.seen.values())} of the {len(closest.seen)} tasks"
                " it was run on)"
            )
        if it.rejections:
            lines.append(
                "      rejected variants: " + ", ".join(f"{k} {v}" for k, v in sorted(it.rejections.items()))
            )
    if result.stop_reason == "no-signal":
        solved = sum(result.iterations[0].outcomes[0]) if result.iterations else 0
        lines.append(
            f"no signal: every prompt solved the same {solved} of {len(result.train)} training tasks, "
            "so nothing could rank them; train on more tasks (--k-real), above all tasks the seed "
            "fails that a stronger prompt could solve"
        )
    if result.best_prompt != result.seed_prompt:
        made = result.made_by(result.best_prompt)
        how = (
            {"reflect": "reflective mutation", "structure": "a change of structure"}.get(
                made[0], f"the {result.config.recipe} recipe"
            )
            if made
            else ""
        )
        lines.append(f"P* was made by {how} in iteration {made[1]}" if made else "P* was given (warm start)")
    if (screened := result.screening) is not None:
        lines.append(
            f"real training tasks screened by the seed: {screened.chosen_failing} it fails and "
            f"{screened.chosen_passing} it passes, of {screened.candidates} candidates "
            f"({screened.seed_failed} failed)"
        )
    if result.train_seed_failures:
        lines.append(f"seed on the training tasks: {render_profile(result.train_seed_failures)}")
    c = result.held_out_comparison
    lines += ["held-out: none (no held-out tasks)"] if c is None else render_comparison(c)
    why = result.why_seed_kept()
    verdict = (
        "P* adopted (it does not lose to the seed on the held-out tasks)"
        if why is None
        else f"the seed prompt is kept: {why}"
    )
    lines.append(f"result: {verdict}")
    usage = ", ".join(
        f"{role} {u.calls} calls ({u.cache_hits} cached) {u.prompt_tokens + u.completion_tokens} tokens"
        for role, u in result.usage.items()
    )
    lines.append(f"cost: {usage}")
    lines.append("prompt diff (seed -> P*):")
    diff = difflib.unified_diff(
        _wrap(result.seed_prompt), _wrap(result.best_prompt), "seed", "P*", lineterm=""
    )
    lines.extend("  " + d for d in diff)
    return "\n".join(lines)


def render_comparison(c: HeldOutComparison) -> list[str]:
    """The seed against P* on the held-out tasks: counts, the paired test, failure profiles."""
    lines = []
    delta = c.best_passed - c.seed_passed
    if c.plus:
        lines.append(
            f"held-out base tests only: seed {c.seed_base_passed}/{c.tasks}, "
            f"P* {c.best_base_passed}/{c.tasks}"
        )
    mode = "one request at a time" if c.serial else "batched"
    kind = "HumanEval+ (base and plus inputs)" if c.plus else "tests"
    lines.append(
        f"held-out {kind}, {mode} ({c.tasks} tasks the loop never saw): seed {c.seed_passed}/{c.tasks} "
        f"= {100 * c.seed_passed / c.tasks:.1f}%, P* {c.best_passed}/{c.tasks} = "
        f"{100 * c.best_passed / c.tasks:.1f}% ({delta:+d}); only P* solves "
        f"{len(c.only_best)}, only the seed solves {len(c.only_seed)}"
    )
    low, high = c.difference_ci
    lines.append(
        f"  paired: sign test p = {c.sign_test_p:.3f}; 95% interval of P* - seed: "
        f"{100 * low:+.1f} to {100 * high:+.1f} points"
    )
    if c.seed_failures:
        lines.append(f"  seed on held-out: {render_profile(c.seed_failures)}")
        lines.append(f"  P* on held-out: {render_profile(c.best_failures)}")
    return lines

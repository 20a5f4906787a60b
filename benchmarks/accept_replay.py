"""What the significance gate (`accept_p`) would have chosen in every recorded refinement.

Replays P*'s selection on each run file in results/ (refine-*.json, translate-*.json: the
loop's per-iteration training outcomes are recorded) with the gate at several levels, using
the loop's own selection function. No model is called: a run whose gated P* is the seed
needs no held-out check (its verdict is a tie by construction and the guard's P* answers are
saved); a gated P* equal to the recorded P* keeps the recorded held-out verdict; any other
prompt has no held-out figures and is counted apart. The levels are per variant, as the gate
was first built; "shared" is the gate as the loop now applies it, each level split over the
run's own (n - 1) * k_max variants (RefineConfig.gate_level).

    .venv/bin/python benchmarks/accept_replay.py [--levels 0.05,0.1,0.2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from prochemy.optimizer.loop.refine import IterationRecord, RefineConfig, select_best, training_record
from prochemy.optimizer.loop.stats import sign_test_p

RESULTS = Path(__file__).resolve().parent / "results"


def replay(record: dict, levels: list[float]) -> dict:
    iterations = [IterationRecord.model_validate(it) for it in record["iterations"]]
    seed = record["seed_prompt"]
    seed_row = iterations[0].outcomes[iterations[0].prompts.index(seed)] if iterations else []
    recorded = record["best_prompt"]
    c = record.get("held_out_comparison") or {}
    row: dict = {
        "training_tasks": len(seed_row),
        "recorded_p_star_is_seed": recorded == seed,
        "held_out": (
            {"tasks": c["tasks"], "seed": c["seed_passed"], "p_star": c["best_passed"]} if c else None
        ),
    }
    # the recorded P*'s paired record against the seed on the training tasks
    if recorded != seed and (record_ := training_record(iterations, seed, recorded)) is not None:
        wins, losses = record_
        row["recorded_training_wins_losses"] = [wins, losses]
        row["recorded_training_sign_p"] = round(sign_test_p(wins, losses), 3)
    config = RefineConfig.model_validate(record["config"])

    def verdict(level: float | None) -> str:
        gated = select_best(iterations, seed, level)
        return "seed" if gated == seed else "recorded P*" if gated == recorded else "another prompt"

    for level in levels:
        row[f"accept_p={level:g}"] = verdict(level)
        shared = config.model_copy(update={"accept_p": level}).gate_level
        row[f"accept_p={level:g} shared"] = verdict(shared)
    return row


def main(levels: list[float]) -> None:
    files = sorted(RESULTS.glob("refine-*.json")) + sorted(RESULTS.glob("translate-*.json"))
    rows = {}
    for f in files:
        record = json.loads(f.read_text())
        if "iterations" not in record:
            continue
        rows[f.name] = row = replay(record, levels)
        h = row["held_out"]
        verdict = f"held-out seed {h['seed']} vs P* {h['p_star']} of {h['tasks']}" if h else "no held-out"
        gates = ", ".join(f"{k}: {v}" for k, v in row.items() if k.startswith("accept_p"))
        print(
            f"{f.name}: training {row.get('recorded_training_wins_losses', '-')} "
            f"(p {row.get('recorded_training_sign_p', '-')}); {verdict}; {gates}"
        )
    out = RESULTS / "accept-replay.json"
    out.write_text(json.dumps({"levels": levels, "runs": rows}, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="0.05,0.1,0.2")
    args = parser.parse_args()
    main([float(x) for x in args.levels.split(",")])

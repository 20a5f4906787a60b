"""Is greedy decoding repeatable on the embedded server? Two uncached runs of the same
prompt on the same tasks, one request at a time (serial mode) and 4 at a time (batched),
compared answer for answer and verdict for verdict.

    .venv/bin/python benchmarks/determinism.py [--tasks 0-19] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT, generate, judge
from prochemy.optimizer.judging import Judges
from prochemy.optimizer.llm.gateway import LLMGateway
from prochemy.optimizer.session import Session
from prochemy.optimizer.tasks.datasets import load_humaneval, select_tasks

RESULTS = Path(__file__).resolve().parent / "results"


async def one_run(gateway: LLMGateway, judges: Judges, tasks, serial: bool):
    async def one(task):
        g = await generate(gateway, SEED_PROMPT, task, serial=serial)
        return g.answer, (await judge(judges, task, g)).result.passed

    t0 = time.monotonic()
    pairs = await asyncio.gather(*(one(t) for t in tasks))
    return [a for a, _ in pairs], [p for _, p in pairs], time.monotonic() - t0


async def main(spec: str, small: bool, serial_only: bool = False) -> None:
    settings = load_settings(overrides={"model.choice": "small" if small else None}).settings
    tasks = select_tasks(load_humaneval(), spec)
    record: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "tasks": [t.id for t in tasks],
        "modes": {},
    }
    async with Session(settings, use_cache=False) as session:  # every answer freshly generated
        gateway, judges = session.gateway, await session.judges()
        record["model"] = (await gateway.describe())["model"]
        for serial in (True,) if serial_only else (True, False):
            first = await one_run(gateway, judges, tasks, serial)
            second = await one_run(gateway, judges, tasks, serial)
            mode = "serial" if serial else "batched"
            record["modes"][mode] = {
                "identical_answers": sum(a == b for a, b in zip(first[0], second[0])),
                "same_verdicts": sum(a == b for a, b in zip(first[1], second[1])),
                "passed": [sum(first[1]), sum(second[1])],
                "wall_s": [round(first[2], 1), round(second[2], 1)],
            }
            m = record["modes"][mode]
            print(
                f"{mode:8}: {m['identical_answers']}/{len(tasks)} identical answers, "
                f"{m['same_verdicts']}/{len(tasks)} same verdicts, passed {m['passed']}, "
                f"wall {m['wall_s']} s"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"determinism-{record['model']}.json"
    (RESULTS / name).write_text(json.dumps(record, indent=1))
    print(f"written to benchmarks/results/{name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="0-19")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--serial-only", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.small, args.serial_only))

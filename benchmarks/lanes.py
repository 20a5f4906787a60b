"""Can deterministic (serial) generation use both cores? Same tasks, greedy, each server
answering one request at a time (one slot, no prefix reuse, so its answers repeat):

- serial: one llama-server with 2 threads (today's deterministic mode);
- lanes:  two single-slot llama-servers with 1 thread each, one request in flight on each;
- ngram:  one 2-thread server with n-gram speculative decoding (`model.speculative = ngram`);
- prefix: serial, but the pinned slot reuses the previous request's cached prompt prefix
          (`cache_prompt: true`): the system prompt is processed once, not per task.

Each mode runs twice on fresh servers (no response cache): tokens/s and whether the two
passes give identical answers; every mode is compared answer for answer with `serial`.

    .venv/bin/python benchmarks/lanes.py [--tasks 0-9] [--small] [--modes serial,prefix]
        [--name lanes-prefix]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import openai
from prochemy.optimizer.config import load_settings
from prochemy.optimizer.generation import SEED_PROMPT, messages_for
from prochemy.optimizer.llm.llama_server import LlamaServer
from prochemy.optimizer.llm.local_model import require_model_file
from prochemy.optimizer.tasks.datasets import load_humaneval, select_tasks

RESULTS = Path(__file__).resolve().parent / "results"
# mode -> (servers, threads per server, extra server arguments, reuse the prompt prefix)
MODES = {
    "serial": (1, 2, (), False),
    "lanes": (2, 1, (), False),
    "ngram": (1, 2, ("--spec-type", "ngram-simple"), False),
    "prefix": (1, 2, (), True),
}


async def one_pass(model: Path, mode: str, tasks: list) -> tuple[dict[str, str], int, float, int]:
    lanes, threads, extra, reuse_prefix = MODES[mode]
    servers = [
        LlamaServer(model, Path("/tmp/prochemy-lanes-logs"), 1, 4096, threads, extra_args=extra)
        for _ in range(lanes)
    ]
    for s in servers:
        s.start()
    try:
        for s in servers:
            while not s.poll_ready():
                await asyncio.sleep(0.2)
        free: asyncio.Queue[openai.AsyncOpenAI] = asyncio.Queue()
        for s in servers:
            free.put_nowait(openai.AsyncOpenAI(base_url=s.base_url, api_key="-", max_retries=0, timeout=900))
        answers: dict[str, str] = {}
        tokens = prompt_tokens = 0

        async def one(task) -> None:
            nonlocal tokens, prompt_tokens
            client = await free.get()  # one request at a time per server
            try:
                r = await client.chat.completions.create(
                    model=model.stem,
                    messages=messages_for(SEED_PROMPT, task),
                    temperature=0,
                    max_tokens=768,
                    extra_body={"cache_prompt": reuse_prefix, "id_slot": 0},
                )
            finally:
                free.put_nowait(client)
            answers[task.id] = r.choices[0].message.content or ""
            tokens += r.usage.completion_tokens if r.usage else 0
            # llama-server's own count of prompt tokens it processed (not those it reused)
            prompt_tokens += ((r.model_extra or {}).get("timings") or {}).get("prompt_n", 0)

        t0 = time.monotonic()
        await asyncio.gather(*(one(t) for t in tasks))
        return answers, tokens, time.monotonic() - t0, prompt_tokens
    finally:
        for s in servers:
            s.stop()


async def main(spec: str, small: bool, modes: list[str], name: str) -> None:
    settings = load_settings(overrides={"model.choice": "small" if small else None}).settings
    model = require_model_file(settings)
    tasks = select_tasks(load_humaneval(), spec)
    rows: dict[str, dict] = {}
    first: dict[str, dict[str, str]] = {}
    for mode in ["serial"] + [m for m in modes if m != "serial"]:  # serial: the reference
        passes = [await one_pass(model, mode, tasks) for _ in range(2)]
        first[mode] = passes[0][0]
        a, b = passes[0][0], passes[1][0]
        rows[mode] = {
            "tokens": [p[1] for p in passes],
            "prompt_tokens_processed": [p[3] for p in passes],
            "wall_s": [round(p[2], 1) for p in passes],
            "tokens_per_s": [round(p[1] / p[2], 2) for p in passes],
            "repeatable": sum(a[t.id] == b[t.id] for t in tasks),
            "identical_to_serial": sum(a[t.id] == first["serial"][t.id] for t in tasks),
        }
        print(f"{mode:6} {rows[mode]}", flush=True)
    base = sum(rows["serial"]["tokens_per_s"]) / 2
    for row in rows.values():
        row["speedup"] = round(sum(row["tokens_per_s"]) / 2 / base, 2)
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.name,
        "tasks": [t.id for t in tasks],
        "modes": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{'0.5b' if small else '1.5b'}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(rows, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="0-9")
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--modes", default="serial,lanes,ngram", help=f"of {', '.join(MODES)}")
    parser.add_argument("--name", default="lanes", help="results/<name>-<model>.json")
    args = parser.parse_args()
    modes = args.modes.split(",")
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    asyncio.run(main(args.tasks, args.small, modes, args.name))

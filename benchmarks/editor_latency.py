"""How long does "implement this function" take in an editor? The language server over
stdio (a raw JSON-RPC client), the embedded model, a copy of examples/shelfkit.

For each of N mined functions, in two modes: `generate.candidates = 1` (the greedy answer
and its related tests only) and the default test-guided strategy. Every run starts a fresh
server on a fresh cache holding only the mining results (so every answer is generated, not
replayed), warms the model up with `prochemy.doctor`, opens the module with the function's
body replaced by `...`, and times `prochemy.generate` from the request to the server's
`workspace/applyEdit` (or to its answer, when nothing is applied).

Then `--refines N` times "Refine prompt for this repo" (`prochemy.refinePrompt`, the README
demo's budget: 4 real + 2 variant tasks, 3 prompts, 2 iterations, 6 held out), each on a
fresh cache holding only the mining results: time from the request to the first progress
report that carries a score ("best N%") and to the end of the job (the prompt stored).

    .venv/bin/python benchmarks/editor_latency.py [--functions 10] [--refines 3] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prochemy.sandbox.pyparse import parse_python

# `tests` from the repository, after site-packages: its bare `prochemy/` folder must not
# shadow an installed (non-editable) prochemy
sys.path.append(str(Path(__file__).resolve().parent.parent))

from prochemy.optimizer.config import load_settings  # noqa: E402
from prochemy.optimizer.llm.local_model import require_model_file  # noqa: E402
from prochemy.optimizer.session import Session  # noqa: E402
from prochemy.sandbox.splice import find_function, stub_body  # noqa: E402

from tests.lsp_client import RawClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def fresh_server(repo: Path, base_cache: Path, model: Path, tmp: Path, options: dict) -> RawClient:
    """The language server on a cache holding only the mining results (every answer is
    generated), no background refinement."""
    cache = tmp / "cache"
    shutil.copytree(base_cache / "mining", cache / "mining")
    editor = {"background_refine": False, **options.get("editor", {})}
    merged = {"cache_dir": str(cache), "model": {"path": str(model)}, **options, "editor": editor}
    return RawClient(repo, cache, merged)


def one_run(repo: Path, base_cache: Path, model: Path, task_id: str, candidates: int) -> dict:
    rel, qualname = task_id.split("::")
    module = repo / rel
    source = module.read_text()
    stubbed = stub_body(source, qualname)
    line = find_function(parse_python(stubbed), qualname)[0].lineno - 1
    with tempfile.TemporaryDirectory() as tmp:
        client = fresh_server(repo, base_cache, model, Path(tmp), {"generate": {"candidates": candidates}})
        client.answers["workspace/applyEdit"] = {"applied": True}
        try:
            t0 = time.monotonic()
            client.request("workspace/executeCommand", {"command": "prochemy.doctor", "arguments": []}, 300)
            warm = time.monotonic() - t0
            uri = module.as_uri()
            client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": stubbed}},
            )
            client.seen.clear()
            t0 = time.monotonic()
            reply = client.request(
                "workspace/executeCommand",
                {"command": "prochemy.generate", "arguments": [{"uri": uri, "line": line}]},
                1800,
            )
            answered = time.monotonic() - t0
        finally:
            client.close()
    result = reply.get("result") or {}
    edits = [t for t, m in client.seen if m["method"] == "workspace/applyEdit"]
    logs = [(t, m["params"]["message"]) for t, m in client.seen if m["method"] == "window/logMessage"]
    first = next((t for t, msg in logs if "candidate 1/" in msg), None)
    return {
        "function": task_id,
        "candidates_setting": candidates,
        "applied": bool(edits),
        "passed": result.get("passed"),
        "candidates": result.get("candidates"),
        "to_edit_or_answer_s": round((edits[0] if edits else t0 + answered) - t0, 1),
        "to_first_verdict_s": round(first - t0, 1) if first is not None else None,
        "server_warm_up_s": round(warm, 1),
    }


DEMO_BUDGET = {"k_real": 4, "k_synthetic": 2, "n": 3, "k_max": 2, "held_out": 6}


def refine_run(repo: Path, base_cache: Path, model: Path) -> dict:
    """One "Refine prompt for this repo" from the request to the stored prompt. The client
    declares no progress support, so the server reports through log messages."""
    with tempfile.TemporaryDirectory() as tmp:
        client = fresh_server(repo, base_cache, model, Path(tmp), {"editor": DEMO_BUDGET})
        try:
            client.request("workspace/executeCommand", {"command": "prochemy.doctor", "arguments": []}, 300)
            client.seen.clear()
            t0 = time.monotonic()
            client.request(
                "workspace/executeCommand", {"command": "prochemy.refinePrompt", "arguments": []}, 60
            )
            scored = ended = None
            outcome = "no end within an hour"
            deadline = t0 + 3600
            while ended is None and time.monotonic() < deadline:
                message = client._read()
                if "method" in message and "id" in message:  # a request of the server's
                    client._answer(message["id"], client.answers.get(message["method"]))
                if message.get("method") != "window/logMessage":
                    continue
                text = message["params"]["message"]
                if scored is None and " best " in text:
                    scored = time.monotonic() - t0
                if "seed prompt kept" in text or "refined prompt adopted" in text or "failed:" in text:
                    ended, outcome = time.monotonic() - t0, text
        finally:
            client.close()
    return {
        "to_first_scored_report_s": None if scored is None else round(scored, 1),
        "to_stored_prompt_s": None if ended is None else round(ended, 1),
        "outcome": outcome,
    }


async def mined(settings, repo: Path) -> list[str]:
    async with Session(settings) as session:
        report = await session.mine(repo)
    return sorted(t.id for t in report.tasks)


def main(args: argparse.Namespace) -> None:
    settings = load_settings(overrides={"model.choice": "small" if args.small else None}).settings
    model = require_model_file(settings)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "shelfkit"
        shutil.copytree(ROOT / "examples" / "shelfkit", repo)
        base = Path(tmp) / "base-cache"
        mine_settings = settings.model_copy(update={"cache_dir": base})
        ids = asyncio.run(mined(mine_settings, repo))
        chosen = sorted(random.Random(args.seed).sample(ids, min(args.functions, len(ids))))
        for task_id in chosen:
            for candidates in (1, settings.generate.candidates):
                row = one_run(repo, base, model, task_id, candidates)
                rows.append(row)
                print(json.dumps(row), flush=True)
        refines = [refine_run(repo, base, model) for _ in range(args.refines)]
        for r in refines:
            print(json.dumps(r), flush=True)
    modes = {}
    for candidates in (1, settings.generate.candidates):
        times = [r["to_edit_or_answer_s"] for r in rows if r["candidates_setting"] == candidates]
        if not times:  # --functions 0: refinements only
            continue
        modes[f"candidates={candidates}"] = {
            "p50_s": percentile(times, 0.5),
            "p90_s": percentile(times, 0.9),
            "mean_s": round(statistics.mean(times), 1),
            "applied": sum(r["applied"] for r in rows if r["candidates_setting"] == candidates),
            "passed": sum(bool(r["passed"]) for r in rows if r["candidates_setting"] == candidates),
        }
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.name,
        "functions": len(rows) // 2,
        "modes": modes,
        "runs": rows,
        "refine": {
            "budget": DEMO_BUDGET,
            "runs": refines,
            **{
                f"{key}_{q}": percentile([r[key] for r in refines if r[key] is not None], p)
                for key in ("to_first_scored_report_s", "to_stored_prompt_s")
                for q, p in (("p50", 0.5), ("p90", 0.9))
                if any(r[key] is not None for r in refines)
            },
        },
    }
    print(json.dumps(modes, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    what = "editor-latency" if rows else "editor-latency-refine"
    out = RESULTS / f"{what}-{'0.5b' if args.small else '1.5b'}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refines", type=int, default=3, help="timed refinements (0: none)")
    parser.add_argument("--small", action="store_true")
    main(parser.parse_args())

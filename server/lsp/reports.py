"""Texts for the user: `doctor` (configuration and its sources, backend, sandbox, test
interpreter, log file) and the stored prompt with its scores and history."""

from __future__ import annotations

from pathlib import Path

from prochemy.optimizer.diagnosis import local_checks
from prochemy.optimizer.llm.gateway import GatewayError
from prochemy.optimizer.repo_models import ProjectState
from prochemy.optimizer.session import Session

from .app import ProchemyServer
from .settings import settings_for


async def doctor_report(server: ProchemyServer, root: Path) -> str:
    loaded, problems = settings_for(root, server.options)
    s = loaded.settings
    lines = [f"Prochemy doctor for {root}", *local_checks(loaded, root)]
    lines += [f"  problem: {p}" for p in problems]
    if (
        s.endpoint.base_url is not None
    ):  # a remote endpoint: is it there? (the embedded one is not started here)
        async with Session(s, use_cache=False) as session:
            try:
                models = await session.list_models()
                lines.append(f"endpoint: {s.endpoint.base_url} reachable; models: {', '.join(models[:8])}")
            except GatewayError as e:
                lines.append(f"endpoint: {s.endpoint.base_url} NOT usable: {e}")
    lines.append(f"log file: {server.log_file or 'none (stderr only)'}")
    lines.append(
        f"watching test files: {'registered with the client' if server.watching else 'on save (fallback)'}"
    )
    return "\n".join(lines)


def prompt_report(state: ProjectState) -> str:
    record = state.record
    if record is None:
        return (
            f"# Prochemy prompt for {state.root}\n\nNo refined prompt is stored for this project "
            'and model yet. Run "Prochemy: Refine prompt for this repo"; until then the paper\'s '
            "seed prompt is used.\n"
        )
    cur = record.current
    lines = [
        f"# Prochemy prompt for {state.root}",
        "",
        f"model: {record.model}",
        f"in use: the {cur.adopted} prompt"
        + (" - STALE: the tests changed since; refine again" if state.stale else ""),
        "",
        "```text",
        cur.prompt,
        "```",
        "",
    ]
    if cur.held_out is not None:
        h = cur.held_out
        lines += [
            f"held-out tests ({h.tasks} tasks the loop never saw): refined {h.best_passed}, "
            f"seed {h.seed_passed}; only refined solves {len(h.only_best)}, only seed {len(h.only_seed)}"
        ]
    if cur.train_pass is not None:
        lines.append(f"training pass@1 of the best prompt: {100 * cur.train_pass:.0f}%")
    tokens = sum(u.prompt_tokens + u.completion_tokens for u in cur.usage.values())
    lines += [f"stopped by: {cur.stop_reason}; {tokens:,} tokens; {cur.wall_s:.0f}s; run {cur.run_id}", ""]
    if cur.adopted != "refined":
        lines += ["The refined candidate (not adopted):", "```text", cur.best_prompt, "```", ""]
    if record.history:
        lines.append("## History (oldest first)")
        for old in record.history:
            past = old.held_out
            score = (
                f"refined {past.best_passed}/{past.tasks} vs seed {past.seed_passed}/{past.tasks}"
                if past
                else "no held-out check"
            )
            lines.append(f"- run {old.run_id}: {old.adopted} ({score})")
    return "\n".join(lines) + "\n"

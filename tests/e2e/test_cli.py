"""The `prochemy` CLI end to end against the stub server (real openai client, real sandbox)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prochemy.optimizer.loop.mutation import robust_system
from prochemy.optimizer.loop.purpose import translation
from prochemy.optimizer.tasks.datasets import load_humaneval
from prochemy.optimizer.tasks.translation import TRANSLATION_SEED_PROMPT, load_translation, translation_split
from prochemy.optimizer.tasks.translation_synthesis import SYSTEM as REWRITE_SYSTEM

from ..stub_llm import StubLLM

TASKS = {t.statement: t for t in load_humaneval()}
# a Java -> Python refinement asks the mutator about translation, in that direction
JAVA_PYTHON_MUTATION = robust_system(translation("java", "python"))


def canonical_answer(messages: list[dict]) -> str:
    task = TASKS.get(messages[-1]["content"])
    if task is None:
        return "OK"
    return f"Here you go:\n```python\n{task.reference}\n```\nThis works because reasons."


def wrong_answer(messages: list[dict]) -> str:
    return "```python\ndef has_close_elements(numbers, threshold):\n    return None\n```"


def prochemy(stub: StubLLM, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "prochemy.server.cli.main",
        *args,
        "--endpoint",
        stub.url,
        "--model-name",
        "stub-model",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--project",
        str(tmp_path),
    ]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PROCHEMY_CONFIG_FILE": str(tmp_path / "none.toml")},
    )


@pytest.fixture
def canonical_stub():
    stub = StubLLM(responder=canonical_answer).start()
    yield stub
    stub.stop()


def test_generate_and_check_passes(canonical_stub: StubLLM, tmp_path: Path) -> None:
    done = prochemy(canonical_stub, tmp_path, "generate", "--humaneval", "HumanEval/0", "--check")
    assert done.returncode == 0, done.stderr
    assert "def has_close_elements" in done.stdout and "reasons" not in done.stdout
    assert "tests: passed" in done.stderr


def test_generate_check_reports_a_failure(tmp_path: Path) -> None:
    stub = StubLLM(responder=wrong_answer).start()
    try:
        done = prochemy(stub, tmp_path, "generate", "--humaneval", "HumanEval/0", "--check")
    finally:
        stub.stop()
    assert done.returncode == 1
    assert "tests: failed" in done.stderr and "assert candidate(" in done.stderr


def test_generate_with_a_task_file_and_prompt_file(canonical_stub: StubLLM, tmp_path: Path) -> None:
    task = load_humaneval()[2]
    (tmp_path / "task.json").write_text(task.model_dump_json())
    (tmp_path / "prompt.txt").write_text("Write only Python.\n")
    done = prochemy(
        canonical_stub,
        tmp_path,
        "generate",
        "--task",
        str(tmp_path / "task.json"),
        "--prompt",
        str(tmp_path / "prompt.txt"),
        "--check",
    )
    assert done.returncode == 0, done.stderr
    assert canonical_stub.completions[0]["body"]["messages"][0]["content"] == "Write only Python."


def test_bench_writes_results_and_resumes_from_the_cache(canonical_stub: StubLLM, tmp_path: Path) -> None:
    out = tmp_path / "results"
    args = ("bench", "humaneval", "--tasks", "0-4", "--plus", "--name", "t", "--out", str(out))
    first = prochemy(canonical_stub, tmp_path, *args)
    assert first.returncode == 0, first.stderr
    report = json.loads((out / "t.json").read_text())
    assert (report["tasks"], report["passed"], report["plus_passed"]) == (5, 5, 5)
    assert report["llm_calls"] == 5 and report["sandbox_tier"] in ("bwrap", "process")
    assert [r["task_id"] for r in report["results"]] == [f"HumanEval/{i}" for i in range(5)]
    again = prochemy(canonical_stub, tmp_path, *args)
    assert again.returncode == 0
    assert json.loads((out / "t.json").read_text())["cache_hits"] == 5
    assert len(canonical_stub.completions) == 5  # the second run paid for nothing


def test_bench_says_why_tasks_failed(tmp_path: Path) -> None:
    stub = StubLLM(responder=wrong_answer).start()
    try:
        out = tmp_path / "results"
        done = prochemy(
            stub, tmp_path, "bench", "humaneval", "--tasks", "0", "--name", "w", "--out", str(out)
        )
    finally:
        stub.stop()
    assert done.returncode == 0, done.stderr
    assert "why tasks failed: 1 failing: wrong value 1" in done.stdout
    report = json.loads((out / "w.json").read_text())
    assert report["failures"]["wrong-value"] == 1 and report["results"][0]["failure"] == "wrong-value"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--reflect", "1.5", "out of range (from 0 to 1)"),
        ("--reflect", "lots", "is not a number"),
        ("--accept-p", "0", "out of range (above 0, at most 1)"),
        ("--reflect 0.7 --structure", "0.5", "add up to more than 1"),
        ("--reference-loop --race", "4", "drop --race"),
    ],
)
def test_an_out_of_range_number_is_refused_before_anything_runs(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    stub = StubLLM().start()
    try:
        done = prochemy(stub, tmp_path, "refine", *option.split(), value, str(tmp_path))
    finally:
        stub.stop()
    assert done.returncode == 2 and message in done.stderr
    assert f"argument {option}" in done.stderr or " " in option
    assert "Traceback" not in done.stderr and not stub.completions


def test_bad_endpoint_is_one_clear_error(tmp_path: Path) -> None:
    stub = StubLLM().start()
    stub.stop()  # nothing listens there any more
    done = prochemy(stub, tmp_path, "generate", "--humaneval", "HumanEval/0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("prochemy: error: cannot connect to")
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_configuration_is_one_clear_error(canonical_stub: StubLLM, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.prochemy]\nconcurency = 3\n")
    done = prochemy(canonical_stub, tmp_path, "doctor")
    assert done.returncode == 2
    assert "key 'concurency': unknown key" in done.stderr and "pyproject.toml" in done.stderr


def test_doctor_reports_sources_endpoint_and_sandbox(canonical_stub: StubLLM, tmp_path: Path) -> None:
    done = prochemy(canonical_stub, tmp_path, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'endpoint.base_url = "{canonical_stub.url}"  <- command line' in done.stdout
    assert "sandbox: tier " in done.stdout and "models listed: stub-model" in done.stdout
    assert "tiny completion:" in done.stdout


def test_missing_model_says_how_to_fetch_it(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "prochemy.server.cli.main",
        "generate",
        "--humaneval",
        "HumanEval/0",
        "--small",
        "--cache-dir",
        str(tmp_path / "empty"),
    ]
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PROCHEMY_CONFIG_FILE": str(tmp_path / "none.toml")},
    )
    assert done.returncode == 2
    assert "Fetch it with: prochemy model fetch --small" in done.stderr


def test_lsp_entry_point_serves_stdio_and_exits_at_eof(tmp_path: Path) -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "prochemy.server.main", "--help"], capture_output=True, text=True, timeout=30
    )
    assert usage.returncode == 0 and "--tcp HOST:PORT" in usage.stdout
    done = subprocess.run(
        [sys.executable, "-m", "prochemy.server.main", "--log-file", str(tmp_path / "l.log")],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and (tmp_path / "l.log").is_file()


def test_lsp_stops_on_sigterm_with_its_stdin_still_open(tmp_path: Path) -> None:
    import signal
    import time

    server = subprocess.Popen(
        [sys.executable, "-m", "prochemy.server.main", "--log-file", str(tmp_path / "l.log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.5)  # serving, the editor's pipe open
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        server.kill()
        server.wait()
    assert "SIGTERM: stopping" in (tmp_path / "l.log").read_text()


def test_bench_translates_java_to_python_judged_by_humaneval_plus(tmp_path: Path) -> None:
    tasks = {t.statement: t for t in load_translation("java-python")}

    def translate(messages: list[dict]) -> str:
        task = tasks[messages[-1]["content"]]
        assert messages[0]["content"] == TRANSLATION_SEED_PROMPT
        if task.id.endswith("/1"):
            return "```python\ndef separate_paren_groups(paren_string):\n    return []\n```"
        return f"```python\n{task.reference}\n```"

    stub = StubLLM(responder=translate).start()
    try:
        out = tmp_path / "results"
        args = (
            "bench",
            "translate-java-python",
            "--tasks",
            "0-2",
            "--plus",
            "--name",
            "tr",
            "--out",
            str(out),
        )
        done = prochemy(stub, tmp_path, *args)
    finally:
        stub.stop()
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "tr.json").read_text())
    assert report["benchmark"] == "translate-java-python+"
    assert [(r["task_id"], r["outcome"]) for r in report["results"]] == [
        ("Java-Python/0", "passed"),
        ("Java-Python/1", "failed"),
        ("Java-Python/2", "passed"),
    ]
    assert report["plus_passed"] == 2 and report["failures"]["wrong-value"] == 1


def test_refine_for_translation_trains_on_the_pool_and_measures_on_held_out_tasks(tmp_path: Path) -> None:
    tasks = {t.statement: t for t in load_translation("java-python")}
    pool, _ = translation_split(list(tasks.values()))
    pool_ids = {t.id for t in pool}
    seen: set[str] = set()

    def respond(messages: list[dict]) -> str:
        if messages[0]["content"] == JAVA_PYTHON_MUTATION:
            return json.dumps({"prompt": "You translate code into Python, exactly preserving its behaviour."})
        if messages[0]["content"] == REWRITE_SYSTEM.format(language="Java"):  # a source rewritten
            return messages[-1]["content"].replace("```java\n", "```java\n// rewritten\n", 1)
        task = tasks[messages[-1]["content"].replace("// rewritten\n", "", 1)]
        seen.add(task.id)
        return f"```python\n{task.reference}\n```"

    stub = StubLLM(responder=respond).start()
    try:
        before = prochemy(stub, tmp_path, "translate", "--task", "Java-Python/0")
        seen.clear()
        args = (
            "--benchmark",
            "translate-java-python",
            "--k-real",
            "3",
            "--k-synthetic",
            "2",
            "--n",
            "2",
            "--k-max",
            "1",
        )
        done = prochemy(stub, tmp_path, "refine", *args, "--held-out", "3", "--plus")
        refined_on = set(seen)
        after = prochemy(stub, tmp_path, "translate", "--task", "Java-Python/0")
    finally:
        stub.stop()
    # translation uses what the refinement adopted, for this model, from then on
    assert "# prompt: the translation seed prompt (no refinement for this model yet)" in before.stderr
    run_id = re.search(r"translation run (\w+)", after.stderr)
    assert run_id is not None and run_id.group(1) in done.stdout, after.stderr
    assert done.returncode == 0, done.stderr
    # the synthetic half: training tasks whose Java source was rewritten and still passes its tests
    assert (
        "training tasks: 5 (3 real from the 40-task training pool of HumanEval-X, 2 synthetic kept of 2"
        in done.stderr
    )
    assert "held-out HumanEval+ (base and plus inputs), one request at a time (3 tasks" in done.stdout
    assert "seed 3/3" in done.stdout
    assert len(refined_on & pool_ids) == 3 and len(refined_on - pool_ids) == 3  # 3 trained on, 3 held out


def test_refine_can_screen_its_training_tasks_with_the_seed(tmp_path: Path) -> None:
    tasks = {t.statement: t for t in load_translation("java-python")}

    def respond(messages: list[dict]) -> str:  # the seed is right on even-numbered tasks only
        if messages[0]["content"] == JAVA_PYTHON_MUTATION:
            return json.dumps({"prompt": "You translate code into Python, exactly preserving its behaviour."})
        task = tasks[messages[-1]["content"]]
        wrong = int(task.id.split("/")[1]) % 2
        return f"```python\n{task.reference if not wrong else 'def nothing(): pass'}\n```"

    stub = StubLLM(responder=respond).start()
    try:
        args = (
            "--benchmark",
            "translate-java-python",
            "--k-real",
            "2",
            "--k-synthetic",
            "0",
            "--screen",
            "6",
        )
        done = prochemy(stub, tmp_path, "refine", *args, "--n", "2", "--k-max", "1", "--held-out", "2")
    finally:
        stub.stop()
    assert done.returncode == 0, done.stderr
    assert "screening 6 candidate training tasks with the seed prompt" in done.stderr
    assert (
        "real training tasks screened by the seed: 1 it fails and 1 it passes, of 6 candidates" in done.stdout
    )


def test_translate_a_task_checks_it_and_a_file_lands_in_a_new_file(tmp_path: Path) -> None:
    tasks = {t.statement: t for t in load_translation("java-python")}

    def respond(messages: list[dict]) -> str:
        task = tasks.get(messages[-1]["content"])
        if task is not None:
            return f"```python\n{task.reference}\n```"
        assert "Translate this Java code to Python." in messages[-1]["content"]
        assert "static int twice" in messages[-1]["content"]
        return "```python\ndef twice(x):\n    return 2 * x\n```"

    stub = StubLLM(responder=respond).start()
    source = tmp_path / "Twice.java"
    source.write_text("class Twice {\n    static int twice(int x) { return 2 * x; }\n}\n")
    try:
        checked = prochemy(stub, tmp_path, "translate", "--task", "Java-Python/2", "--check", "--plus")
        out = tmp_path / "twice.py"
        to_file = prochemy(stub, tmp_path, "translate", str(source), "--to", "python", "--out", str(out))
        again = prochemy(stub, tmp_path, "translate", str(source), "--to", "python", "--out", str(out))
        no_target = prochemy(stub, tmp_path, "translate", str(source))
        unknown = prochemy(stub, tmp_path, "translate", "--task", "Java-Python/999")
    finally:
        stub.stop()
    assert checked.returncode == 0, checked.stderr
    assert "def truncate_number" in checked.stdout and "tests: passed" in checked.stderr
    assert "plus: passed" in checked.stderr
    assert to_file.returncode == 0, to_file.stderr
    assert out.read_text() == "def twice(x):\n    return 2 * x\n" and source.read_text().startswith(
        "class Twice"
    )
    assert again.returncode == 2 and "never overwrites" in again.stderr  # the first translation stays
    assert out.read_text() == "def twice(x):\n    return 2 * x\n"
    assert no_target.returncode == 2 and "--to python|java" in no_target.stderr
    assert unknown.returncode == 2 and "no translation task 'Java-Python/999'" in unknown.stderr
    for done in (checked, to_file, again, no_target, unknown):
        assert "Traceback" not in done.stderr


def test_python_to_java_is_judged_by_the_java_tests_in_the_sandbox(tmp_path: Path) -> None:
    tasks = {t.statement: t for t in load_translation("python-java")}

    def respond(messages: list[dict]) -> str:
        task = tasks[messages[-1]["content"]]
        assert "Translate this Python code to Java." in task.statement
        if task.id == "Python-Java/1":  # compiles, answers wrongly
            wrong = task.reference.replace("return result;", "return new ArrayList<>();")
            return f"Here it is:\n```java\n{wrong}\n```\nDone."
        return f"```java\n{task.reference}\n```"

    stub = StubLLM(responder=respond).start()
    try:
        out = tmp_path / "results"
        bench = prochemy(
            stub,
            tmp_path,
            "bench",
            "translate-python-java",
            "--tasks",
            "0-2",
            "--name",
            "pj",
            "--out",
            str(out),
        )
        checked = prochemy(stub, tmp_path, "translate", "--task", "Python-Java/2", "--check")
    finally:
        stub.stop()
    assert bench.returncode == 0, bench.stderr
    report = json.loads((out / "pj.json").read_text())
    assert report["benchmark"] == "translate-python-java"
    assert [(r["task_id"], r["outcome"]) for r in report["results"]] == [
        ("Python-Java/0", "passed"),
        ("Python-Java/1", "failed"),
        ("Python-Java/2", "passed"),
    ]
    assert checked.returncode == 0, checked.stderr
    assert "class Solution" in checked.stdout and "tests: passed" in checked.stderr
    assert "Traceback" not in bench.stderr + checked.stderr

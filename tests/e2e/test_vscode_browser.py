"""VS Code for real: the packaged .vsix installed into code-server (VS Code in the browser,
from npm), driven by Playwright through Debian's chromium, on a copy of the example
repository, with an oracle stub LLM. From the command palette "Prochemy: Refine prompt for
this repo" (the status bar shows progress and then the result, a notification tells it);
then the "Implement" code action on a function written test first (a stub saved, its test red:
the edit lands, the tests message
shows); then a setting changed in the Settings UI reaches the server. A screenshot of every
step goes to the test's artifacts (TEST_ARTIFACTS_DIR, default: the test's tmp dir).

code-server, chromium and Playwright come from `scripts/setup.sh`; the test says what is
missing otherwise."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prochemy.optimizer.config import Settings
from prochemy.optimizer.llm.local_model import MODELS, models_dir

from ..repos import EXAMPLE
from ..stub_llm import StubLLM
from .test_nvim import oracle

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "editor-clients" / "vscode"
CODE_SERVER = ROOT / ".tools" / "code-server" / "node_modules" / ".bin" / "code-server"
CHROMIUM = Path("/usr/bin/chromium")
BODY_LINES = (37, 40)  # split_evenly's body in examples/shelfkit/shelfkit/money.py


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing() -> str | None:
    if not CODE_SERVER.exists():
        return f"code-server is not installed at {CODE_SERVER} (scripts/setup.sh installs it)"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (scripts/setup.sh installs it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (the test extra brings it)"
    return None


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if (why := _missing()) is not None:
        pytest.fail(why)
    out = tmp_path_factory.mktemp("vsix") / "prochemy.vsix"
    done = subprocess.run(
        ["npm", "exec", "--", "vsce", "package", "--allow-missing-repository", "-o", str(out)],
        cwd=EXT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(params=["stub"])
def code_server(request: pytest.FixtureRequest, tmp_path: Path, vsix: Path) -> Iterator[dict]:
    """code-server on a copy of the example repository, the extension installed. "stub": an
    oracle stub LLM, every cache under a private HOME; "real": the embedded small model (the
    user's fetched model and built llama-server), the caches in the test's tmp dir."""
    real = request.param == "real"
    repo, pristine = tmp_path / "shelfkit", tmp_path / "pristine"
    shutil.copytree(EXAMPLE, repo)
    shutil.copytree(EXAMPLE, pristine)
    llm = StubLLM(responder=oracle(pristine)).start()  # the repository's own code, as shipped
    home, user, exts = tmp_path / "home", tmp_path / "user-data", tmp_path / "extensions"
    (user / "User").mkdir(parents=True)
    home.mkdir()
    log = tmp_path / "lsp.log"
    if real:
        gguf = models_dir(Settings()) / MODELS["small"].filename
        assert gguf.is_file(), "run: prochemy model fetch --small"
        model = {"prochemy.model.path": str(gguf), "prochemy.cache_dir": str(tmp_path / "cache")}
    else:
        model = {"prochemy.endpoint.base_url": llm.url, "prochemy.endpoint.model": "stub-model"}
    (user / "User" / "settings.json").write_text(
        json.dumps(
            {
                "security.workspace.trust.enabled": False,
                "workbench.startupEditor": "none",
                "workbench.tips.enabled": False,
                "extensions.ignoreRecommendations": True,
                "telemetry.telemetryLevel": "off",
                "files.autoSave": "off",
                "prochemy.server.command": [
                    sys.executable,
                    "-m",
                    "prochemy.server.main",
                    "--log-file",
                    str(log),
                ],
                **model,
                "prochemy.test.python": sys.executable,
                "prochemy.editor.k_real": 3,
                "prochemy.editor.k_synthetic": 1,
                "prochemy.editor.n": 2,
                "prochemy.editor.k_max": 1,
                "prochemy.editor.held_out": 2,
            }
        )
    )
    # the stub run's caches land in a private HOME; the real run needs the user's llama-server
    env = {**os.environ} if real else {**os.environ, "HOME": str(home)}
    common = ["--user-data-dir", str(user), "--extensions-dir", str(exts)]
    installed = subprocess.run(
        [str(CODE_SERVER), *common, "--install-extension", str(vsix)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    port = _free_port()
    started = time.monotonic()
    server = subprocess.Popen(
        [
            str(CODE_SERVER),
            *common,
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            str(repo),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("code-server did not answer /healthz within 120 s")
        yield {
            "url": f"http://127.0.0.1:{port}/?folder={repo}",
            "repo": repo,
            "log": log,
            "started": started,
            "stub": llm,
        }
    finally:
        os.killpg(server.pid, 9)
        server.wait()
        llm.stop()


def stub_split_evenly(page, repo: Path) -> None:
    """Open money.py from quick open and, as a user writing test first would, replace
    split_evenly's body by a stub and save (its test is now red)."""
    from playwright.sync_api import expect

    page.keyboard.press("Control+P")
    box = page.locator(".quick-input-widget input")
    box.fill("money.py")
    page.locator(".quick-input-list .monaco-list-row", has_text="money.py").first.click()
    editor = page.locator(".monaco-editor .view-lines").first
    expect(editor).to_contain_text("def split_evenly")
    first, last = BODY_LINES
    page.keyboard.press("Control+G")
    page.keyboard.type(str(first))
    page.keyboard.press("Enter")
    page.keyboard.press("Home")
    page.keyboard.press("Home")  # the first press stops at the indentation
    for _ in range(last - first):
        page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+End")
    page.keyboard.insert_text("    raise NotImplementedError")
    expect(editor).to_contain_text("raise NotImplementedError")
    expect(editor).not_to_contain_text("base, extra = divmod")
    page.keyboard.press("Control+S")
    money = repo / "shelfkit" / "money.py"
    deadline = time.monotonic() + 10
    while "raise NotImplementedError" not in money.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "raise NotImplementedError" in money.read_text()


def open_code_actions(page) -> None:
    """The lightbulb menu on split_evenly's signature, its first action "Implement ..."."""
    from playwright.sync_api import expect

    page.locator(".monaco-editor .view-line", has_text="def split_evenly").first.click()
    page.keyboard.press("Control+.")
    action = page.locator(".action-widget .monaco-list-row", has_text="Implement")
    expect(action.first).to_be_visible()


def launch(p):
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    return browser, page


def test_refine_implement_and_settings_in_vs_code(code_server: dict, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("TEST_ARTIFACTS_DIR", tmp_path / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):  # an earlier run's
        old.unlink()
    steps: list[str] = []

    def shot(page, name: str) -> None:
        page.screenshot(path=str(shots / f"{len(steps) + 1:02d}-{name}.png"))
        steps.append(name)

    with sync_playwright() as p:
        browser, page = launch(p)
        page.goto(code_server["url"])
        status = page.locator(".statusbar-item", has_text="Prochemy:")
        expect(status.first).to_be_visible(timeout=120_000)
        activated_s = time.monotonic() - code_server["started"]
        shot(page, "activated")

        def palette(command: str) -> None:
            page.keyboard.press("F1")
            box = page.locator(".quick-input-widget input")
            expect(box).to_be_visible()
            box.fill(">" + command)
            page.locator(".quick-input-list .monaco-list-row", has_text=command).first.click()

        # 1. refine from the command palette: progress in the status bar, then the result
        palette("Prochemy: Refine prompt for this repo")
        expect(status.first).to_have_text(re.compile(r"Prochemy: refining"), timeout=30_000)
        shot(page, "refining")
        notice = page.locator(
            ".notification-toast", has_text=re.compile(r"refined prompt adopted|seed prompt kept")
        )
        expect(notice.first).to_be_visible(timeout=180_000)
        shot(page, "refined")
        expect(status.first).to_have_text(re.compile(r"Prochemy: (refined|seed)\s*$"), timeout=30_000)
        final_status = status.first.inner_text().strip()
        shot(page, "status-after-refine")

        # 2. the implement code action on a function written test first
        stub_split_evenly(page, code_server["repo"])
        shot(page, "stubbed")
        open_code_actions(page)
        shot(page, "code-action-menu")
        page.keyboard.press("Enter")  # the menu opens with its first action focused
        editor = page.locator(".monaco-editor .view-lines").first
        expect(editor).to_contain_text("base, extra = divmod", timeout=120_000)
        expect(editor).not_to_contain_text("raise NotImplementedError")
        told = page.locator(".notification-toast", has_text="split_evenly written with the")
        expect(told.first).to_be_visible(timeout=30_000)
        shot(page, "implemented")

        # 3. a setting changed in the Settings UI reaches the server
        palette("Preferences: Open Settings (UI)")
        search = page.locator(
            ".settings-editor .suggest-input-container textarea, .settings-editor input"
        ).first
        search.fill("prochemy.editor.n")
        field = (
            page.locator(".setting-item-contents", has_text="Prompts per iteration").locator("input").first
        )
        expect(field).to_be_visible()
        field.fill("7")
        field.press("Enter")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "'n': 7" not in code_server["log"].read_text():
            time.sleep(0.5)
        shot(page, "setting-changed")
        browser.close()

    log = code_server["log"].read_text()
    assert "'n': 7" in log, "the server never saw editor.n = 7"
    # the function was written test first (saved stub, red test): its red test judged it
    assert re.search(r"split_evenly written with the [^\"]*; related tests passed", log)
    assert final_status.endswith(("Prochemy: refined", "Prochemy: seed")), final_status
    (shots / "steps.json").write_text(
        json.dumps({"steps": steps, "activation_s": round(activated_s, 1), "status": final_status}, indent=1)
    )
    assert steps == [
        "activated",
        "refining",
        "refined",
        "status-after-refine",
        "stubbed",
        "code-action-menu",
        "implemented",
        "setting-changed",
    ]


@pytest.mark.real_model
@pytest.mark.timeout(1200)  # code-server, chromium, llama-server and up to 8 answers on 2 cores
@pytest.mark.parametrize("code_server", ["real"], indirect=True)
def test_implement_in_vs_code_with_the_real_small_model(code_server: dict, tmp_path: Path) -> None:
    """The same code action with the embedded 0.5B model: llama-server started by the server
    the extension launched; the edit lands only on a verified pass, and either way the user
    is told the outcome of the related tests."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser, page = launch(p)
        page.goto(code_server["url"])
        expect(page.locator(".statusbar-item", has_text="Prochemy:").first).to_be_visible(timeout=120_000)
        stub_split_evenly(page, code_server["repo"])
        open_code_actions(page)
        page.keyboard.press("Enter")
        told = page.locator(
            ".notification-toast", has_text=re.compile(r"split_evenly (written with the|not changed)")
        )
        expect(told.first).to_be_visible(timeout=600_000)
        page.screenshot(path=str(tmp_path / "real-model-implemented.png"))
        text = page.locator(".monaco-editor .view-lines").first.inner_text().replace("\xa0", " ")
        browser.close()
    log = code_server["log"].read_text()
    passed = re.search(r"split_evenly written with the [^\"]*; related tests passed", log) is not None
    refused = "split_evenly not changed: none of" in log
    assert passed != refused, "exactly one outcome is told"
    # applied only on a verified pass: the stub stays otherwise
    assert ("raise NotImplementedError" not in text) == passed
    assert not code_server["stub"].completions  # the embedded model answered, not the stub

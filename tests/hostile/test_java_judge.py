"""Every Java attack class against the Java judge, in both tiers: never a pass, never a
leaked marker or secret, the host file unchanged, no process left behind, and the judge
still right afterwards. The JDK's SecurityManager confines the answer in either tier."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from prochemy.optimizer.java_harness import judged_sources
from prochemy.sandbox import Sandbox
from prochemy.sandbox.models import RunResult

from .host import SECRET, descendants, settings, targets
from .java_attacks import DECLARATION, JAVA_ATTACKS, LEAK, RIGHT, TEST, JavaAttack

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with targets(tmp_path_factory.mktemp("hostile-java")) as found:
        yield found


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["bwrap", "process"])
async def box(request: pytest.FixtureRequest, where: dict[str, str]) -> AsyncIterator[Sandbox]:
    async with Sandbox(settings(request.param).model_copy(update={"timeout_s": 30.0})) as sandbox:
        yield sandbox


async def judge(box: Sandbox, code: str) -> RunResult:
    return await box.run_java(judged_sources(DECLARATION, TEST, code), timeout_s=20)


async def test_a_right_answer_passes_and_a_wrong_one_fails(box: Sandbox) -> None:
    right = await judge(box, RIGHT)
    assert right.passed, (right.detail, right.output_tail)
    wrong = await judge(box, RIGHT.replace("2 * x", "x"))
    assert wrong.outcome.value == "failed" and "AssertionError" in wrong.detail


@pytest.mark.parametrize("attack", JAVA_ATTACKS, ids=lambda a: a.name)
async def test_java_attack_is_contained(box: Sandbox, attack: JavaAttack, where: dict[str, str]) -> None:
    before = descendants(box)
    code = attack.code.replace("{port}", where["port"]).replace("{target}", where["target"])
    result = await judge(box, code)
    assert result.outcome.value in attack.allowed, (attack.name, result.outcome, result.detail)
    assert ("does not compile" not in result.detail) == attack.compiles, result.detail
    assert LEAK not in result.output_tail and SECRET not in result.output_tail + result.detail
    assert Path(where["target"]).read_text() == "x = 1\n"
    assert not os.path.exists("/tmp/prochemy-java-attack")
    assert descendants(box) <= before  # no JVM or thread of it outlives the run
    follow_up = await judge(box, RIGHT)
    assert follow_up.passed, follow_up.detail


async def test_a_type_the_facade_cannot_copy_is_refused(box: Sandbox) -> None:
    custom = RIGHT.replace("List<Integer> out = new ArrayList<>();", "List<Integer> out = new Mine();")
    custom += "class Mine extends ArrayList<Integer> { }\n"
    result = await judge(box, custom)  # a subclass of a JDK list is copied, not trusted
    assert result.passed, result.detail
    odd = (
        "import java.util.*;\nclass Solution {\n    public List<Integer> doubled(List<Integer> xs) {\n"
        "        List<Object> out = new ArrayList<>(); out.add(new Object() {});\n"
        "        return (List<Integer>) (List<?>) out;\n    }\n}\n"
    )
    refused = await judge(box, odd)
    assert refused.outcome.value == "error" and "does not take" in refused.detail

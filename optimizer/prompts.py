"""The refined prompt as an object: an instruction, how many worked examples to show, and an
answer style. Stored and keyed as text, so every store, the language server and the CLI keep
handling a prompt as one string; a plain instruction (every prompt stored before this
existed) is the object with no examples and the direct style.

The text form appends one line to the instruction when the structure is not the default:

    You write Python code ...
    [prochemy: examples=2, style=plan]

Examples are not in the prompt itself: each task carries its candidate examples, chosen for
it by similarity (tasks/examples.py), and the prompt says how many of them to show.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

MAX_EXAMPLES = 3
Style = Literal["direct", "plan"]
# "plan" keeps the answer a code block: the plan goes into comments at the top of the body
PLAN_RULE = (
    "Start the function body with a short plan as comments (at most five lines: the cases to "
    "handle and the steps), then implement it."
)
_DIRECTIVE = re.compile(r"\n*\[prochemy: examples=(\d+), style=(direct|plan)\]\s*$")


class PromptSpec(BaseModel):
    instruction: str
    examples: int = Field(0, ge=0, le=MAX_EXAMPLES)
    style: Style = "direct"

    @classmethod
    def parse(cls, text: str) -> PromptSpec:
        match = _DIRECTIVE.search(text)
        if match is None:
            return cls(instruction=text)
        return cls(
            instruction=text[: match.start()],
            examples=min(int(match.group(1)), MAX_EXAMPLES),
            style=match.group(2),
        )

    def text(self) -> str:
        if self.examples == 0 and self.style == "direct":
            return self.instruction
        return f"{self.instruction}\n[prochemy: examples={self.examples}, style={self.style}]"

    def system_message(self) -> str:
        """What the model is told: the instruction, with the style's rule."""
        return f"{self.instruction} {PLAN_RULE}" if self.style == "plan" else self.instruction

    def with_instruction(self, instruction: str) -> PromptSpec:
        return self.model_copy(update={"instruction": instruction})

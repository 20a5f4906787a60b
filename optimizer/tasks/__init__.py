"""Tasks: what the model is asked and how an answer is judged (model.py), and where tasks
come from: benchmarks (datasets, training), LLM-written variants (synthesis,
repo_synthesis, translation_synthesis) and a repository's own tests (mining, with repo_env, repo_statement and
functions)."""

from .model import (
    TASK,
    Example,
    FunctionTask,
    PlusInputs,
    RepoTarget,
    RepoTask,
    ScreenReport,
    SynthesisReport,
    Task,
    TaskSet,
    TaskSuite,
    TranslationTask,
    has_plus,
)

__all__ = [
    "TASK",
    "Example",
    "FunctionTask",
    "PlusInputs",
    "RepoTarget",
    "RepoTask",
    "ScreenReport",
    "SynthesisReport",
    "Task",
    "TaskSet",
    "TaskSuite",
    "TranslationTask",
    "has_plus",
]

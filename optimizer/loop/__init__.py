"""The Prochemy loop: mutation, evaluation, scoring and selection, the seed guard, and the
stored runs with their reports."""

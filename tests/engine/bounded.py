"""Running a pipeline with a deadline: a test of a hang fails instead of hanging."""

from __future__ import annotations

from zephyr_engine.scenarios import execute_within


def outcome_within(ctx, ds, seconds: float):
    """The ``ExecutionResult``, or the exception ``execute`` raised, or a ``TimeoutError`` when
    it did neither within ``seconds`` (the context is then shut down)."""
    return execute_within(ctx, ds, seconds)


def result_within(ctx, ds, seconds: float):
    outcome = execute_within(ctx, ds, seconds)
    if isinstance(outcome, BaseException):
        raise AssertionError(f"expected a result, got {type(outcome).__name__}: {outcome}")
    return outcome

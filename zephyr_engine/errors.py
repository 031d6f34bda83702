"""The engine's typed errors: every way a pipeline can end other than success."""

from __future__ import annotations


class ZephyrError(Exception):
    """Base of every error the engine raises on purpose."""


class InfrastructureError(ZephyrError):
    """The machinery failed (coordinator lost, name collision): the driver may retry."""


class CoordinatorLostError(InfrastructureError):
    """The coordinator actor died or stopped answering during an attempt."""


class ActorAlreadyExistsError(InfrastructureError):
    """An actor name is held by a live or restarting actor."""

    def __init__(self, name: str, namespace: str | None = None):
        self.name = name
        super().__init__(
            f"The name {name} (namespace={namespace}) is already taken. Please use a different "
            f"name or get the existing actor using get_actor('{name}', namespace='{namespace}')"
        )
        self.namespace = namespace

    def __reduce__(self):  # errors cross process boundaries on the Ray backend
        return type(self), (self.name, self.namespace)


class ActorDiedError(ZephyrError):
    """A call went to an actor that is dead (or died while the call was in flight)."""


class RpcError(ZephyrError):
    """A transient call failure (timeout, connection refused): retry with backoff."""


class NoAliveWorkersError(ZephyrError):
    """Every registered worker stayed dead for ``no_workers_timeout``: the pipeline cannot progress."""


class NoWorkersRegisteredError(ZephyrError):
    """No worker registered within ``registration_timeout`` (often an infeasible resource request)."""


class ShardFailedError(ZephyrError):
    """One shard exhausted its failure budget (task errors or infrastructure losses)."""

    def __init__(self, message: str, shard: int, stage: str):
        self.shard = shard
        self.stage = stage
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.args[0], self.shard, self.stage)


class ShardLostError(ZephyrError):
    """A shard was neither completed, queued nor in flight: an engine bug, reported instead of a
    wait that would never end."""


class PipelineStalledError(ZephyrError):
    """The driver saw no progress for ``stall_timeout`` seconds (opt-in bound on a whole run)."""


class UserCodeError(ZephyrError):
    """User code raised inside a shard; carries the original traceback text."""


class PipelineFailedError(ZephyrError):
    """Every attempt failed; ``causes`` holds each attempt's error, in order."""

    def __init__(self, pipeline: str, causes: list[BaseException]):
        self.causes = causes
        self.pipeline = pipeline
        lines = "; ".join(f"attempt {i + 1}: {type(c).__name__}: {c}" for i, c in enumerate(causes))
        super().__init__(f"pipeline {pipeline} failed after {len(causes)} attempts: {lines}")

    def __reduce__(self):
        return type(self), (self.pipeline, self.causes)

"""The actor abstraction every backend implements: named actors, calls with futures, kill,
restart, shutdown. Actors reach their own identity through ``current_actor()``."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

_current: contextvars.ContextVar[ActorContext | None] = contextvars.ContextVar(
    "actor", default=None
)


@dataclass
class ActorContext:
    """What an actor instance knows about itself. ``stopped`` is set when this incarnation dies:
    threads the instance started must watch it and end (a killed process runs nothing)."""

    name: str
    incarnation: int
    backend: Backend
    stopped: threading.Event = field(default_factory=threading.Event)

    def fail(self, reason: str) -> None:
        """Die on purpose, so the backend restarts the actor (per its ``max_restarts``)."""
        self.backend.actor_failed(self.name, self.incarnation, reason)


def current_actor() -> ActorContext:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("current_actor() called outside of an actor")
    return ctx


class ActorHandle(Protocol):
    name: str

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future: ...


class Backend(Protocol):
    def create_actor(
        self, cls: type, name: str, *, args: tuple = (), kwargs: dict | None = None,
        max_restarts: int = 0, max_concurrency: int = 1, resources: dict | None = None,
    ) -> ActorHandle: ...  # fmt: skip

    def get_actor(self, name: str) -> ActorHandle: ...

    def kill(self, name: str) -> None: ...

    def actor_failed(self, name: str, incarnation: int, reason: str) -> None: ...

    def shutdown(self) -> None: ...

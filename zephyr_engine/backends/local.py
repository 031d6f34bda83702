"""The in-process backend: each actor is an object served by its own threads.

It keeps Ray's semantics where the engine's correctness depends on them:
- a real name registry: creating a name held by a live or restarting actor raises
  ``ActorAlreadyExistsError``; a dead actor's name is free again;
- restarts re-run only ``__init__`` (``max_restarts``: 0 never, -1 always, n at most n times), and
  in-flight calls to the dead incarnation fail with ``ActorDiedError``;
- resources: an actor asking for a resource the backend does not have is never scheduled.

Fault injection for tests and scenarios: ``kill_actor`` (with or without restart),
``pause_heartbeats``, ``delay_rpcs`` and ``fail_rpcs`` for a while.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from zephyr_engine.backends.base import ActorContext, _current
from zephyr_engine.errors import ActorAlreadyExistsError, ActorDiedError, RpcError


@dataclass
class _Faults:
    heartbeats_paused_until: float = 0.0
    rpc_delay: float = 0.0
    rpc_delay_until: float = 0.0
    rpc_fail_until: float = 0.0


@dataclass
class _Actor:
    name: str
    cls: type
    args: tuple
    kwargs: dict
    max_restarts: int
    max_concurrency: int
    state: str = "pending"  # pending | alive | restarting | dead
    restarts: int = 0
    incarnation: int = 0
    instance: Any = None
    ctx: ActorContext | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    pool: ThreadPoolExecutor | None = None
    calls: set = field(default_factory=set)
    faults: _Faults = field(default_factory=_Faults)


class LocalHandle:
    """A handle by name, like a Ray handle: after a restart it reaches the new incarnation."""

    def __init__(self, backend: LocalBackend, name: str):
        self.backend = backend
        self.name = name

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future:
        return self.backend._call(self.name, method, args, kwargs)

    def __reduce__(self):  # handles travel by name only
        raise TypeError("local actor handles do not leave the process")


class LocalBackend:
    """Actors as threads in this process (the default backend)."""

    def __init__(self, resources: dict[str, float] | None = None, restart_delay: float = 0.05):
        self.resources = {"CPU": float("inf"), **(resources or {})}
        self.restart_delay = restart_delay
        self._actors: dict[str, _Actor] = {}
        self._lock = threading.RLock()
        self.created: list[tuple[str, tuple, dict]] = []  # (name, args, kwargs) of every creation

    # --- the actor abstraction -------------------------------------------------------------------

    def create_actor(self, cls, name, *, args=(), kwargs=None, max_restarts=0, max_concurrency=1,
                     resources=None) -> LocalHandle:  # fmt: skip
        with self._lock:
            old = self._actors.get(name)
            if old is not None and old.state != "dead":
                raise ActorAlreadyExistsError(name)
            actor = _Actor(
                name, cls, tuple(args), dict(kwargs or {}), max_restarts, max_concurrency
            )
            self._actors[name] = actor
            self.created.append((name, actor.args, actor.kwargs))
        if self.feasible(resources):
            self._start(actor)
        return LocalHandle(self, name)

    def feasible(self, resources: dict | None) -> bool:
        return all(self.resources.get(k, 0) >= v for k, v in (resources or {}).items())

    def get_actor(self, name: str) -> LocalHandle:
        with self._lock:
            actor = self._actors.get(name)
            if actor is None or actor.state == "dead":
                raise ValueError(f"Failed to look up actor with name '{name}'")
        return LocalHandle(self, name)

    def kill(self, name: str) -> None:
        """Kill for good (no restart); the name is free once this returns."""
        self._end(name, restart=False, reason="killed")

    def actor_failed(self, name: str, incarnation: int, reason: str) -> None:
        with self._lock:
            actor = self._actors.get(name)
            if actor is None or actor.incarnation != incarnation or actor.state != "alive":
                return
        self._end(name, restart=True, reason=reason)

    def shutdown(self) -> None:
        with self._lock:
            names = [n for n, a in self._actors.items() if a.state != "dead"]
        for name in names:
            self._end(name, restart=False, reason="shutdown")

    def state(self, name: str) -> str | None:
        actor = self._actors.get(name)
        return actor.state if actor else None

    def names(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [
                n for n, a in self._actors.items() if n.startswith(prefix) and a.state != "dead"
            ]

    # --- fault injection -------------------------------------------------------------------------

    def kill_actor(self, name: str, restart: bool = True, delay: float | None = None) -> None:
        """Kill as a preemption would: with ``restart`` the backend restarts it per
        ``max_restarts`` after ``delay`` seconds (a coordinator with 0 stays dead)."""
        self._end(name, restart=restart, reason="killed by fault injection", delay=delay)

    def pause_heartbeats(self, name: str, seconds: float) -> None:
        self._faults(name).heartbeats_paused_until = time.monotonic() + seconds

    def heartbeats_paused(self, name: str) -> bool:
        return time.monotonic() < self._faults(name).heartbeats_paused_until

    def delay_rpcs(self, name: str, seconds: float, duration: float) -> None:
        f = self._faults(name)
        f.rpc_delay, f.rpc_delay_until = seconds, time.monotonic() + duration

    def fail_rpcs(self, name: str, duration: float) -> None:
        self._faults(name).rpc_fail_until = time.monotonic() + duration

    def _faults(self, name: str) -> _Faults:
        with self._lock:
            actor = self._actors.get(name)
            if actor is None:
                raise ValueError(f"no actor named {name}")
            return actor.faults

    # --- internals -------------------------------------------------------------------------------

    def _start(self, actor: _Actor) -> None:
        with self._lock:
            actor.incarnation += 1
            actor.state = "alive"
            actor.ready = threading.Event()
            actor.ctx = ActorContext(actor.name, actor.incarnation, self)
            actor.pool = ThreadPoolExecutor(actor.max_concurrency, thread_name_prefix=actor.name)
            ctx, pool = actor.ctx, actor.pool

        def construct():
            token = _current.set(ctx)
            try:
                instance = actor.cls(*actor.args, **actor.kwargs)
            except BaseException as e:  # a creation failure is the actor's death
                print(f"actor {actor.name}: __init__ failed: {e!r}", file=sys.stderr)
                self._end(actor.name, restart=False, reason=f"__init__ failed: {e!r}")
                return
            finally:
                _current.reset(token)
            with self._lock:
                if actor.ctx is ctx:
                    actor.instance = instance
            actor.ready.set()

        pool.submit(construct)

    def _end(self, name: str, restart: bool, reason: str, delay: float | None = None) -> None:
        with self._lock:
            actor = self._actors.get(name)
            if actor is None or actor.state == "dead":
                return
            if actor.state == "restarting":  # a kill during the restart delay cancels the restart
                if not restart:
                    actor.state = "dead"
                return
            can_restart = restart and (
                actor.max_restarts == -1 or actor.restarts < actor.max_restarts
            )
            old_ctx, old_pool, calls = actor.ctx, actor.pool, list(actor.calls)
            actor.calls.clear()
            actor.instance = None
            actor.state = "restarting" if can_restart else "dead"
            if actor.ctx is not None:
                actor.ctx.stopped.set()
            actor.ready.set()  # wake callers waiting for construction: they will see the death
        for fut in calls:
            if not fut.done():
                fut.set_exception(ActorDiedError(f"The actor {name} died: {reason}"))
        if old_pool is not None:
            old_pool.shutdown(wait=False, cancel_futures=True)
        del old_ctx
        if can_restart:
            actor.restarts += 1
            wait = self.restart_delay if delay is None else delay
            timer = threading.Timer(wait, self._restart, args=(actor,))
            timer.daemon = True
            timer.start()

    def _restart(self, actor: _Actor) -> None:
        with self._lock:
            if actor.state != "restarting" or self._actors.get(actor.name) is not actor:
                return
        self._start(actor)

    def _call(self, name: str, method: str, args: tuple, kwargs: dict) -> Future:
        fut: Future = Future()
        with self._lock:
            actor = self._actors.get(name)
            if actor is None or actor.state == "dead":
                fut.set_exception(ActorDiedError(f"The actor {name} is dead"))
                return fut
            if actor.state == "restarting":
                fut.set_exception(
                    RpcError(f"The actor {name} is temporarily unavailable: restarting")
                )
                return fut
            now = time.monotonic()
            if now < actor.faults.rpc_fail_until:
                fut.set_exception(RpcError(f"RPC to {name} failed: connection refused (injected)"))
                return fut
            delay = actor.faults.rpc_delay if now < actor.faults.rpc_delay_until else 0.0
            ctx, pool = actor.ctx, actor.pool
            if actor.state == "pending":  # infeasible: the call waits forever, as on Ray
                return fut
            actor.calls.add(fut)

        def run():
            try:
                if delay:
                    time.sleep(delay)
                actor.ready.wait()
                instance = actor.instance
                if ctx.stopped.is_set() or instance is None:
                    raise ActorDiedError(f"The actor {name} died before finishing this call")
                result = getattr(instance, method)(*args, **kwargs)
                if not fut.done():
                    fut.set_result(result)
            except BaseException as e:
                if not fut.done():
                    fut.set_exception(e)
            finally:
                with self._lock:
                    actor.calls.discard(fut)

        try:
            pool.submit(run)
        except RuntimeError:  # the pool was shut down by a concurrent kill
            if not fut.done():
                fut.set_exception(ActorDiedError(f"The actor {name} died"))
        return fut

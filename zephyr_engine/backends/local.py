"""The in-process backend: each actor is an object served by its own threads.

It keeps Ray's semantics where the engine's correctness depends on them:
- a real name registry: creating a name held by a live or restarting actor raises
  ``ActorAlreadyExistsError``; a dead actor's name is free again;
- restarts re-run only ``__init__`` (``max_restarts``: 0 never, -1 always, n at most n times), and
  in-flight calls to the dead incarnation fail with ``ActorDiedError``;
- resources: an actor asking for a resource the backend does not have is never scheduled.

Fault injection for tests and scenarios: ``kill_actor`` (with or without restart),
``pause_heartbeats``, ``delay_rpcs`` and ``fail_rpcs`` and ``duplicate_rpcs`` for a while (optionally only some methods),
``partition`` (calls to the actor are never answered). Observation: ``history(name)`` (the states
an actor went through) and, once ``record_reply_sizes()`` is on, ``reply_sizes`` (the largest
pickled reply per method).
"""

from __future__ import annotations

import io
import pickle
import sys
import threading
import time
import types
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
    rpc_delay_methods: frozenset | None = None  # None: every method
    rpc_fail_until: float = 0.0
    rpc_fail_methods: frozenset | None = None
    duplicate_after: float = 0.0
    duplicate_until: float = 0.0
    duplicate_methods: frozenset | None = None
    partitioned: bool = False

    def delay(self, method: str, now: float) -> float:
        hit = self.rpc_delay_methods is None or method in self.rpc_delay_methods
        return self.rpc_delay if hit and now < self.rpc_delay_until else 0.0

    def duplicates(self, method: str, now: float) -> bool:
        hit = self.duplicate_methods is None or method in self.duplicate_methods
        return hit and now < self.duplicate_until

    def fails(self, method: str, now: float) -> bool:
        hit = self.rpc_fail_methods is None or method in self.rpc_fail_methods
        return hit and now < self.rpc_fail_until


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
        self._history: dict[str, list[str]] = {}
        self.reply_sizes: dict[str, int] | None = None

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
            self._history.setdefault(name, [])
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

    def history(self, name: str) -> list[str]:
        """Every state the actor entered, in order: ``alive``, ``restarting``, ``dead``."""
        with self._lock:
            return list(self._history.get(name, []))

    def record_reply_sizes(self) -> None:
        """From now on keep the largest pickled size of each method's replies (functions count
        as their name: what a by-reference serializer would send)."""
        with self._lock:
            self.reply_sizes = {}

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

    def delay_rpcs(self, name: str, seconds: float, duration: float, methods=None) -> None:
        """For ``duration`` seconds, calls (of ``methods`` only, if given) reach the actor
        ``seconds`` late; the caller's timeout may expire first, the call still lands."""
        f = self._faults(name)
        f.rpc_delay, f.rpc_delay_until = seconds, time.monotonic() + duration
        f.rpc_delay_methods = frozenset(methods) if methods is not None else None

    def fail_rpcs(self, name: str, duration: float, methods=None) -> None:
        f = self._faults(name)
        f.rpc_fail_until = time.monotonic() + duration
        f.rpc_fail_methods = frozenset(methods) if methods is not None else None

    def duplicate_rpcs(self, name: str, after: float, duration: float, methods=None) -> None:
        """For ``duration`` seconds, every call (of ``methods`` only, if given) reaches the actor
        twice: once now and once more ``after`` seconds later (a retransmission); the copy's
        answer goes nowhere. With several callers this also reorders calls."""
        f = self._faults(name)
        f.duplicate_after, f.duplicate_until = after, time.monotonic() + duration
        f.duplicate_methods = frozenset(methods) if methods is not None else None

    def partition(self, name: str) -> None:
        """The actor stays alive but nothing it answers reaches anyone: calls in flight and new
        calls never complete (a network partition, a wedged process)."""
        self._faults(name).partitioned = True

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
            self._history.setdefault(actor.name, []).append("alive")
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
                    self._history[name].append("dead")
                return
            can_restart = restart and (
                actor.max_restarts == -1 or actor.restarts < actor.max_restarts
            )
            old_ctx, old_pool, calls = actor.ctx, actor.pool, list(actor.calls)
            actor.calls.clear()
            actor.instance = None
            actor.state = "restarting" if can_restart else "dead"
            self._history.setdefault(name, []).append(actor.state)
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

    def _record_size(self, method: str, result) -> None:
        """A reply that cannot be pickled fails its call, as it would on a real cluster."""
        buf = io.BytesIO()
        _SizingPickler(buf).dump(result)
        with self._lock:
            sizes = self.reply_sizes
            if sizes is not None:
                sizes[method] = max(sizes.get(method, 0), buf.tell())

    def _call(
        self, name: str, method: str, args: tuple, kwargs: dict, copy: bool = False
    ) -> Future:
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
            faults = actor.faults
            if faults.fails(method, now):
                fut.set_exception(RpcError(f"RPC to {name} failed: connection refused (injected)"))
                return fut
            if faults.partitioned:
                return fut  # never answered
            delay = faults.delay(method, now)
            if not copy and faults.duplicates(method, now):
                again = threading.Timer(faults.duplicate_after, self._call,
                                        args=(name, method, args, kwargs, True))  # fmt: skip
                again.daemon = True
                again.start()
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
                if faults.partitioned:
                    return
                if self.reply_sizes is not None:
                    self._record_size(method, result)
                if not fut.done():
                    fut.set_result(result)
            except BaseException as e:
                if not fut.done() and not faults.partitioned:
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


class _SizingPickler(pickle.Pickler):
    """Pickles as a by-reference serializer would size it: functions count as their name."""

    def reducer_override(self, obj):
        if isinstance(obj, types.FunctionType):  # lambdas and closures do not pickle
            return str, (obj.__qualname__,)
        return NotImplemented

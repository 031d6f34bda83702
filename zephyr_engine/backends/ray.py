"""The Ray backend: every actor is a Ray actor, reached by name in one explicit namespace.

``pip install zephyr-logscan[ray]``; ray is imported only when this backend is made.

Each engine actor runs inside a ``_RayActorHost`` (the class name upstream's Ray actors carry, so
``logscan`` reads their forwarded lines like the incident's). The host builds the engine object
with the arguments given inline, serves ``call(method, ...)``, and carries the fault-injection
state of its process. Choices, and why:

- Actor arguments stay small and inline: a worker gets the coordinator's *name*, never a handle
  or an object-store reference, so a restart can always rebuild it (ray#53727).
- ``max_task_retries=0``: a call lost with its actor is reported to the caller, who owns retries
  (the coordinator re-queues; the driver retries the attempt).
- An actor that is never restarted (``max_restarts=0``: the coordinator) is kept off preemptible
  capacity where nodes carry Ray's ``ray.io/market-type`` label, and runs on its driver's node:
  never on a lost node that the GCS has not yet declared dead.
- A failing actor (``ActorContext.fail``) ends its own process, as an out-of-memory kill would, so
  Ray restarts it per ``max_restarts``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import Future
from typing import Any

from zephyr_engine.backends.base import ActorContext, _current
from zephyr_engine.errors import ActorAlreadyExistsError, ActorDiedError, RpcError, ZephyrError

NAMESPACE = "zephyr"
MARKET_LABEL = "ray.io/market-type"  # Ray's default node label for spot/on-demand capacity
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s:%(lineno)d %(message)s"

# Faults injected into this process's actor (one actor per Ray worker process).
_faults: dict = {"rpc_fail_until": 0.0, "rpc_delay": 0.0, "rpc_delay_until": 0.0,
                 "heartbeats_paused_until": 0.0, "rpc_fail_methods": None, "rpc_delay_methods": None}  # fmt: skip


def _ray():
    try:
        import ray
    except ImportError:
        raise ZephyrError("the Ray backend needs ray: pip install 'zephyr-logscan[ray]'") from None
    return ray


class _RayActorHost:
    """Hosts one engine actor in a Ray worker process (made a Ray actor class lazily)."""

    def __init__(self, cls: type, name: str, namespace: str, args: tuple, kwargs: dict):
        _log_to_stderr()
        ray = _ray()
        with warnings.catch_warnings():  # deprecated in Ray, and the only restart signal it gives
            warnings.simplefilter("ignore")
            incarnation = 2 if ray.get_runtime_context().was_current_actor_reconstructed else 1
        backend = RayBackend._inside(namespace)
        ctx = ActorContext(name, incarnation, backend)
        token = _current.set(ctx)
        try:
            self.instance = cls(*args, **kwargs)
        finally:
            _current.reset(token)

    def call(self, method: str, args: tuple, kwargs: dict):
        now = time.monotonic()
        if now < _faults["rpc_fail_until"] and _hit(_faults["rpc_fail_methods"], method):
            raise RpcError("RPC failed: connection refused (injected)")
        if now < _faults["rpc_delay_until"] and _hit(_faults["rpc_delay_methods"], method):
            time.sleep(_faults["rpc_delay"])
        return getattr(self.instance, method)(*args, **kwargs)

    def where(self) -> tuple[str, int]:
        """``(node ip, pid)`` of this incarnation, for fault injection."""
        return _ray().util.get_node_ip_address(), os.getpid()

    def node_id(self) -> str:
        return _ray().get_runtime_context().get_node_id()

    def inject(self, fault: str, seconds: float, duration: float, methods=None) -> None:
        now = time.monotonic()
        methods = frozenset(methods) if methods is not None else None
        if fault == "fail_rpcs":
            _faults["rpc_fail_until"], _faults["rpc_fail_methods"] = now + duration, methods
        elif fault == "delay_rpcs":
            _faults["rpc_delay"], _faults["rpc_delay_until"] = seconds, now + duration
            _faults["rpc_delay_methods"] = methods
        elif fault == "pause_heartbeats":
            _faults["heartbeats_paused_until"] = now + duration
        else:
            raise ValueError(f"unknown fault {fault!r}")


def _name_taken(error: ValueError) -> bool:
    """Ray refuses a held name in two places: its client-side check (``... is already taken``)
    and, when two creators pass that check together (two drivers starting one pipeline name),
    the GCS (``Actor with name ... already exists in the namespace ...``). Both are one
    collision, which the driver retries under the next attempt's names."""
    exc = getattr(_ray().exceptions, "ActorAlreadyExistsError", ())
    return isinstance(error, exc) or "already taken" in str(error) or "already exists" in str(error)


def _hit(methods, method: str) -> bool:
    return methods is None or method in methods


def _log_to_stderr() -> None:
    """The engine's records go to the process's stderr in upstream's format; Ray forwards them
    to the driver as ``(_RayActorHost pid=N) ...`` and keeps them in ``worker-*.err``."""
    logger = logging.getLogger("zephyr")
    if not any(not isinstance(h, logging.NullHandler) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _translate(error: BaseException) -> BaseException:
    """Ray's errors as the engine's: a dead actor, a transient failure, or the callee's own error."""
    ray = _ray()
    exc = ray.exceptions
    if isinstance(error, exc.RayTaskError):
        cause = getattr(error, "cause", None)
        return cause if isinstance(cause, BaseException) else RpcError(str(error))
    if isinstance(error, exc.ActorUnavailableError):  # restarting, or a connection lost
        return RpcError(str(error))
    # The actor's process is gone: it died, or Ray's memory monitor killed it (OutOfMemoryError
    # derives from RayError alone, so a coordinator killed for memory escaped ``execute`` raw
    # instead of being retried), or its worker or node crashed under the call.
    if isinstance(error, (exc.ActorDiedError, exc.RayActorError, exc.OutOfMemoryError,
                          exc.WorkerCrashedError, exc.NodeDiedError)):  # fmt: skip
        return ActorDiedError(str(error))
    if isinstance(error, (exc.GetTimeoutError, exc.RaySystemError, exc.ObjectLostError)):
        return RpcError(str(error))
    return error


class RayHandle:
    """A named actor's handle: calls return ``concurrent.futures.Future`` with engine errors."""

    def __init__(self, backend: RayBackend, name: str, handle):
        self.backend = backend
        self.name = name
        self.handle = handle

    def call(self, method: str, *args: Any, **kwargs: Any) -> Future:
        out: Future = Future()
        try:
            ray_future = self.handle.call.remote(method, args, kwargs).future()
        except Exception as e:  # the submission itself failed (actor gone, driver shutting down)
            out.set_exception(_translate(e))
            return out

        def done(f: Future) -> None:
            error = f.exception()
            if error is None:
                out.set_result(f.result())
                return
            error = _translate(error)
            if isinstance(error, ActorDiedError):
                self.backend._forget(self.name)
            out.set_exception(error)

        ray_future.add_done_callback(done)
        return out


class RayBackend:
    """Actors on a Ray cluster.

    ``address=None`` joins the cluster named by ``RAY_ADDRESS`` when it is set (Ray's convention,
    e.g. under ``ray job submit``) and otherwise starts a private local instance with ``num_cpus``
    logical CPUs; ``address="ray://..."`` or ``"host:port"`` joins that cluster. A Ray connection
    already open in this process is used as is. ``worker_cpus`` is the default CPU request of an
    actor that names no ``CPU`` in its resources (fractional on a small machine).
    """

    def __init__(self, address: str | None = None, namespace: str = NAMESPACE,
                 num_cpus: float | None = None, worker_cpus: float = 1.0,
                 init_options: dict | None = None):  # fmt: skip
        ray = _ray()
        self.namespace = namespace
        self.worker_cpus = worker_cpus
        self._handles: dict[str, Any] = {}
        self._names: list[str] = []  # every actor this backend created, in order
        self._killed: set[str] = set()
        self.created: list[tuple[str, tuple, dict]] = []
        self._preferred: dict[str, str] = {}
        self._lock = threading.Lock()
        self._owns_connection = False
        self._started_cluster = False
        if not ray.is_initialized():
            options = {"namespace": namespace, "log_to_driver": True, **(init_options or {})}
            address = address or os.environ.get("RAY_ADDRESS") or None
            if address is None:
                options.update(address="local", include_dashboard=False)
                if num_cpus is not None:
                    options["num_cpus"] = num_cpus
                self._started_cluster = True
            else:
                options["address"] = address
            ray.init(**options)
            self._owns_connection = True
        self._host = ray.remote(_RayActorHost)

    @classmethod
    def _inside(cls, namespace: str) -> RayBackend:
        """The backend as an actor sees it: the process is already connected."""
        self = cls.__new__(cls)
        self.namespace = namespace
        self.worker_cpus = 0.0
        self._handles, self._names, self._killed, self.created = {}, [], set(), []
        self._preferred = {}
        self._lock = threading.Lock()
        self._owns_connection = self._started_cluster = False
        self._host = None
        return self

    # --- the actor abstraction -------------------------------------------------------------------

    def create_actor(self, cls, name, *, args=(), kwargs=None, max_restarts=0, max_concurrency=1,
                     resources=None) -> RayHandle:  # fmt: skip
        request = dict(resources or {})
        options = {
            "name": name,
            "namespace": self.namespace,
            "max_restarts": max_restarts,
            "max_task_retries": 0,
            "max_concurrency": max(max_concurrency, 4),  # room for fault-injection probes
            "num_cpus": request.pop("CPU", self.worker_cpus if max_restarts else 0),
            "lifetime": None,  # owned by this driver: its exit takes the actors with it
        }
        if "GPU" in request:
            options["num_gpus"] = request.pop("GPU")
        if "memory" in request:
            options["memory"] = request.pop("memory")
        if request:
            options["resources"] = request
        node, soft = (
            self._preferred.get(name),
            True,
        )  # soft: a restart after a node loss goes anywhere
        if max_restarts == 0:  # no restart to redirect; and Ray ignores a soft affinity here
            node, soft = self._place_never_restarted(options, node), False
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=soft)
        args, kwargs = tuple(args), dict(kwargs or {})
        try:
            handle = self._host.options(**options).remote(cls, name, self.namespace, args, kwargs)
        except ValueError as e:  # ray.exceptions.ActorAlreadyExistsError is a ValueError
            if _name_taken(e):
                raise ActorAlreadyExistsError(name, self.namespace) from None
            raise
        with self._lock:
            self._handles[name] = handle
            self._names.append(name)
            self._killed.discard(name)
            self.created.append((name, args, kwargs))
        return RayHandle(self, name, handle)

    def get_actor(self, name: str) -> RayHandle:
        with self._lock:
            handle = self._handles.get(name)
        if handle is None:
            handle = _ray().get_actor(name, namespace=self.namespace)  # ValueError when missing
            with self._lock:
                self._handles[name] = handle
        return RayHandle(self, name, handle)

    def kill(self, name: str) -> None:
        """Kill for good (no restart)."""
        ray = _ray()
        with self._lock:
            handle = self._handles.get(name)
            self._killed.add(name)
        if handle is None:
            try:
                handle = ray.get_actor(name, namespace=self.namespace)
            except ValueError:
                return
        with contextlib.suppress(Exception):
            ray.kill(handle, no_restart=True)

    def actor_failed(self, name: str, incarnation: int, reason: str) -> None:
        """Called inside the failing actor: its process ends, and Ray restarts it."""
        print(f"actor {name}: failing its process so Ray restarts it: {reason}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)

    def shutdown(self) -> None:
        for name in self.names():
            self.kill(name)
        if self._owns_connection:
            _ray().shutdown()
        self._owns_connection = False

    def names(self, prefix: str = "") -> list[str]:
        """Actors this backend created and did not kill for good, by prefix."""
        with self._lock:
            return [n for n in self._names if n.startswith(prefix) and n not in self._killed]

    def history(self, name: str) -> list[str]:
        """The states the named actor went through, from the GCS: ``alive``, then
        ``restarting``/``alive`` for each restart, then ``dead`` if it is dead."""
        from ray._private import state as ray_state

        found = None
        for info in ray_state.actors().values():
            if info.get("Name") == name:
                found = info
        if found is None:
            return []
        states = ["alive"] + ["restarting", "alive"] * int(found.get("NumRestarts") or 0)
        return states + (["dead"] if found.get("State") == "DEAD" else [])

    def state(self, name: str) -> str | None:
        """Ray's view of the named actor: ``alive``, ``restarting``, ``pending``, ``dead`` or None."""
        from ray._private import state as ray_state  # the GCS actor table, with no dashboard

        found = None  # the GCS table has no namespace column; engine names are unique per context
        for info in ray_state.actors().values():
            if info.get("Name") == name:
                found = info  # the newest actor of that name wins
        if found is None:
            return None
        return {"ALIVE": "alive", "RESTARTING": "restarting", "DEAD": "dead"}.get(
            found.get("State"), "pending"
        )

    # --- fault injection -------------------------------------------------------------------------

    def kill_actor(self, name: str, restart: bool = True, delay: float | None = None) -> None:
        """As a preemption would: with ``restart`` the actor's process is SIGKILLed and Ray
        restarts it per ``max_restarts`` (a coordinator with 0 stays dead); without, it is
        killed for good. ``delay`` is accepted for the local backend's signature; Ray's own
        restart delay applies."""
        if not restart:
            self.kill(name)
            return
        self.kill_process(name)

    def kill_process(self, name: str) -> int:
        """SIGKILL the process of the named actor's current incarnation; returns its pid. On
        another machine Ray is asked to kill it instead (with restart)."""
        ray = _ray()
        handle = self._handle(name)
        deadline = time.monotonic() + 60
        while True:  # a restarting actor has no process yet: wait for its next incarnation
            try:
                ip, pid = ray.get(handle.where.remote(), timeout=30)
                break
            except ray.exceptions.ActorUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        if ip == ray.util.get_node_ip_address():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        else:
            ray.kill(handle, no_restart=False)
        return pid

    def prefer_node(self, names: list[str], node_id: str) -> None:
        """Place the named actors, when created, on that node: if it can take them (soft) for
        an actor Ray restarts, always (hard) for one it never restarts (see ``create_actor``)."""
        self._preferred.update(dict.fromkeys(names, node_id))

    def node_of(self, name: str) -> str:
        """The node id the named actor's current incarnation runs on."""
        return _ray().get(self._handle(name).node_id.remote(), timeout=30)

    def fail_rpcs(self, name: str, duration: float, methods=None) -> None:
        """For ``duration`` seconds, calls (of ``methods`` only, if given) fail as a lost
        connection would; injected in the actor's own process."""
        self._inject(name, "fail_rpcs", 0.0, duration, methods)

    def delay_rpcs(self, name: str, seconds: float, duration: float, methods=None) -> None:
        self._inject(name, "delay_rpcs", seconds, duration, methods)

    def pause_heartbeats(self, name: str, seconds: float) -> None:
        self._inject(name, "pause_heartbeats", 0.0, seconds)

    def heartbeats_paused(self, name: str) -> bool:
        """Read inside the actor's own process (where ``pause_heartbeats`` set it)."""
        return time.monotonic() < _faults["heartbeats_paused_until"]

    def _inject(self, name: str, fault: str, seconds: float, duration: float, methods=None) -> None:
        methods = tuple(methods) if methods is not None else None
        _ray().get(self._handle(name).inject.remote(fault, seconds, duration, methods), timeout=30)

    # --- internals -------------------------------------------------------------------------------

    def _handle(self, name: str):
        with self._lock:
            handle = self._handles.get(name)
        return handle if handle is not None else _ray().get_actor(name, namespace=self.namespace)

    def _forget(self, name: str) -> None:
        with self._lock:
            if name not in self._names:  # only lookups are forgotten; created handles are kept
                self._handles.pop(name, None)

    @staticmethod
    def _place_never_restarted(options: dict, preferred: str | None) -> str | None:
        """Where an actor that is never restarted (the coordinator) goes: off spot capacity
        where nodes are labelled, and on its driver's node unless a node is ``preferred``.

        The driver's node is alive for as long as the pipeline can be, so the coordinator adds
        no failure there. Left to Ray, a zero-CPU actor goes to a random node among those the
        scheduler still lists (only a hard node affinity overrides that), and a lost node stays
        listed until the GCS declares it dead (seconds to tens of seconds): the coordinator of
        a retried attempt could land on the very node whose loss failed the previous attempt,
        and be lost with it before it ever ran."""
        ray = _ray()
        alive = [n for n in ray.nodes() if n.get("Alive")]
        if any(MARKET_LABEL in (n.get("Labels") or {}) for n in alive):
            options["label_selector"] = {MARKET_LABEL: "!spot"}
        if preferred is not None:
            return preferred
        try:
            here = ray.get_runtime_context().get_node_id()
        except Exception:  # a driver with no node of its own (Ray Client): Ray places it
            return None
        labels = next((n.get("Labels") or {} for n in alive if n["NodeID"] == here), None)
        if labels is None or labels.get(MARKET_LABEL) == "spot":  # not a node to stay on
            return None
        return here

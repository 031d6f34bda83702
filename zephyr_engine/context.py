"""The driver side: ``ZephyrContext.execute`` runs a pipeline, attempt by attempt.

Every attempt gets fresh actors under names that carry the pipeline and attempt
(``zephyr-{name}-p{pipeline}-a{attempt}-coord-0``), so a retry never collides with a previous
attempt's actors. Infrastructure failures (the coordinator lost, a name collision) are retried
with exponential backoff and jitter up to ``max_execution_retries``; user errors and the typed
no-progress errors are not. The final error carries every attempt's cause.

The driver never waits on the coordinator without a bound: it probes it while the pipeline runs;
a coordinator that answers no probe for ``liveness_timeout`` seconds is lost (the attempt is
retried), and with ``stall_timeout`` set, no step forward for that long raises
``PipelineStalledError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import random
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from zephyr_engine import logs as zl
from zephyr_engine.backends.local import LocalBackend
from zephyr_engine.chunks import ChunkStore
from zephyr_engine.coordinator import Coordinator
from zephyr_engine.dataset import Dataset
from zephyr_engine.errors import (
    ActorAlreadyExistsError,
    ActorDiedError,
    CoordinatorLostError,
    InfrastructureError,
    PipelineFailedError,
    PipelineStalledError,
    RpcError,
)
from zephyr_engine.plan import compute_plan
from zephyr_engine.worker import TMP_MARK, Worker

log = logging.getLogger(zl.LOGGER_NAME)


@dataclass
class ExecutionResult:
    results: list
    counters: dict = field(default_factory=dict)


# What each setting must be. A negative ``max_workers`` started no worker and waited out
# ``registration_timeout`` for an error blaming the cluster; ``max_execution_retries=-1`` failed
# "after 0 attempts" without running anything.
_AT_LEAST_ONE = ("max_shard_failures", "max_shard_infra_failures", "max_consecutive_failures")
_NOT_NEGATIVE = ("max_execution_retries", "retry_backoff")
_OPTIONAL = ("max_workers", "stall_timeout")  # None: the default (max_workers 0 too: every CPU)


def _check_settings(**settings) -> None:
    for name, value in settings.items():
        if value is None and name in _OPTIONAL:
            continue
        if name == "max_workers" and value == 0:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, not {value!r}")
        if name in _AT_LEAST_ONE or name == "max_workers":
            ok, want = value >= 1, "at least 1"
        elif name in _NOT_NEGATIVE:
            ok, want = value >= 0, "0 or more"
        else:
            ok, want = value > 0, "more than 0"  # seconds
        if not ok:
            raise ValueError(f"{name} must be {want}, not {value!r}")


class ZephyrContext:
    """Runs ``Dataset`` pipelines on a backend (``"local"`` threads by default).

    >>> with ZephyrContext(max_workers=4) as ctx:
    ...     ctx.execute(Dataset.from_list(range(10)).map(lambda x: x * x).count()).results
    [10]
    """

    # Ray would restart a coordinator with its __init__ only, idle and without the pipeline:
    # losing it must fail the attempt instead. Workers come back and re-register.
    coordinator_max_restarts = 0
    worker_max_restarts = -1

    def __init__(
        self,
        backend="local",
        max_workers: int | None = None,
        resources: dict | None = None,
        no_workers_timeout: float = 600.0,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 30.0,
        registration_timeout: float = 300.0,
        max_execution_retries: int = 3,
        max_shard_failures: int = 3,
        max_shard_infra_failures: int = 20,
        chunk_storage: str | None = None,
        name: str | None = None,
        address: str | None = None,
        retry_backoff: float = 1.0,
        max_consecutive_failures: int = 5,
        rpc_timeout: float = 30.0,
        status_interval: float = 5.0,
        liveness_timeout: float = 300.0,
        stall_timeout: float | None = None,
    ):
        _check_settings(
            max_workers=max_workers, no_workers_timeout=no_workers_timeout,
            heartbeat_interval=heartbeat_interval, heartbeat_timeout=heartbeat_timeout,
            registration_timeout=registration_timeout, max_execution_retries=max_execution_retries,
            max_shard_failures=max_shard_failures, max_shard_infra_failures=max_shard_infra_failures,
            retry_backoff=retry_backoff, max_consecutive_failures=max_consecutive_failures,
            rpc_timeout=rpc_timeout, status_interval=status_interval,
            liveness_timeout=liveness_timeout, stall_timeout=stall_timeout,
        )  # fmt: skip
        if backend == "local":
            self.backend, self._owns_backend = LocalBackend(), True
        elif backend == "ray":
            from zephyr_engine.backends.ray import RayBackend  # imports ray only when asked for

            self.backend, self._owns_backend = RayBackend(address=address), True
        elif isinstance(backend, str):
            raise ValueError(f"unknown backend {backend!r} (use 'local' or a backend object)")
        else:
            self.backend, self._owns_backend = backend, False
        self.max_workers = max_workers or os.cpu_count() or 1
        self.resources = dict(resources or {})
        self.name = name or f"zephyr-{uuid.uuid4().hex[:8]}"
        self.max_execution_retries = max_execution_retries
        self.retry_backoff = retry_backoff
        self.address = address
        self.liveness_timeout = liveness_timeout
        self.stall_timeout = stall_timeout
        self._own_storage = chunk_storage is None
        self.chunk_storage = Path(chunk_storage or tempfile.mkdtemp(prefix="zephyr-chunks-"))
        self.config = {
            "no_workers_timeout": no_workers_timeout, "heartbeat_interval": heartbeat_interval,
            "heartbeat_timeout": heartbeat_timeout, "registration_timeout": registration_timeout,
            "max_shard_failures": max_shard_failures, "max_shard_infra_failures": max_shard_infra_failures,
            "max_consecutive_failures": max_consecutive_failures, "rpc_timeout": rpc_timeout,
            "status_interval": status_interval, "max_idle_backoff": 0.5, "resources": self.resources,
        }  # fmt: skip
        self._pipelines = 0
        # Every attempt's actors not yet released, for shutdown. Each attempt releases only its
        # own: pipelines run from several threads of one context must not end each other's.
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self.actors: tuple[str, list[str]] = ("", [])  # the running attempt's coordinator, workers
        self.hooks: dict = {}  # fault-injection hooks for scenarios (loop_fault, fail_hook, on_attempt)
        self._shared: dict = {}

    def put(self, name: str, value) -> None:
        """Share ``value`` with every task (``get_shared(name)`` in user code). It is written to
        chunk storage once per attempt and loaded lazily by each worker, never sent with tasks."""
        self._shared[name] = value

    # --- running ---------------------------------------------------------------------------------

    def execute(self, dataset: Dataset) -> ExecutionResult:
        plan = compute_plan(dataset)
        with self._lock:  # one number per pipeline, also when threads execute at once
            pipeline = self._pipelines
            self._pipelines += 1
        causes: list[BaseException] = []
        for attempt in range(self.max_execution_retries + 1):
            log.info(zl.PIPELINE_START_WITH_ID, self.name, pipeline, attempt)
            try:
                return self._attempt(plan, pipeline, attempt)
            except InfrastructureError as e:
                causes.append(e)
                left = self.max_execution_retries - attempt
                if left == 0:
                    break
                delay = self._backoff(attempt)
                log.warning(zl.PIPELINE_RETRY_BACKOFF, attempt + 1, left, delay, self._why(e))
                time.sleep(delay)
        error = self._final_error(f"{self.name}-p{pipeline}", causes)
        log.error("%s: %s", type(error).__name__, error)  # the final failure, readable by logscan
        raise error

    def _why(self, error: BaseException) -> str:
        """An attempt's cause as the retry line gives it. This context never reuses a name (they
        carry pipeline and attempt), so a taken one is held by someone else: say who can."""
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, ActorAlreadyExistsError):
            text += (f" (not an earlier attempt of this run: another ZephyrContext or driver "
                     f"runs pipelines named {self.name!r} in this namespace; give each its "
                     f"own name=)")  # fmt: skip
        return text

    def _backoff(self, attempt: int) -> float:
        """Exponential with jitter: retries of a lost coordinator do not hammer the cluster."""
        return self.retry_backoff * 2**attempt * (1 + 0.1 * random.random())

    @staticmethod
    def _final_error(pipeline: str, causes: list[BaseException]) -> PipelineFailedError:
        return PipelineFailedError(pipeline, causes)  # every attempt's cause, in order

    def _actor_names(self, pipeline: int, attempt: int, workers: int) -> tuple[str, list[str]]:
        """Names carry pipeline and attempt: a retry never meets a name still held by an
        earlier attempt's actor (dying asynchronously, or restarting)."""
        return zl.coordinator_name(self.name, pipeline, attempt), [
            zl.worker_name(self.name, i, pipeline, attempt) for i in range(workers)
        ]

    @staticmethod
    def _worker_args(coordinator, coord_name: str, worker_id: str, cfg: dict) -> tuple:
        """Small inline constructor arguments: the coordinator travels by name."""
        return (coord_name, worker_id, cfg)

    def _attempt(self, plan, pipeline: int, attempt: int) -> ExecutionResult:
        execution_id = uuid.uuid4().hex[:12]
        store = ChunkStore(self.chunk_storage / execution_id)
        n = min(self.max_workers, max((s.num_shards for s in plan.stages), default=1)) or 1
        coord_name, worker_names = self._actor_names(pipeline, attempt, n)
        self.actors = (coord_name, worker_names)
        try:
            shared_dir = self._write_shared(store)
        except BaseException:  # nothing started yet; the attempt's folder goes with the error
            store.remove()
            raise
        mine: list[str] = []  # this attempt's actors, released however it ends
        config = {
            **self.config,
            "shared_dir": shared_dir,
            **{k: v for k, v in self.hooks.items() if k in ("loop_fault", "status_fault")},
        }
        try:
            # Each worker has at most two calls in flight (its poll or report, and its
            # heartbeat); the driver's run_pipeline and probes take the rest.
            coordinator = self.backend.create_actor(
                Coordinator, coord_name, args=(coord_name, config),
                max_restarts=self.coordinator_max_restarts, max_concurrency=2 * n + 8,
            )  # fmt: skip
            self._created(mine, coord_name)
            worker_cfg = {k: self.config[k] for k in ("heartbeat_interval", "max_consecutive_failures",
                                                       "rpc_timeout", "max_idle_backoff")}  # fmt: skip
            worker_cfg.update(chunk_root=str(store.root), shared_dir=shared_dir,
                              execution_id=execution_id)  # fmt: skip
            if "fail_hook" in self.hooks:
                worker_cfg["fail_hook"] = self.hooks["fail_hook"]
            for wid in worker_names:
                self.backend.create_actor(
                    Worker, wid, args=self._worker_args(coordinator, coord_name, wid, worker_cfg),
                    max_restarts=self.worker_max_restarts, resources=self.resources or None,
                )  # fmt: skip
                self._created(mine, wid)
            if "on_attempt" in self.hooks:
                self.hooks["on_attempt"](self, pipeline, attempt)
            try:
                outputs = self._await(coordinator, coord_name, plan, execution_id)
                counters = coordinator.call("get_counters").result(timeout=5)
            except (ActorDiedError, RpcError, FutureTimeout) as e:
                raise CoordinatorLostError(f"coordinator {coord_name} lost: {e}") from None
            return ExecutionResult(self._collect(plan, outputs, store), counters)
        finally:
            self._release(mine)
            store.remove()
            self._sweep_temporary_files(plan, execution_id)

    def _await(self, coordinator, coord_name: str, plan, execution_id: str) -> list:
        """``run_pipeline``'s result, probing the coordinator while it runs: no answer to any
        probe for ``liveness_timeout`` seconds loses it (a partitioned or wedged coordinator
        whose call would never return); with ``stall_timeout``, no step forward for that long
        (every shard assigned, finished, failed or re-queued is one) raises."""
        run = coordinator.call("run_pipeline", plan, execution_id)
        interval = min(1.0, self.liveness_timeout / 4, (self.stall_timeout or 60.0) / 4)
        last_answer = last_step = time.monotonic()
        token, status, probe = None, "no answer yet", None
        while True:
            try:
                return run.result(timeout=interval)
            except FutureTimeout:
                pass
            now = time.monotonic()
            if probe is not None and probe.done():
                with contextlib.suppress(Exception):
                    step, status = probe.result()
                    last_answer = now
                    if step != token:
                        token, last_step = step, now
                probe = None
            if now - last_answer > self.liveness_timeout:
                raise CoordinatorLostError(
                    f"coordinator {coord_name} answered no liveness probe for "
                    f"{now - last_answer:.1f}s (liveness_timeout {self.liveness_timeout:.0f}s)"
                )
            if self.stall_timeout is not None and now - last_step > self.stall_timeout:
                raise PipelineStalledError(
                    f"pipeline {coord_name} made no progress for {now - last_step:.1f}s "
                    f"(stall_timeout {self.stall_timeout:.0f}s); last status: {status}"
                )
            if probe is None:  # one probe at a time: a slow coordinator is not piled on
                probe = coordinator.call("progress_token")

    def _sweep_temporary_files(self, plan, execution_id: str) -> None:
        """Writers' temporary files of this attempt that nobody committed (a worker that died
        between writing and reporting cannot clean up after itself)."""
        stage = plan.stages[-1] if plan.stages else None
        if stage is None or not stage.output.startswith("write_"):
            return
        folders = {
            os.path.dirname(os.path.abspath(stage.pattern.format(shard=i, total=stage.num_shards)))
            for i in range(stage.num_shards)
        }
        mark = f"{TMP_MARK}{execution_id}-"
        for folder in folders:
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if mark in entry.name:
                        with contextlib.suppress(OSError):
                            os.remove(entry.path)

    def _write_shared(self, store: ChunkStore) -> str:
        folder = store.root / "shared"
        folder.mkdir(parents=True, exist_ok=True)
        for name, value in self._shared.items():
            tmp = folder / f".{name}.tmp"
            try:
                with open(tmp, "wb") as f:
                    pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError) as e:
                raise TypeError(f"shared value {name!r} (ZephyrContext.put) cannot be pickled: "
                                f"{e}") from None  # fmt: skip
            os.replace(tmp, folder / f"{name}.pkl")
        return str(folder)

    @staticmethod
    def _collect(plan, outputs, store) -> list:
        if plan.result == "paths":
            return [path for _, path in outputs]
        rows = [row for _, path in outputs for row in store.read(path)]
        return rows if plan.result == "rows" else rows[:1]

    def _created(self, mine: list[str], name: str) -> None:
        mine.append(name)
        with self._lock:
            self._live.add(name)

    def _release(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(Exception):  # already gone
                self.backend.kill(name)
            with self._lock:
                self._live.discard(name)

    # --- lifetime --------------------------------------------------------------------------------

    def shutdown(self) -> None:
        with self._lock:
            live = sorted(self._live)
        self._release(live)
        if self._owns_backend:
            self.backend.shutdown()
        if self._own_storage:
            shutil.rmtree(self.chunk_storage, ignore_errors=True)

    def __enter__(self) -> ZephyrContext:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()

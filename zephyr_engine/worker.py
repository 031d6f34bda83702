"""The worker actor: registers, pulls shard tasks, runs them, reports, and heartbeats.

Corrections over upstream: constructor arguments are small (the coordinator is found by name);
transient RPC errors are retried with backoff, and only after ``max_consecutive_failures`` does
the worker fail its actor so the backend restarts it (never an idle zombie); reports block and
carry the task's stage; anything user code raises, ``SystemExit`` and ``KeyboardInterrupt``
included, is a task error with its traceback and the worker goes on; a task carries only its own
shard's input.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import logging
import os
import pickle
import threading
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from zephyr_engine import logs as zl
from zephyr_engine.backends.base import current_actor
from zephyr_engine.chunks import ChunkStore
from zephyr_engine.dataset import ShardInfo
from zephyr_engine.errors import ActorDiedError, RpcError, ZephyrError
from zephyr_engine.keys import route
from zephyr_engine.plan import Stage

log = logging.getLogger(zl.LOGGER_NAME)
TRANSIENT = (RpcError, ActorDiedError, FutureTimeout, TimeoutError)
_shared: contextvars.ContextVar[SharedData | None] = contextvars.ContextVar(
    "zephyr_shared", default=None
)


class SharedData:
    """Values put with ``ZephyrContext.put``: written once per attempt, read lazily and cached by
    each worker, so no task reply carries them (upstream pickled them into every pull_task)."""

    def __init__(self, folder: str | None):
        self.folder = folder
        self.cache: dict = {}
        self.lock = threading.Lock()
        self.loads = 0

    def get(self, name: str):
        with self.lock:
            if name not in self.cache:
                path = os.path.join(self.folder or "", f"{name}.pkl")
                if not self.folder or not os.path.exists(path):
                    raise ZephyrError(
                        f"no shared value named {name!r} (put it with ZephyrContext.put)"
                    )
                with open(path, "rb") as f:
                    self.cache[name] = pickle.load(f)
                self.loads += 1
            return self.cache[name]


def get_shared(name: str):
    """The value put with ``ctx.put(name, value)``, inside user code that runs in a task.

    >>> # ctx.put("vocab", vocab); ds.map(lambda doc: tokenize(doc, get_shared("vocab")))
    """
    shared = _shared.get()
    if shared is None:
        raise ZephyrError("get_shared() is only available inside a running task")
    return shared.get(name)


@dataclass(frozen=True)
class Task:
    stage: int
    shard: int
    attempt: int
    inputs: tuple  # this shard's source items (first stage) or chunk paths (later stages)


class Worker:
    def __init__(self, coordinator_name: str, worker_id: str, config: dict):
        self.ctx = current_actor()
        self.worker_id = worker_id
        self.coordinator_name = coordinator_name
        self.cfg = config
        self.store = ChunkStore(config["chunk_root"])
        self.incarnation: int | None = None
        self.shared = SharedData(config.get("shared_dir"))
        # The poll thread sees this actor's context, so user code may call current_actor().
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._run,), name=f"zephyr-poll-{worker_id}", daemon=True
        ).start()

    # --- calls to the coordinator ----------------------------------------------------------------

    def _call(self, method: str, *args):
        try:
            coordinator = self.ctx.backend.get_actor(self.coordinator_name)
        except ValueError:
            raise ActorDiedError(f"coordinator {self.coordinator_name} not found") from None
        return coordinator.call(method, *args).result(timeout=self.cfg["rpc_timeout"])

    # --- loops -----------------------------------------------------------------------------------

    def _run(self):
        if not self._register():
            return
        threading.Thread(
            target=self._heartbeat_loop, name=f"zephyr-hb-{self.worker_id}", daemon=True
        ).start()
        try:
            self._poll_loop()
        except BaseException as e:  # an engine bug: die loudly so the backend restarts the actor
            log.exception("[%s] poll loop crashed: %s", self.worker_id, e)
            self.ctx.fail(f"poll loop crashed: {type(e).__name__}: {e}")

    def _register(self) -> bool:
        delay = 0.02
        failures = 0
        while not self.ctx.stopped.is_set():
            try:
                self.incarnation = self._call("register_worker", self.worker_id)
                return True
            except TRANSIENT:
                failures += 1
                if failures >= self.cfg["max_consecutive_failures"]:
                    self.ctx.fail("cannot register with the coordinator")
                    return False
                self.ctx.stopped.wait(delay)
                delay = min(delay * 2, 1.0)
        return False

    def _poll_loop(self):
        failures, idle = 0, 0.01
        while not self.ctx.stopped.is_set():
            try:
                kind, payload = self._call("pull_task", self.worker_id, self.incarnation)
                failures = 0
            except TRANSIENT as e:
                failures += 1
                log.info(zl.PULL_TASK_FAILED, self.worker_id, f"{type(e).__name__}: {e}")
                if not self._keep_polling_after(failures):
                    return
                continue
            if kind == "shutdown":
                log.info(zl.RECEIVED_SHUTDOWN, self.worker_id)
                return
            if kind == "wait":
                self.ctx.stopped.wait(idle)
                idle = min(idle * 2, self.cfg["max_idle_backoff"])
                continue
            idle = 0.01
            stage, task = payload
            self._execute(stage, task)

    def _keep_polling_after(self, failures: int) -> bool:
        """Back off after a failed pull; after ``max_consecutive_failures`` in a row, fail the
        actor so the backend restarts it (a worker that stops polling must not stay alive)."""
        if failures >= self.cfg["max_consecutive_failures"]:
            log.error(zl.HEARTBEAT_GIVE_UP, self.worker_id, failures)
            self.ctx.fail("coordinator unreachable")
            return False
        self.ctx.stopped.wait(min(0.05 * 2**failures, 1.0))
        return True

    def _heartbeat_loop(self):
        failures = 0
        paused = getattr(self.ctx.backend, "heartbeats_paused", lambda name: False)
        while not self.ctx.stopped.wait(self.cfg["heartbeat_interval"]):
            if paused(self.ctx.name):
                continue
            try:
                if self._call("heartbeat", self.worker_id, self.incarnation) == "stale":
                    return  # a newer incarnation of this worker exists
                failures = 0
            except TRANSIENT as e:
                failures += 1
                log.warning(zl.HEARTBEAT_FAILED_COUNTED, self.worker_id, failures,
                            self.cfg["max_consecutive_failures"], f"{type(e).__name__}: {e}")  # fmt: skip
                if failures >= self.cfg["max_consecutive_failures"]:
                    log.error(zl.HEARTBEAT_GIVE_UP, self.worker_id, failures)
                    self.ctx.fail("coordinator unreachable")
                    return

    # --- one task --------------------------------------------------------------------------------

    def _execute(self, stage: Stage, task: Task):
        log.info(zl.EXECUTING_SHARD, self.worker_id, task.shard, task.attempt)
        token = _shared.set(self.shared)
        try:
            refs = run_task(stage, task, self.store, self.cfg)
        except MemoryError:  # as an OOM kill would: the process dies, the backend restarts it
            self.ctx.fail(f"out of memory in shard {task.shard}")
            return
        except BaseException:  # SystemExit, KeyboardInterrupt & co. from user code included
            self._report("report_error", task, traceback.format_exc())
            return
        finally:
            _shared.reset(token)
        delivered = not self.ctx.stopped.is_set() and self._report("report_result", task, refs)
        if not delivered and stage.output.startswith("write_"):
            for _, tmp in refs:  # nobody will commit or remove it
                with contextlib.suppress(OSError):
                    os.remove(tmp)

    def _report(self, method: str, task: Task, payload) -> bool:
        """Blocking, retried: a report must not be lost or overtaken by the next pull. True when
        the coordinator received it (accepted or not)."""
        delay = 0.02
        for _ in range(self.cfg["max_consecutive_failures"] * 4):
            if self.ctx.stopped.is_set():
                return False
            try:
                self._call(method, self.worker_id, self.incarnation, task.stage, task.shard,
                           task.attempt, payload)  # fmt: skip
                return True
            except TRANSIENT:
                self.ctx.stopped.wait(delay)
                delay = min(delay * 2, 1.0)
        return False


def run_task(stage: Stage, task: Task, store: ChunkStore, cfg: dict) -> list[tuple[int, str]]:
    """Run one shard of one stage; returns ``(target shard, path)`` of everything it wrote."""
    fail_hook = cfg.get("fail_hook")
    if fail_hook is not None:
        fail_hook(stage, task)
    info = ShardInfo(task.shard, stage.num_shards, stage.name)
    items = _input(stage, task, store)
    for op in stage.ops:
        items = _apply(op, items, info)
    return _output(stage, task, items, store, cfg.get("execution_id", "x"))


def _input(stage: Stage, task: Task, store: ChunkStore) -> Iterator:
    if stage.input == "source":
        return iter(task.inputs)
    items = itertools.chain.from_iterable(store.read(p) for p in task.inputs)
    if stage.input != "groups":
        return items
    groups: dict = {}
    for key, item in items:
        groups.setdefault(key, []).append(item)
    try:
        keys = sorted(groups)
    except TypeError:
        keys = list(groups)
    return (stage.reducer(k, groups[k]) for k in keys)


def _apply(op, items: Iterator, info: ShardInfo) -> Iterator:
    kind = op.kind
    if kind == "map":
        return map(op.fn, items)
    if kind == "filter":
        return filter(op.fn, items)
    if kind == "flat_map":
        return itertools.chain.from_iterable(map(op.fn, items))
    if kind == "map_shard":
        return iter(op.fn(items, info))
    if kind == "load_jsonl":
        return (json.loads(line) for path in items for line in _read_lines(path) if line.strip())
    if kind == "load_parquet":
        import pyarrow.parquet as pq

        return (row for path in items for row in pq.read_table(path).to_pylist())
    if kind == "fold":
        acc = op.initial
        for item in items:
            acc = op.fn(acc, item)
        return iter([acc])
    if kind == "count_shard":
        return iter([sum(1 for _ in items)])
    if kind == "sum":
        return iter([sum(items)])
    raise ValueError(f"unknown operation {kind}")


def _read_lines(path: str) -> list[str]:
    with open(path) as f:
        return f.readlines()


def _output(
    stage: Stage, task: Task, items: Iterator, store: ChunkStore, execution_id: str
) -> list[tuple[int, str]]:
    if stage.output == "keep":
        return [
            (
                task.shard,
                store.write(list(items), stage.index, task.shard, task.attempt, task.shard),
            )
        ]
    if stage.output in ("spread", "scatter"):
        buckets: dict[int, list] = {}
        for j, item in enumerate(items):
            if stage.output == "spread":
                target = (task.shard + j) % stage.out_shards
                buckets.setdefault(target, []).append(item)
            else:
                key = stage.key_fn(item)
                buckets.setdefault(route(key, stage.out_shards), []).append((key, item))
        return [
            (t, store.write(rows, stage.index, task.shard, task.attempt, t))
            for t, rows in sorted(buckets.items())
        ]
    final = stage.pattern.format(shard=task.shard, total=stage.num_shards)
    # Committed (renamed) by the coordinator; the execution id lets the driver sweep leftovers.
    tmp = f"{final}{TMP_MARK}{execution_id}-a{task.attempt}-{uuid.uuid4().hex[:8]}"
    os.makedirs(os.path.dirname(os.path.abspath(final)), exist_ok=True)
    rows = list(items)
    try:
        if stage.output == "write_jsonl":
            with open(tmp, "w") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return [(task.shard, tmp)]


TMP_MARK = ".tmp-"


def commit_path(tmp: str) -> str:
    """The final path of a writer's temporary file."""
    return tmp.rsplit(TMP_MARK, 1)[0]

"""The coordinator actor: owns the task queue of the running stage and the worker roster.

The corrections (shared/engine-defects.md) are the contract:
- a worker is ``(worker_id, incarnation)``; re-registration bumps the incarnation and re-queues
  the old incarnation's shard;
- reports carry ``(stage, shard, attempt)`` and are accepted only from the holder of that shard
  in the running stage: attempts restart at 0 every stage, so a late duplicate from an earlier
  stage matches shard and attempt and is told apart by its stage alone;
- any RPC from a worker is a heartbeat; every RPC is O(1) under a short lock, and the stage wait
  never holds the lock while sleeping;
- the stage wait counts alive workers: none alive for ``no_workers_timeout`` raises
  ``NoAliveWorkersError`` (the timer restarts when one comes back); none registered for
  ``registration_timeout`` raises ``NoWorkersRegisteredError``;
- per-shard budgets for task errors and for infrastructure losses while in flight;
- a writer's commit that fails is a task error of that shard and leaves no temporary file;
- every shard of the stage is always completed, queued or in flight; if one is none of these
  (an engine bug) the stage ends with ``ShardLostError`` instead of waiting forever;
- the status loop survives logging errors, and any other crash of it aborts the pipeline;
- no worker is told to shut down while a re-queue could still need it.

The small methods below (``_alive_count``, ``_accepts``, ``_idle_wait`` ...) are each one
decision of that contract; the regression suite puts upstream's version of each back to prove
the scenario guarding it fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

from zephyr_engine import logs as zl
from zephyr_engine.backends.base import current_actor
from zephyr_engine.errors import (
    CoordinatorLostError,
    NoAliveWorkersError,
    NoWorkersRegisteredError,
    ShardFailedError,
    ShardLostError,
    ZephyrError,
)
from zephyr_engine.plan import Plan
from zephyr_engine.worker import Task, commit_path

log = logging.getLogger(zl.LOGGER_NAME)
ALIVE = ("ready", "busy")


@dataclass
class _WorkerState:
    incarnation: int
    registered_at: float
    last_seen: float
    state: str = "ready"  # ready | busy | failed
    shard: int | None = None


class Coordinator:
    def __init__(self, name: str, config: dict):
        self.ctx = current_actor()
        self.name = name
        self.cfg = config
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.workers: dict[str, _WorkerState] = {}
        self.counters: Counter = Counter()
        self.fatal: BaseException | None = None
        self.finished = False
        self.plan: Plan | None = None
        self.stage = None
        self.progress = 0  # bumped by every step forward; the driver's liveness probe reads it
        # When the heartbeat check last ran, and when this process last came back from a pause.
        self._last_check = self._resumed_at = time.monotonic()
        self._reset_stage(0, {})
        log.info(zl.COORDINATOR_INITIALIZED)
        threading.Thread(target=self._loop, name=f"{name}-loop", daemon=True).start()

    def _reset_stage(self, total: int, inputs: dict):
        self.total, self.completed = total, 0
        self.inputs = inputs
        self.queue: deque[int] = deque(range(total))
        # shard -> (worker, incarnation, attempt) of the one run whose report is accepted
        self.in_flight: dict[int, tuple[str, int, int]] = {}
        # (shard, attempt) -> (worker, incarnation) it was given to: a run whose worker was
        # declared dead meanwhile may still deliver the shard's first result (``_late_but_first``)
        self.assigned: dict[tuple[int, int], tuple[str, int]] = {}
        self.next_attempt: Counter = Counter()
        self.task_failures: Counter = Counter()
        self.infra_failures: Counter = Counter()
        self.results: dict[int, list] = {}

    # --- worker RPCs: O(1) (the roster check is O(1) per call) ----------------------------------

    def register_worker(self, worker_id: str) -> int:
        with self.lock:
            now = time.monotonic()
            w = self.workers.get(worker_id)
            if w is None:
                w = self.workers[worker_id] = _WorkerState(1, now, now)
                log.info(zl.REGISTERED, worker_id, len(self.workers))
            else:
                log.info(zl.REREGISTERING, worker_id)
                self._requeue(worker_id, w, "re-registered")
                w.incarnation += 1
                w.registered_at = w.last_seen = now
                w.state = "ready"
                self.counters["reregistrations"] += 1
            self.progress += 1
            self.changed.notify_all()
            return w.incarnation

    def heartbeat(self, worker_id: str, incarnation: int) -> str:
        with self.lock:
            return self._touch(worker_id, incarnation)

    def pull_task(self, worker_id: str, incarnation: int):
        with self.lock:
            status = self._touch(worker_id, incarnation)
            if status != "ok" or self._releases_workers():
                return ("shutdown", None)
            if self.fatal is not None or not self.queue or self.stage is None:
                return ("wait", None)
            w = self.workers[worker_id]
            if w.shard is not None:  # it asks again while holding a shard: that shard was lost
                self.counters["lost_replies"] += 1
                self._requeue(worker_id, w, "asked for more work")
                if not self.queue:
                    return ("wait", None)
            shard = self.queue.popleft()
            attempt = self.next_attempt[shard]
            self.next_attempt[shard] += 1
            self.in_flight[shard] = (worker_id, incarnation, attempt)
            self.assigned[(shard, attempt)] = (worker_id, incarnation)
            w.shard, w.state = shard, "busy"
            self.progress += 1
            # Only this shard's own input travels (never the plan with every shard's input).
            task = Task(self.stage.index, shard, attempt, self.inputs.get(shard, ()))
            return ("task", (self.stage, task))

    def report_result(
        self, worker_id: str, incarnation: int, stage: int, shard: int, attempt: int, refs: list
    ) -> bool:
        with self.lock:
            writer = self.stage is not None and self.stage.output.startswith("write_")
            if not self._settle(worker_id, incarnation, stage, shard, attempt):
                self._drop_stale(worker_id, stage, shard, attempt, refs)
                return False
            if writer:  # exactly one attempt's file becomes final
                try:
                    refs = self._commit(refs)
                except OSError as e:
                    for _, tmp in refs:
                        _remove(tmp)
                    self._task_error(worker_id, shard, f"commit failed: {type(e).__name__}: {e}")
                    return False
            self.results[shard] = refs
            self.completed += 1
            self.progress += 1
            self.counters["tasks_completed"] += 1
            log.info(zl.TASKS_COMPLETED, self.stage.name, self.completed, self.total)
            if self.completed >= self.total:  # the stage waiter polls for everything else
                self.changed.notify_all()
            return True

    def report_error(
        self, worker_id: str, incarnation: int, stage: int, shard: int, attempt: int, error: str
    ) -> None:
        with self.lock:
            if not self._settle(worker_id, incarnation, stage, shard, attempt):
                return
            self._task_error(worker_id, shard, error)

    def _commit(self, refs: list) -> list:
        """Rename each temporary file to its final path; the first failure undoes nothing it
        renamed before (one file per shard) and raises."""
        committed = []
        for target, tmp in refs:
            final = commit_path(tmp)
            os.replace(tmp, final)
            committed.append((target, final))
        return committed

    def _drop_stale(self, worker_id: str, stage: int, shard: int, attempt: int, refs: list) -> None:
        current = self.in_flight.get(shard, (None, None, -1))[2]
        log.warning(zl.STALE_RESULT, worker_id, shard, attempt, current)
        self.counters["stale_results"] += 1
        if self.stage is None or stage != self.stage.index:
            self.counters["stale_other_stage"] += 1
        for _, path in refs:  # a stale writer's temporary file (chunk files are per attempt)
            if ".tmp-" in os.path.basename(path):
                _remove(path)

    def _task_error(self, worker_id: str, shard: int, error: str) -> None:
        """A settled shard failed in user code (or its commit failed): re-queue it or, at the
        budget, end the pipeline with an error naming it."""
        self.task_failures[shard] += 1
        self.counters["task_errors"] += 1
        self.progress += 1
        n, limit = self.task_failures[shard], self.cfg["max_shard_failures"]
        last = error.strip().splitlines()[-1] if error.strip() else "error"
        if n >= limit:
            msg = (f"Shard {shard} of {self.stage.name} has failed {n} times (max {limit}), last "
                   f"failure on worker {worker_id}: {last}")  # fmt: skip
            log.error(zl.SHARD_TASK_BUDGET, shard, n, limit, worker_id)
            self._fail_shard(shard, msg)
        else:
            log.warning(
                "Shard %d failed on worker %s (task error %d/%d), re-queuing: %s",
                shard, worker_id, n, limit, last,
            )  # fmt: skip
            self.queue.append(shard)
        self.changed.notify_all()

    def _settle(
        self, worker_id: str, incarnation: int, stage: int, shard: int, attempt: int
    ) -> bool:
        """A report is accepted only from the run holding the shard (or a late first result,
        ``_late_but_first``); then the shard leaves the in-flight set or the queue, a re-run of
        it elsewhere is superseded, and the worker is ready again."""
        self._touch(worker_id, incarnation)
        if not self._accepts(worker_id, incarnation, stage, shard, attempt):
            return False
        holder = self.in_flight.pop(shard, None)
        if holder is None:  # a late run's result for a re-queued shard: it leaves the queue
            with contextlib.suppress(ValueError):
                self.queue.remove(shard)
        elif holder[:2] != (worker_id, incarnation):  # a re-run elsewhere: its report will be stale
            other = self.workers.get(holder[0])
            if other is not None and other.shard == shard:
                other.shard = None
                other.state = "ready" if other.state == "busy" else other.state
        w = self.workers[worker_id]
        if w.shard in (shard, None):
            w.shard, w.state = None, "ready"
        return True

    def _accepts(
        self, worker_id: str, incarnation: int, stage: int, shard: int, attempt: int
    ) -> bool:
        if self.stage is None or stage != self.stage.index:
            return False
        if self.in_flight.get(shard) == (worker_id, incarnation, attempt):
            return True
        return self._late_but_first(worker_id, incarnation, shard, attempt)

    def _late_but_first(self, worker_id: str, incarnation: int, shard: int, attempt: int) -> bool:
        """A worker declared dead while its task ran (one long call holding the GIL starves its
        heartbeat thread; so does a frozen process) still delivers the result of the run it was
        given, and the shard is not completed yet: that result is the shard's first, so it is
        taken, and the shard's re-run (queued or in flight) is dropped instead. Dropping it
        made such a shard run again and again, each run outliving the heartbeat timeout, until
        its infra budget failed the pipeline. The worker must be the same incarnation (a
        restarted process's old runs stay stale)."""
        w = self.workers.get(worker_id)
        return (
            shard not in self.results
            and self.fatal is None
            and w is not None
            and w.incarnation == incarnation
            and self.assigned.get((shard, attempt)) == (worker_id, incarnation)
        )

    def _fail_shard(self, shard: int, msg: str) -> None:
        """A shard spent its budget (logged in upstream's wording by the caller): the pipeline
        ends with an error naming the shard and its stage."""
        self.fatal = ShardFailedError(msg, shard, self.stage.name)

    def _touch(self, worker_id: str, incarnation: int) -> str:
        """Any RPC is a heartbeat. A worker declared failed that speaks again is alive after all."""
        w = self.workers.get(worker_id)
        if w is None:
            return "unknown"
        if incarnation != w.incarnation:
            return "stale"
        w.last_seen = time.monotonic()
        if w.state == "failed":
            w.state = "busy" if w.shard is not None else "ready"
            self.counters["false_deaths"] += 1
            self.changed.notify_all()
        return "ok"

    def _requeue(self, worker_id: str, w: _WorkerState, why: str) -> None:
        """Put the worker's in-flight shard back at the head of the queue (an infra loss)."""
        shard, w.shard = w.shard, None
        if shard is None or self.in_flight.get(shard, (None,))[0] != worker_id:
            return
        del self.in_flight[shard]
        self.infra_failures[shard] += 1
        self.progress += 1
        n, limit = self.infra_failures[shard], self.cfg["max_shard_infra_failures"]
        log.info(zl.REQUEUE_IN_FLIGHT, worker_id)
        if self._infra_budget_spent(n, limit):
            msg = (f"Shard {shard} of {self.stage.name} has been in flight during {n} infra failures "
                   f"(max {limit}); treating it as a deterministic crasher. Last failure on worker {worker_id} ({why}).")  # fmt: skip
            log.error(zl.SHARD_INFRA_BUDGET, shard, n, limit, worker_id)
            self._fail_shard(shard, msg)
        else:
            self.queue.appendleft(shard)

    @staticmethod
    def _infra_budget_spent(n: int, limit: int) -> bool:
        return n >= limit

    def _releases_workers(self) -> bool:
        """Workers are told to shut down only once the whole pipeline is done: until then a
        re-queued shard may need any of them."""
        return self.finished

    # --- the pipeline (the driver's one long call) ----------------------------------------------

    def run_pipeline(self, plan: Plan, execution_id: str) -> list:
        """Run every stage; returns the final outputs' ``(target, path)`` in shard order."""
        started = time.monotonic()
        inputs: dict[int, tuple] = dict(enumerate(plan.source_shards))
        outputs: list = []
        with self.lock:
            self.plan = plan
        for stage in plan.stages:
            with self.lock:
                self.stage = stage
                self._reset_stage(stage.num_shards, inputs)
                self.progress += 1
            log.info(zl.STARTING_STAGE_WITH_EXECUTION, execution_id, stage.name, stage.num_shards)
            self._wait_for_stage(started)
            with self.lock:
                outputs = [ref for shard in sorted(self.results) for ref in self.results[shard]]
            grouped: dict[int, list] = {}
            for target, path in outputs:
                grouped.setdefault(target, []).append(path)
            inputs = {t: tuple(paths) for t, paths in grouped.items()}
        with self.lock:
            self.finished = True
            self.stage = None
        return outputs

    def _wait_for_stage(self, started: float) -> None:
        all_dead_since = None
        with self.lock:
            while True:
                if self.fatal is not None:
                    raise self.fatal
                if self.ctx.stopped.is_set():  # this incarnation was killed: its threads end
                    raise CoordinatorLostError(f"coordinator {self.name} stopped")
                if self.completed >= self.total:
                    return
                self._check_accounting()
                now = time.monotonic()
                alive = self._alive_count()
                if not self.workers:
                    self._check_registration(now - started)
                elif alive == 0:
                    if all_dead_since is None:
                        all_dead_since = now
                        self.counters["all_dead_spells"] += 1
                        log.warning(zl.ALL_WORKERS_DEAD)
                    elif now - all_dead_since > self.cfg["no_workers_timeout"]:
                        msg = zl.NO_ALIVE_WORKERS % (
                            now - all_dead_since,
                            now - started,
                            len(self.workers),
                        )
                        log.error(zl.COORDINATOR_ABORTED, msg)
                        raise NoAliveWorkersError(msg)
                else:
                    all_dead_since = self._dead_timer_after_recovery(all_dead_since)
                self._idle_wait()

    def _alive_count(self) -> int:
        return sum(1 for w in self.workers.values() if w.state in ALIVE)

    @staticmethod
    def _dead_timer_after_recovery(all_dead_since: float | None) -> float | None:
        """A worker is alive again: the all-dead timer starts over at the next all-dead spell."""
        return None

    def _check_registration(self, waited: float) -> None:
        if waited > self.cfg["registration_timeout"]:
            raise NoWorkersRegisteredError(
                f"No worker registered within {self.cfg['registration_timeout']:.1f}s; the "
                f"workers ask for {self.cfg['resources']}: can the cluster provide that?"
            )

    def _check_accounting(self) -> None:
        """Every shard is completed, queued, or in flight to the worker incarnation that holds
        it; any other shard would be waited for forever."""
        lost = self.total - self.completed - len(self.queue) - len(self.in_flight)
        if lost > 0:
            known = set(self.results) | set(self.queue) | set(self.in_flight)
            missing = sorted(set(range(self.total)) - known)[:10]
            self._lost(f"{lost} shard(s) of {self.stage.name} are neither completed, queued nor "
                       f"in flight (shards {missing})")  # fmt: skip
        for shard, (worker_id, incarnation, _) in self.in_flight.items():
            w = self.workers.get(worker_id)
            if w is None or w.incarnation != incarnation or w.shard != shard:
                self._lost(f"shard {shard} of {self.stage.name} is in flight to {worker_id} "
                           f"(incarnation {incarnation}), which does not hold it")  # fmt: skip

    def _lost(self, what: str) -> None:
        msg = f"{what}: lost by the engine"
        log.error(zl.COORDINATOR_ABORTED, msg)
        raise ShardLostError(msg)

    def _idle_wait(self) -> None:
        self.changed.wait(0.05)  # releases the lock while it waits

    def progress_token(self) -> tuple[int, str]:
        """What the driver's liveness probe reads: a counter of steps forward and a status."""
        with self.lock:
            name = self.stage.name if self.stage is not None else "-"
            return self.progress, (
                f"[{name}] {self.completed}/{self.total} complete, {len(self.in_flight)} in-flight, "
                f"{len(self.queue)} queued, {self._alive_count()}/{len(self.workers)} workers alive"
            )

    # --- the liveness and status loop -------------------------------------------------------------

    def _loop(self) -> None:
        tick = min(0.2, self.cfg["heartbeat_timeout"] / 4)
        next_status = 0.0
        while not self.ctx.stopped.wait(tick):
            try:
                fault = self.cfg.get("loop_fault")
                if fault is not None:
                    fault(self)
                self._check_heartbeats()
                if time.monotonic() >= next_status:
                    next_status = time.monotonic() + self.cfg["status_interval"]
                    self._log_status()
            except Exception as e:
                log.exception(zl.LOOP_CRASHED)
                with self.lock:
                    self.fatal = ZephyrError(
                        f"Coordinator loop crashed unexpectedly: {type(e).__name__}: {e}"
                    )
                    log.error(zl.COORDINATOR_ABORTED, self.fatal)
                    self.changed.notify_all()
                return

    def _check_heartbeats(self) -> None:
        timeout = self.cfg["heartbeat_timeout"]
        with self.lock:
            now = time.monotonic()
            if now - self._last_check > timeout:
                # This process itself was stopped longer than the timeout (SIGSTOP, a paused VM,
                # swapping): the workers' calls wait behind the pause, unheard. Silence from
                # before the pause is the coordinator's, not theirs: judging it declared every
                # worker dead at once and re-ran every shard in flight.
                self._resumed_at = now
            self._last_check = now
            for worker_id, w in self.workers.items():
                # A grace period after (re-)registration: a worker is not judged before it could speak.
                if (
                    w.state in ALIVE
                    and now - max(w.last_seen, self._resumed_at) > timeout
                    and now - w.registered_at > timeout
                ):
                    w.state = "failed"
                    self.counters["heartbeat_failures"] += 1
                    log.warning(zl.HEARTBEAT_TIMEOUT, worker_id, now - w.last_seen)
                    self._requeue(worker_id, w, "missed heartbeats")
            self.changed.notify_all()

    def _log_status(self) -> None:
        """The status line; any failure here is reported and survived (upstream's loop died of one)."""
        try:
            fault = self.cfg.get("status_fault")
            if fault is not None:
                fault(self)
            with self.lock:
                if self.stage is None or self.finished:
                    return
                alive = self._alive_count()
                args = (self.stage.name, self.completed, self.total, len(self.in_flight), len(self.queue),
                        alive, len(self.workers), len(self.workers) - alive)  # fmt: skip
            log.info(zl.STATUS, *args)
        except Exception as e:
            self.counters["status_errors"] += 1
            with contextlib.suppress(Exception):
                log.warning("status line failed: %s: %s", type(e).__name__, e)

    def worker_count(self) -> int:
        """Registered workers (alive or not)."""
        with self.lock:
            return len(self.workers)

    def get_counters(self) -> dict:
        with self.lock:
            return dict(self.counters)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)

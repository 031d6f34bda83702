"""Upstream's defects, put back into the engine one at a time.

Each mutant is the engine behaving the way upstream zephyr did (shared/engine-defects.md, the
row numbers below, and the defects found by fault injection beyond the scenarios). A mutant
patches one decision of the engine with ``monkeypatch``; the regression suite runs the scenario
guarding it and asserts that the scenario fails (within its deadline: a hang is a failure too).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass

from zephyr_engine import logs as zl
from zephyr_engine.context import ZephyrContext
from zephyr_engine.coordinator import Coordinator
from zephyr_engine.errors import PipelineFailedError
from zephyr_engine.worker import Task, Worker

log = logging.getLogger(zl.LOGGER_NAME)


@dataclass(frozen=True)
class Mutant:
    id: str
    scenario: str
    rows: tuple[int, ...]  # rows of shared/engine-defects.md it puts back (empty: issue table)
    defect: str
    apply: Callable  # apply(monkeypatch)


# --- ZL01 ----------------------------------------------------------------------------------------


def counts_registered_workers(mp):
    """Row 1: the stage wait counted registered workers, never alive ones."""
    mp.setattr(Coordinator, "_alive_count", lambda self: len(self.workers))


def dead_timer_never_resets(mp):
    """The all-dead timer keeps its start when a worker comes back."""
    mp.setattr(Coordinator, "_dead_timer_after_recovery", staticmethod(lambda since: since))


# --- ZL02 ----------------------------------------------------------------------------------------


def same_names_on_retry(mp):
    """Row 2: every attempt recreates its actors under the same names."""

    def names(self, pipeline, attempt, workers):
        return f"zephyr-{self.name}-coord-0", [
            f"zephyr-{self.name}-workers-{i}" for i in range(workers)
        ]

    mp.setattr(ZephyrContext, "_actor_names", names)


# --- ZL03 ----------------------------------------------------------------------------------------


def restartable_coordinator(mp):
    """Row 3: the coordinator is preemptible, so it gets ``max_restarts=-1``."""
    mp.setattr(ZephyrContext, "coordinator_max_restarts", -1)


# --- ZL04 ----------------------------------------------------------------------------------------


def registration_serialized_under_the_lock(mp):
    """Row 4: registrations do their work under the one lock (upstream #8015: "the coordinator
    serializes them under one lock, so workers past the 30s deadline died on arrival"); every
    other RPC, heartbeats included, queues behind them. 50 ms stands for that work."""
    original = Coordinator.register_worker

    def register_worker(self, worker_id):
        with self.lock:
            time.sleep(0.05)
        return original(self, worker_id)

    mp.setattr(Coordinator, "register_worker", register_worker)


def only_heartbeats_prove_liveness(mp):
    """Only ``heartbeat`` refreshes a worker's liveness, not its pulls and reports."""

    def touch(self, worker_id, incarnation):
        w = self.workers.get(worker_id)
        if w is None:
            return "unknown"
        return "ok" if incarnation == w.incarnation else "stale"

    original = Coordinator._touch

    def heartbeat(self, worker_id, incarnation):
        with self.lock:
            return original(self, worker_id, incarnation)

    mp.setattr(Coordinator, "_touch", touch)
    mp.setattr(Coordinator, "heartbeat", heartbeat)


@dataclass(frozen=True)
class TaskWithShared(Task):
    shared: dict | None = None


def shared_data_in_every_task(mp):
    """Row 14: the shared values are pickled into every ``pull_task`` reply."""
    original = Coordinator.pull_task

    def pull_task(self, worker_id, incarnation):
        kind, payload = original(self, worker_id, incarnation)
        if kind != "task":
            return kind, payload
        stage, task = payload
        folder, values = self.cfg.get("shared_dir"), {}
        for name in os.listdir(folder) if folder else []:
            if name.endswith(".pkl"):
                with open(os.path.join(folder, name), "rb") as f:
                    values[name[:-4]] = pickle.load(f)
        fat = TaskWithShared(task.stage, task.shard, task.attempt, task.inputs, values)
        return kind, (stage, fat)

    mp.setattr(Coordinator, "pull_task", pull_task)


# --- ZL05 ----------------------------------------------------------------------------------------


def reregistration_keeps_the_shard_in_flight(mp):
    """Row 5: a worker re-registering (restarted by the backend) does not re-queue the shard its
    old incarnation held; the shard stays in flight to nobody."""

    def register_worker(self, worker_id):
        with self.lock:
            now = time.monotonic()
            w = self.workers.get(worker_id)
            if w is None:
                from zephyr_engine.coordinator import _WorkerState

                w = self.workers[worker_id] = _WorkerState(1, now, now)
            else:
                w.incarnation += 1
                w.registered_at = w.last_seen = now
                w.state, w.shard = "ready", None
                self.counters["reregistrations"] += 1
            self.progress += 1
            return w.incarnation

    mp.setattr(Coordinator, "register_worker", register_worker)


def stale_results_accepted(mp):
    """Row 6: a report is matched by its shard only (not worker, incarnation, attempt, stage)."""
    mp.setattr(
        Coordinator,
        "_accepts",
        lambda self, worker_id, incarnation, stage, shard, attempt: shard in self.in_flight,
    )


def fire_and_forget_reports(mp):
    """Row 6: ``report_result`` is sent without waiting; the next ``pull_task`` overtakes it."""
    original = Worker._report

    def report(self, method, task, payload):
        if method != "report_result":
            return original(self, method, task, payload)
        with contextlib.suppress(Exception):
            coordinator = self.ctx.backend.get_actor(self.coordinator_name)
            coordinator.call(method, self.worker_id, self.incarnation, task.stage, task.shard,
                             task.attempt, payload)  # fmt: skip
        return True

    mp.setattr(Worker, "_report", report)


def last_stage_releases_idle_workers(mp):
    """Row 13: in the last stage, an idle worker asking for work once the queue is empty is
    told to shut down, though shards are still in flight."""

    def releases(self):
        last = (
            self.plan is not None
            and self.stage is not None
            and (self.stage.index == len(self.plan.stages) - 1)
        )
        return self.finished or (last and not self.queue)

    mp.setattr(Coordinator, "_releases_workers", releases)


# --- ZL06 ----------------------------------------------------------------------------------------


def poll_loop_exits_on_first_error(mp):
    """Row 7: the poll loop ends for good on its first failed pull; the heartbeat thread lives
    on, so the worker looks alive and never works again."""
    mp.setattr(Worker, "_keep_polling_after", lambda self, failures: False)


def poll_and_heartbeat_die_on_first_error(mp):
    """Row 7: the poll loop ends on its first failed pull and the heartbeat thread with it; the
    process stays alive, so the backend never restarts it."""

    def give_up(self, failures):
        self.ctx.stopped.set()  # this incarnation's threads end; the actor is not failed
        return False

    mp.setattr(Worker, "_keep_polling_after", give_up)


# --- ZL07 ----------------------------------------------------------------------------------------


def workers_never_restart(mp):
    """Before upstream's max_restarts=-1 for preemptible actors: a preempted worker stays dead."""
    mp.setattr(ZephyrContext, "worker_max_restarts", 0)


# --- ZL08 ----------------------------------------------------------------------------------------


def every_task_error_fatal(mp):
    """Row 8: the first task error of any shard ends the pipeline (no budget)."""

    def task_error(self, worker_id, shard, error):
        self.task_failures[shard] += 1
        last = error.strip().splitlines()[-1] if error.strip() else "error"
        self._fail_shard(shard, f"Shard {shard} failed on worker {worker_id}: {last}")
        self.changed.notify_all()

    mp.setattr(Coordinator, "_task_error", task_error)


def no_infra_budget(mp):
    """Row 8: a shard that kills its worker every time is re-queued forever."""
    mp.setattr(Coordinator, "_infra_budget_spent", staticmethod(lambda n, limit: False))


# --- ZL09 ----------------------------------------------------------------------------------------


def coordinator_handle_as_argument(mp):
    """Row 9: the worker constructor takes the coordinator's handle (an object-store argument
    on Ray), not its name."""
    mp.setattr(
        ZephyrContext,
        "_worker_args",
        staticmethod(lambda coordinator, name, worker_id, cfg: (coordinator, worker_id, cfg)),
    )
    original = Worker._call

    def call(self, method, *args):
        if isinstance(self.coordinator_name, str):
            return original(self, method, *args)
        return self.coordinator_name.call(method, *args).result(timeout=self.cfg["rpc_timeout"])

    mp.setattr(Worker, "_call", call)


# --- ZL10 ----------------------------------------------------------------------------------------


def unprotected_status_loop(mp):
    """Row 10: the loop has no guard: an exception in the status line or the liveness check
    ends the loop thread silently, and heartbeats are never checked again."""

    def loop(self):
        tick = min(0.2, self.cfg["heartbeat_timeout"] / 4)
        next_status = 0.0
        while not self.ctx.stopped.wait(tick):
            fault = self.cfg.get("loop_fault")
            if fault is not None:
                fault(self)
            self._check_heartbeats()
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + self.cfg["status_interval"]
                fault = self.cfg.get("status_fault")
                if fault is not None:
                    fault(self)

    mp.setattr(Coordinator, "_loop", loop)


# --- ZL11 ----------------------------------------------------------------------------------------


def no_readiness_barrier(mp):
    """Row 11: the stage waits for workers without a bound when none ever registers."""
    mp.setattr(Coordinator, "_check_registration", lambda self, waited: None)


# --- ZL12 ----------------------------------------------------------------------------------------


def no_backoff(mp):
    """Row 12: retries follow each other at once."""
    mp.setattr(ZephyrContext, "_backoff", lambda self, attempt: 0.0)


def earlier_causes_lost(mp):
    """Row 12: the final error carries only the last attempt's cause."""
    mp.setattr(
        ZephyrContext,
        "_final_error",
        staticmethod(lambda pipeline, causes: PipelineFailedError(pipeline, causes[-1:])),
    )


MUTANTS = [
    Mutant("ZL01-registered-count", "ZL01", (1,), "stage wait counts registered workers", counts_registered_workers),
    Mutant("ZL01-timer-never-resets", "ZL01", (), "all-dead timer never resets", dead_timer_never_resets),
    Mutant("ZL02-same-names", "ZL02", (2,), "retries reuse the actor names", same_names_on_retry),
    Mutant("ZL03-restartable-coordinator", "ZL03", (3,), "coordinator max_restarts=-1", restartable_coordinator),
    Mutant("ZL04-registration-under-the-lock", "ZL04", (4,), "registrations serialized under the one lock", registration_serialized_under_the_lock),
    Mutant("ZL04-heartbeat-only-liveness", "ZL04", (4,), "only heartbeat refreshes liveness", only_heartbeats_prove_liveness),
    Mutant("ZL04-shared-in-every-task", "ZL04", (14,), "shared data pickled into every task", shared_data_in_every_task),
    Mutant("ZL05-reregistration-no-requeue", "ZL05", (5,), "re-registration keeps the old shard in flight", reregistration_keeps_the_shard_in_flight),
    Mutant("ZL05-stale-results-accepted", "ZL05", (6,), "reports matched by shard only", stale_results_accepted),
    Mutant("ZL05-fire-and-forget-report", "ZL05", (6,), "fire-and-forget report_result", fire_and_forget_reports),
    Mutant("ZL05-last-stage-shutdown", "ZL05", (13,), "idle workers shut down before the last stage ends", last_stage_releases_idle_workers),
    Mutant("ZL06-poll-exits-heartbeat-lives", "ZL06", (7,), "poll loop exits on its first RPC error", poll_loop_exits_on_first_error),
    Mutant("ZL06-poll-and-heartbeat-exit", "ZL06", (7,), "poll loop and heartbeat end on the first RPC error", poll_and_heartbeat_die_on_first_error),
    Mutant("ZL07-reregistration-no-requeue", "ZL07", (5,), "re-registration keeps the old shard in flight", reregistration_keeps_the_shard_in_flight),
    Mutant("ZL07-workers-never-restart", "ZL07", (), "preempted workers stay dead (max_restarts=0)", workers_never_restart),
    Mutant("ZL08-every-error-fatal", "ZL08", (8,), "every task error fatal at once", every_task_error_fatal),
    Mutant("ZL08-no-infra-budget", "ZL08", (8,), "a worker-killing shard is re-queued forever", no_infra_budget),
    Mutant("ZL09-handle-argument", "ZL09", (9,), "coordinator handle as a constructor argument", coordinator_handle_as_argument),
    Mutant("ZL10-unprotected-loop", "ZL10", (10,), "status loop dies silently", unprotected_status_loop),
    Mutant("ZL11-no-readiness-barrier", "ZL11", (11,), "no bound on waiting for the first registration", no_readiness_barrier),
    Mutant("ZL12-no-backoff", "ZL12", (12,), "no backoff between attempts", no_backoff),
    Mutant("ZL12-causes-lost", "ZL12", (12,), "earlier attempts' errors lost", earlier_causes_lost),
]  # fmt: skip

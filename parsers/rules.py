"""The rule catalog: every message family the parser knows, as data.

Each rule has a stable id, the table it fills, literal substrings that must all be present (the
cheap prefilter), a regex with named groups for the fields (searched in the record's message,
continuation lines included), optional extra regexes that fill more fields when they match, fixed
column values, and at least two real sample lines. Adding a wording is adding an entry here.
Within a table the first matching rule wins, so more specific wordings come first.

Each rule also says which id its wording carries for the ``subject`` column: the one thing the
record witnesses, so that one happening reported by several files or processes (the raylet, the
GCS, the core-driver log, the driver's stdout, a JSON event file) is counted once. ``subject`` is a
tuple of templates, tried in order; the first whose ids are all present wins, else the record has
no subject. ``{name}`` is a named group of the rule's regexes or a record column (``pid``, ``ip``);
``{name?}`` may be absent (it is then empty: ``process:123@`` is pid 123 on the node whose lines
Ray prints without ``ip=``, the driver's own). The kinds: ``node:<node id>``, ``actor:<actor id or
name>``, ``worker:<zephyr worker name>``, ``process:<pid>@<ip>`` (a worker process, e.g. one
that died), ``task:<task id>``, ``oom:<node ip>/<reading>`` (one kill of Ray's memory monitor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NODE_ID = r"[0-9a-f]{56}"
# One decision of Ray's memory monitor: the node's memory reading it killed on. The raylet's
# "Killing N worker(s)", the GCS's worker exits, the JSON event, the owner's task errors and the
# driver's OutOfMemoryError all quote it verbatim, while the killed pid and worker id are only in
# detail lines that the folding rule makes records of their own (and the driver never has them).
# Two decisions 200 ms apart read differently; one decision killing 2 workers is one kill.
OOM_READING = r"was [\d.]+GB(?: used)? / [\d.]+GB(?: limit)? \((?P<oom_fraction>[\d.]+)\)"
OOM_KILL = "oom:{node_ip}/{used_gb}/{limit_gb}/{oom_fraction}"


@dataclass(frozen=True)
class Rule:
    id: str
    table: str
    literals: tuple[str, ...]
    regex: str
    samples: tuple[str, ...]
    extra: tuple[str, ...] = ()
    set: dict = field(default_factory=dict)
    subject: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "compiled", re.compile(self.regex))
        object.__setattr__(self, "compiled_extra", tuple(re.compile(x) for x in self.extra))

    def extract(self, message: str) -> dict | None:
        """Fields of ``message`` under this rule, or None when it does not match."""
        if not all(lit in message for lit in self.literals):
            return None
        m = self.compiled.search(message)
        if m is None:
            return None
        values = {k: v for k, v in m.groupdict().items() if v is not None}
        for rx in self.compiled_extra:
            mx = rx.search(message)
            if mx:
                for k, v in mx.groupdict().items():
                    if v is not None:
                        values.setdefault(k, v)
        values.update(self.set)
        return values

    def subject_of(self, values: dict, record: dict | None = None) -> str | None:
        """The ``subject`` of a record with these fields (``record``: its ``pid`` and ``ip``)."""
        known = {**(record or {}), **values}
        for template in self.subject:
            names = SUBJECT_NAME.findall(template)
            if all(opt or known.get(n) not in (None, "") for n, opt in names):
                return SUBJECT_NAME.sub(lambda m: str(known.get(m[1]) or ""), template)
        return None


SUBJECT_NAME = re.compile(r"\{(\w+)(\??)\}")


# The lifecycle rules' subjects: the zephyr worker named in ``[name] ...`` or ``worker name``, or
# the coordinator's process.
_BRACKETED = (
    r"\[(?P<wname>[^\]\s]+)\] (?:pull_task failed|Heartbeat failed|\d+ consecutive|Received SHUTDOWN|Executing task)",
)
LIFECYCLE_SUBJECTS = {
    "coordinator_initialized": ((), ("process:{pid}@{ip?}",)),
    "coordinator_shutdown": ((), ("process:{pid}@{ip?}",)),
    **{name: (_BRACKETED, ("worker:{wname}",)) for name in
       ("pull_task_failed", "heartbeat_failed", "heartbeat_give_up", "received_shutdown", "executing_shard")},
    "task_removed": ((r"from worker (?P<wname>\S+), re-queueing",), ("worker:{wname}",)),
    "in_flight_requeued": ((r"Worker (?P<wname>\S+) had an in-flight task",), ("worker:{wname}",)),
    "stale_result": ((r"Ignoring stale result from worker (?P<wname>\S+)",), ("worker:{wname}",)),
    "node_removed_graceful": ((rf"node_id=(?P<node_id>{NODE_ID})",), ("node:{node_id}",)),
}  # fmt: skip

RULES: tuple[Rule, ...] = (
    # --- node_deaths ----------------------------------------------------------------------------
    Rule(
        "ray.node_marked_dead", "node_deaths", ("has been marked dead because the detector",),
        rf"The node with node id:? (?P<node_id>{NODE_ID})(?: and (?:address|ip): (?P<node_ip>[\d.]+))?"
        r"(?: and node name: (?P<node_name>\S+))?",
        (
            "(raylet) The node with node id: 9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3 and address: 10.130.0.113 and node name: 10.130.0.113 has been marked dead because the detector has missed too many heartbeats from it. This can happen when a \t(1) raylet crashes unexpectedly (OOM, etc.) ",
            "2023-03-03 05:15:30,774 WARNING worker.py:1866 -- The node with node id: 9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3 and ip: 10.130.0.113 has been marked dead because the detector has missed too many heartbeats from it. This can happen when a       (1) raylet crashes unexpectedly (OOM, preempted node, etc.)",
        ),
        set={"reason": "UNEXPECTED_TERMINATION"},
        subject=("node:{node_id}",),
    ),
    Rule(
        "gcs.health_check_dead", "node_deaths", ("Node is dead because the health check failed.",),
        rf"Node is dead because the health check failed\.(?: node_id=(?P<node_id>{NODE_ID}))?",
        (
            "[2026-02-20 21:39:00,120 W 1234 1234] (gcs_server) gcs_health_check_manager.cc:147: Node is dead because the health check failed. node_id=9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3",
            "(pid=gcs_server) [2026-11-28 11:04:23,768 W 11757 11757] (gcs_server) gcs_health_check_manager.cc:147: Node is dead because the health check failed. node_id=afb628fb112c8d4b8e7b70d4c7541e9d6b0c40b3be3fa79b08d7bbd3",
        ),
        set={"reason": "HEALTH_CHECK_FAILED"},
        subject=("node:{node_id}",),
    ),
    Rule(
        "gcs.node_removed", "node_deaths", ("death reason = ",),
        r"(?:Removing node, node name = (?P<old_name>\S+))?, death reason = "
        r"(?P<reason>UNEXPECTED_TERMINATION|AUTOSCALER_DRAIN_PREEMPTED), death message = (?P<detail>.*?)"
        rf"(?: node_id=(?P<node_id>{NODE_ID}))?(?: node_name=(?P<node_name>\S+))?$",
        (
            "[2026-02-20 21:39:00,123 I 1234 1234] (gcs_server) gcs_node_manager.cc:316: , death reason = UNEXPECTED_TERMINATION, death message = health check failed due to missing too many heartbeats node_id=9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3 node_name=10.130.0.113",
            "[2026-02-20 21:39:00,123 I 1234 1234] (gcs_server) gcs_node_manager.cc:316: , death reason = AUTOSCALER_DRAIN_PREEMPTED, death message = preempted by the cloud provider node_id=9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3 node_name=10.130.0.113",
        ),
        subject=("node:{node_id}",),
    ),
    Rule(  # the owner's view, in a task's error: Ray 2.x, and the wording of ray#58638 (2.52+)
        "ray.node_died_error", "node_deaths", ("dead or unavailable",),
        r"(?:Task failed due to the node \(where this task was running\)\s+was dead or unavailable|"
        r"Task failed because the node it was running on is dead or unavailable)\.\s*(?:The )?[Nn]ode IP: "
        rf"(?P<node_ip>[\d.]+), node ID: (?P<node_id>{NODE_ID})",
        (
            "ray.exceptions.NodeDiedError: Task failed due to the node (where this task was running)  was dead or unavailable.\n\nThe node IP: 10.244.1.4, node ID: 74673a353f8e0caba3dcb01d6e777d7dc64490656fa0b38ccf9ed161\n\nThis can happen if the instance where the node was running failed, the node was preempted, or raylet crashed unexpectedly (e.g., due to OOM) etc.",
            "Task failed because the node it was running on is dead or unavailable. Node IP: 127.0.0.1, node ID: e55b8ca03ebf3f7418f51533d8d55abeaab75fa9b29e2e6282b47646. This can happen if the node was preempted, had a hardware failure, or its raylet crashed unexpectedly.",
        ),
        set={"reason": "NODE_DIED"},
        subject=("node:{node_id}",),
    ),
    # --- heartbeat_failures, registrations, reregistrations --------------------------------------
    Rule(
        "zephyr.heartbeat_timeout", "heartbeat_failures", ("failed to heartbeat within timeout",),
        r"Zephyr worker (?P<worker_id>\S+) failed to heartbeat within timeout \((?P<silence_s>[\d.]+)s\)",
        (
            "(_RayActorHost pid=5017) 2026-02-21 12:57:39,112 WARNING zephyr.execution:402 Zephyr worker zephyr-tokenize-train-b160eb54-workers-17 failed to heartbeat within timeout (30.4s)",
            "[WARNING] zephyr.execution Zephyr worker zephyr-x-workers-1 failed to heartbeat within timeout (30.4s)",
        ),
        subject=("worker:{worker_id}",),
    ),
    Rule(
        "zephyr.registered", "registrations", ("registered, total:",),
        r"Worker (?P<worker_id>\S+) registered, total: (?P<total>\d+)",
        (
            "(_RayActorHost pid=5017) 2026-02-21 11:41:40,001 INFO zephyr.execution:287 Worker zephyr-tokenize-train-b160eb54-workers-0 registered, total: 1",
            "I20260409 17:32:27 zephyr.execution Worker zephyr-dedup-260eaf74-p0-a0-workers-12 registered, total: 13",
        ),
        subject=("worker:{worker_id}",),
    ),
    Rule(
        "zephyr.reregistering", "reregistrations", ("re-registering (likely reconstructed)",),
        r"Worker (?P<worker_id>\S+) re-registering \(likely reconstructed\)",
        (
            "(_RayActorHost pid=5017) 2026-02-21 12:55:55,002 INFO zephyr.execution:281 Worker zephyr-tokenize-train-b160eb54-workers-3 re-registering (likely reconstructed), updating handle",
            "2026-03-10 10:00:00,000 INFO zephyr.execution:281 Worker zephyr-x-workers-3 re-registering (likely reconstructed)",
        ),
        subject=("worker:{worker_id}",),
    ),
    # --- actor_already_exists --------------------------------------------------------------------
    Rule(
        "ray.name_taken", "actor_already_exists", ("is already taken",),
        r"The name (?P<actor_name>\S+) \(namespace=(?P<namespace>[^)]*)\) is already taken",
        (
            "ray.exceptions.ActorAlreadyExistsError: The name registry (namespace=None) is already taken. Please use a different name or get the existing actor using ray.get_actor('registry', namespace='None')",
            "ValueError: The name worker_17 (namespace=None) is already taken. Please use a different name or get the existing actor using ray.get_actor('worker_17', namespace='None')",
        ),
        subject=("actor:{actor_name}",),
    ),
    Rule(
        "gcs.name_exists", "actor_already_exists", ("already exists in the namespace",),
        r"Actor with name '(?P<actor_name>[^']*)' already exists in the namespace (?P<namespace>\S+)",
        (
            "[2026-02-20 21:39:00,123 W 1 1] (gcs_server) gcs_actor_manager.cc:688: Failed to register actor: AlreadyExists: Actor with name 'worker_17' already exists in the namespace my_ns job_id=01000000",
            "(pid=gcs_server) [2026-02-20 21:39:00,123 W 1 1] (gcs_server) gcs_actor_manager.cc:688: Failed to register actor: AlreadyExists: Actor with name 'zephyr-x-coord-0' already exists in the namespace default",
        ),
        subject=("actor:{actor_name}",),
    ),
    Rule(
        "ray.actor_already_exists_error", "actor_already_exists", ("ActorAlreadyExistsError",),
        r"ActorAlreadyExistsError\b",
        (
            "ray.exceptions.ActorAlreadyExistsError",
            "zephyr_engine.errors.ActorAlreadyExistsError",
        ),
    ),
    # --- worker_status ---------------------------------------------------------------------------
    Rule(
        "zephyr.status_with_execution", "worker_status", (" complete, ", " queued, "),
        r"\[(?P<execution_id>[^\]]*)\] \[(?P<stage>[^\]]*)\] (?P<completed>\d+)/(?P<total>\d+) complete, "
        r"(?P<in_flight>\d+) in-flight, (?P<queued>\d+) queued, (?:(?P<alive>\d+)/)?(?P<workers>\d+) workers"
        r"(?: alive, (?P<dead>\d+) dead)?",
        (
            "I20260409 17:32:27 zephyr.execution [20260409-101031-21f300f4] [stage0-Map \u2192 Write] 4999/5000 complete, 1 in-flight, 0 queued, 3268/3448 workers alive, 180 dead",
            "(_RayActorHost pid=1) 2026-02-21 10:00:00,000 INFO zephyr.execution:341 [3f2a9c1b0d4e] [stage1-Reduce] 5/8 complete, 3 in-flight, 0 queued, 8/8 workers alive, 0 dead; items=12 (1/s), bytes_processed=1MB (1MB/s)",
        ),
        subject=("process:{pid}@{ip?}",),
    ),
    Rule(
        "zephyr.status", "worker_status", (" complete, ", " queued, "),
        r"\[(?P<stage>[^\]]*)\] (?P<completed>\d+)/(?P<total>\d+) complete, (?P<in_flight>\d+) in-flight, "
        r"(?P<queued>\d+) queued, (?:(?P<alive>\d+)/)?(?P<workers>\d+) workers(?: alive, (?P<dead>\d+) dead)?",
        (
            "INFO zephyr.execution:341 [stage0-Map \u2192 Write] 0/4839 complete, 0 in-flight, 4839 queued, 488 workers",
            "(_RayActorHost pid=1) 2026-02-21 13:00:00,000 INFO zephyr.execution:341 [stage0-Map \u2192 Write] 4211/8840 complete, 0 in-flight, 4629 queued, 0/1024 workers alive, 1024 dead",
        ),
        subject=("process:{pid}@{ip?}",),
    ),
    # --- stage_progress --------------------------------------------------------------------------
    Rule(
        "zephyr.tasks_completed", "stage_progress", (" tasks completed",),
        r"\[(?P<stage>[^\]]*)\] (?P<completed>\d+)/(?P<total>\d+) tasks completed",
        (
            "(_RayActorHost pid=1) 2026-02-21 12:00:00,000 INFO zephyr.execution:630 [stage0-Map \u2192 Write] 17/8840 tasks completed",
            "2026-03-10 10:00:00,000 INFO zephyr.execution:630 [stage1-Reduce] 8/8 tasks completed",
        ),
        subject=("process:{pid}@{ip?}",),
    ),
    Rule(
        "zephyr.starting_stage", "stage_progress", ("Starting stage ",),
        r"(?:\[(?P<execution_id>[^\]]*)\] )?Starting stage (?P<stage>.+?) with (?P<total>\d+) tasks",
        (
            "(_RayActorHost pid=1) 2026-02-21 11:42:00,000 INFO zephyr.execution:610 Starting stage stage0-Map \u2192 Write with 8840 tasks",
            "2026-03-10 10:00:00,000 INFO zephyr.execution:610 [3f2a9c1b0d4e] Starting stage stage1-Reduce with 8 tasks",
        ),
        subject=("process:{pid}@{ip?}",),
    ),
    # --- pipeline_attempts -----------------------------------------------------------------------
    Rule(
        "zephyr.pipeline_start", "pipeline_attempts", ("Starting zephyr pipeline",),
        r"Starting zephyr pipeline(?:: (?P<pipeline_name>\S+))?(?: \((?:pipeline \d+, )?attempt (?P<attempt>\d+)\))?",
        (
            "2026-02-21 11:40:00,000\tINFO execution.py:1121 -- Starting zephyr pipeline: tokenize-train-b160eb54 (attempt 0)",
            "2026-02-24 10:00:00,000 INFO zephyr.execution Starting zephyr pipeline: dedup-1a2b3c4d (pipeline 2, attempt 1)",
        ),
    ),
    Rule(
        "zephyr.attempt_failed", "pipeline_attempts", ("Pipeline attempt ", " failed"),
        r"Pipeline attempt (?P<attempt>\d+)(?:/(?P<max_attempts>\d+))? failed(?: \(\d+ retries left\))?, "
        r"retrying[^:]*: (?P<error>[^\n]*)",
        (
            "2026-02-21 11:40:25,000\tWARNING execution.py:1143 -- Pipeline attempt 1/3 failed, retrying with fresh coordinator: ray.exceptions.ActorUnavailableError: The actor is temporarily unavailable",
            "2026-03-01 10:00:00,000 WARNING zephyr.execution Pipeline attempt 2 failed (98 retries left), retrying in 4.0s: CoordinatorUnreachable: 5 consecutive heartbeat failures",
        ),
    ),
    Rule(
        "zephyr.pipeline_failed", "pipeline_attempts", ("PipelineFailedError",),
        r"PipelineFailedError: (?P<error>[^\n]*?after (?P<attempt>\d+) attempts[^\n]*)",
        (
            "zephyr_engine.errors.PipelineFailedError: pipeline zephyr-x-p0 failed after 4 attempts: attempt 1: ShardFailedError",
            "PipelineFailedError: pipeline zephyr-y-p1 failed after 2 attempts: attempt 2: NoAliveWorkersError",
        ),
    ),
    # --- actor_deaths ----------------------------------------------------------------------------
    Rule(
        "gcs.actor_failed", "actor_deaths", ("Actor is failed on worker",),
        rf"Actor is failed on worker (?P<worker_id>[0-9a-f]+) at node (?P<node_id>{NODE_ID}), need_reschedule = "
        r"(?P<need_reschedule>\d), death context type = (?P<cause>\w+), remaining_restarts = (?P<remaining_restarts>-?\d+)",
        (
            "[2026-11-28 11:03:01,104 I 11757 11757] (gcs_server) gcs_actor_manager.cc:1515: Actor is failed on worker 1b0d0000000000000000000000000000000000000000000000000000 at node ad099baa840f0800aa6c539151436ee4a3534b58613bf7402a4cc5e3, need_reschedule = 1, death context type = ActorDiedErrorContext, remaining_restarts = -1, num_restarts = 0, num_restarts_due_to_node_preemption = 0, preempted = 0 job_id=01000000 actor_id=dc6eb73354f7c2bcc39c72ed01000000",
            "[2026-11-28 11:03:25,220 I 11757 11757] (gcs_server) gcs_actor_manager.cc:1515: Actor is failed on worker 2c0d0000000000000000000000000000000000000000000000000000 at node ad099baa840f0800aa6c539151436ee4a3534b58613bf7402a4cc5e3, need_reschedule = 1, death context type = ActorDiedErrorContext, remaining_restarts = 0, num_restarts = 0 job_id=01000000 actor_id=0d0732d21f8cdf10ffbdfcbf01000000",
        ),
        extra=(r" actor_id=(?P<trailer_actor_id>[0-9a-f]{32})",),  # the subject only
        subject=("actor:{trailer_actor_id}",),
    ),
    Rule(
        "ray.actor_died", "actor_deaths", ("The actor died unexpectedly before finishing this task",),
        r"The actor died unexpectedly before finishing this task\.",
        (
            "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.\n\tclass_name: Coordinator\n\tactor_id: 0d0732d21f8cdf10ffbdfcbf01000000\n\tpid: 11936\n\tname: coordinator\nThe actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of file.",
            "ray.exceptions.RayActorError: The actor died unexpectedly before finishing this task.",
            "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.\n        class_name: Runner\n        actor_id: 28507c63735529c3265367b501000000\n        pid: 159258\n        namespace: b9b0f765-f39a-441b-95d6-fe12e866f264\n        ip: 172.21.160.9\nThe actor is dead because its owner has died. Owner Id: 01000000ffffffffffffffffffffffffffffffffffffffffffffffff Owner Ip address: 172.21.160.9 Owner worker exit type: SYSTEM_ERROR Worker exit detail: Owner's node has crashed.",
        ),
        extra=(
            # the details are tab-indented; a log copied from a terminal or a web page has spaces
            r"(?:\t| {2,})class_name: (?P<class_name>\S+)", r"(?:\t| {2,})actor_id: (?P<actor_id>[0-9a-f]{32})",
            r"(?:\t| {2,})name: (?P<actor_name>\S+)",
            r"(?P<cause>The actor (?:is dead|died) because [^\n]*?)(?:\. Worker exit type|\. Node Id|\n|$)",
            r"Worker exit type: (?P<exit_type>[A-Z_]+)", rf"Node Id: (?P<node_id>{NODE_ID})",
        ),
        subject=("actor:{actor_id}",),
    ),
    Rule(
        "ray.actor_unavailable", "actor_deaths", ("is unavailable: ",),
        r"The actor (?P<actor_id>[0-9a-f]{32}) is unavailable: (?P<cause>[^\n]*?)(?:\. The task may or may not have been executed on the actor\.|$)",
        (
            "ray.exceptions.ActorUnavailableError: The actor 5a03751ab6752e425e9cf9d501000000 is unavailable: The actor is temporarily unavailable: RpcError: RPC error: Socket closed rpc_code: 14. The task may or may not have been executed on the actor.",
            "ActorUnavailableError: The actor 0d0732d21f8cdf10ffbdfcbf01000000 is unavailable: The actor is temporarily unavailable: IOError: The actor was restarted. The task may or may not have been executed on the actor.",
        ),
        subject=("actor:{actor_id}",),
    ),
    # The owner's core-driver log, for each call that failed on a dead actor: the task id ends with
    # the actor's id, and the death's protobuf follows (its error_message echoed once more after
    # the closing brace, a record of its own: not a report of its own, see ray.actor_dead_cause).
    Rule(
        "ray.actor_call_failed", "actor_deaths", ("failed with error ACTOR_DIED",),
        r"Task attempt [0-9a-f]{16}(?P<actor_id>[0-9a-f]{32}) failed with error ACTOR_DIED",
        (
            '[2026-11-30 20:28:28,438 W 21912 21912] task_manager.cc:1678: Task attempt f91b78d7db9a6593b173098678c132dddde9938501000000 failed with error ACTOR_DIED Fail immediately? 0, status IOError: cancelling task of dead actor, error info actor_died_error {\n  actor_died_error_context {\n    error_message: "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of file."\n    pid: 22584\n    name: "twice"',
            '[2026-11-30 20:28:22,306 W 21912 21912] task_manager.cc:1678: Task attempt c2668a65bda616c1c5d6795b0a4a28afe9a5794f01000000 failed with error ACTOR_DIED Fail immediately? 0, status IOError: cancelling task of dead actor, error info actor_died_error {\n  actor_died_error_context {\n    error_message: "The actor is dead because it was killed by `ray.kill`."\n    pid: 22523\n    name: "solo"',
        ),
        extra=(
            r'error_message: "(?P<cause>[^"\n]*?)(?:\. Worker exit type: (?P<exit_type>[A-Z_]+)|\.?")',
            r'\n +name: "(?P<actor_name>[^"\n]+)"',
        ),
        subject=("actor:{actor_id}",),
    ),
    Rule(
        "ray.actor_dead_cause", "actor_deaths", ("The actor ", " because "),
        r'(?:^|[^"])(?P<cause>The actor (?:is dead because|died because its node has died)[^\n"]*?)' r"(?:\. Worker exit type: (?P<exit_type>[A-Z_]+)|\. Node Id: (?P<node_id>[0-9a-f]{56})|$)",
        (
            "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: Worker exits unexpectedly.",
            "The actor died because its node has died. Node Id: afb628fb112c8d4b8e7b70d4c7541e9d6b0c40b3be3fa79b08d7bbd3",
            "[2026-11-30 17:43:34,232 I 677 692] core_worker.cc:4630: Force kill actor request has received. exiting immediately... The actor is dead because it was killed by `ray.kill`.",
        ),
        # The dying process's own core-worker log says it twice (the kill request, then its
        # disconnect): one death of the process its C++ prefix names.
        extra=(r"^\[\d{4}-\d\d-\d\d [\d:,]+ [DIWECF] (?P<cpp_pid>\d+) \d+\] \S+ (?:Force kill actor request|RayletIpcClient::Disconnect)",),
        subject=("process:{cpp_pid}@{ip?}",),
    ),
    Rule(
        "ray.worker_died", "actor_deaths", ("A worker died or was killed",),
        rf"A worker died or was killed while executing a task by an unexpected system error\..*?Node ID: (?P<node_id>{NODE_ID})"
        r"(?:.*?Worker exit type: (?P<exit_type>[A-Z_]+))?",
        (
            "(raylet) A worker died or was killed while executing a task by an unexpected system error. To troubleshoot the problem, check the logs for the dead worker. RayTask ID: ffffffffffffffff293c3837f623e9c250b15f6b01000000 Worker ID: fc7436e59638fd174340131b12775f5d035aac357a167cc01cd0e156 Node ID: ad099baa840f0800aa6c539151436ee4a3534b58613bf7402a4cc5e3 Worker IP address: 127.0.0.1 Worker port: 39975 Worker PID: 827161 Worker exit type: SYSTEM_ERROR Worker exit detail: Worker exits unexpectedly.",
            "(raylet) A worker died or was killed while executing a task by an unexpected system error. To troubleshoot the problem, check the logs for the dead worker. Lease ID: 010000008be35baadbde38fcf261df5e06a41ee17e1fada328e430cd1e68a26e Worker ID: 12a64c4c0000000000000000000000000000000000000000000000ff Node ID: 0b6abfec00000000000000000000000000000000000000000000aaaa Worker IP address: 10.80.8.181 Worker port: 45555 Worker PID: 26103 Worker exit type: SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error code 2.",
        ),
        extra=(r"Worker IP address: (?P<worker_ip>[\d.]+)", r"Worker PID: (?P<worker_pid>\d+)"),
        set={"cause": "worker died or was killed by an unexpected system error"},
        subject=("process:{worker_pid}@{worker_ip}",),
    ),
    Rule(
        "ray.ray_actor_error", "actor_deaths", ("RayActorError: ",),
        r"RayActorError: (?P<cause>[^\n]*)",
        (
            "ray.exceptions.RayActorError: The actor experienced an error before finishing this task.",
            "RayActorError: The actor experienced an error before finishing this task.",
        ),
    ),
    # --- oom_kills -------------------------------------------------------------------------------
    Rule(
        "ray.oom_summary", "oom_kills", ("killed due to memory pressure (OOM)",),
        r"(?P<workers_killed>\d+) Workers \(tasks / actors\) killed due to memory pressure \(OOM\), \d+ Workers "
        rf"crashed due to other reasons at node \(ID: (?P<node_id>{NODE_ID}), IP: (?P<node_ip>[\d.]+)\)",
        (
            "(raylet) [2025-08-31 16:27:59,635 E 6656 6656] (raylet) node_manager.cc:3041: 1 Workers (tasks / actors) killed due to memory pressure (OOM), 0 Workers crashed due to other reasons at node (ID: 943d78b2b00257475fd3b30e72147db79e9a39df7d935968caf3a384, IP: 172.31.29.69) over the last time period.",
            "(raylet, ip=10.0.6.140) [2025-08-31 16:27:59,635 E 6656 6656] (raylet) node_manager.cc:3041: 3 Workers (tasks / actors) killed due to memory pressure (OOM), 1 Workers crashed due to other reasons at node (ID: 943d78b2b00257475fd3b30e72147db79e9a39df7d935968caf3a384, IP: 10.0.6.140) over the last time period.",
        ),
        # no subject: a summary of the last period names no single kill; its copies share text and time

    ),
    Rule(
        "ray.oom_kill", "oom_kills", ("killed due to the node running low on memory",),
        r"(?:Task was killed due to the node running low on memory\.|(?P<workers_killed>\d+) worker\(s\) were killed due to the node running low on memory\.)",
        (
            "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.\nMemory on the node (IP: 10.0.62.231, ID: e5d953ef03e55e26f13973ea1b5a0fd0ecc729cd820bc89e4aa50451) where the task (task ID: 43534ce9375fa8e4cd0d0ec285d9974a6a95897401000000, name=allocate_memory, pid=11362, memory used=1.25GB) was running was 27.71GB / 28.80GB (0.962273), which exceeds the memory usage threshold of 0.95.",
            "ray.exceptions.OutOfMemoryError: 1 worker(s) were killed due to the node running low on memory. \nMemory on the node (IP: 192.0.2.2, ID: baaf09f9000000000000000000000000000000000000000000bed1aa) was 3.25GB used / 3.22GB limit (1.009000)\nOOM kill reason: user cgroup memory upper bound was met or exceeded",
        ),
        extra=(
            rf"Memory on the node \(IP: (?P<node_ip>[\d.]+)(?:, ID: (?P<node_id>{NODE_ID}))?\)",
            r"was (?P<used_gb>[\d.]+)GB(?: used)? / (?P<limit_gb>[\d.]+)GB",
            r"\bpid=(?P<killed_pid>\d+)", r"task ID: (?P<task_id>[0-9a-f]+)", OOM_READING,
        ),
        subject=(OOM_KILL, "process:{killed_pid}@{node_ip}", "task:{task_id}"),
    ),
    Rule(
        "raylet.oom_killing", "oom_kills", ("worker(s), kill details: ",),
        r"Killing (?P<workers_killed>\d+) worker\(s\), kill details: ",
        (
            "[2026-11-30 08:59:09,301 I 691 691] (raylet) node_manager.cc:3199: Killing 1 worker(s), kill details: Memory on the node (IP: 192.0.2.2, ID: 38eebfa64213c274cad9369350a27b4b30da192b04419b131091529d) was 2.26GB used / 23.54GB limit (0.095903)",
            "[2026-11-30 08:59:12,540 I 691 691] (raylet) node_manager.cc:3199: Killing 2 worker(s), kill details: Memory on the node (IP: 10.0.0.5, ID: 38eebfa64213c274cad9369350a27b4b30da192b04419b131091529d) was 30.25GB used / 31.00GB limit (0.975624)",
        ),
        extra=(
            rf"Memory on the node \(IP: (?P<node_ip>[\d.]+)(?:, ID: (?P<node_id>{NODE_ID}))?\)",
            r"was (?P<used_gb>[\d.]+)GB used / (?P<limit_gb>[\d.]+)GB",
            r"\bpid=(?P<killed_pid>\d+)", OOM_READING,
        ),
        subject=(OOM_KILL, "process:{killed_pid}@{node_ip}"),
    ),
    # --- warnings --------------------------------------------------------------------------------
    Rule(
        "ray.object_store_args", "warnings", ("constructor arguments in the object store",),
        r"Actor (?:(?P<actor>\S+) )?with class name: '(?P<detail>[^']*)' and ID: '(?P<actor_id>[0-9a-f]+)' has constructor arguments in the object store",
        (
            "[2025-10-14 07:22:36,892 E 1925 1925] core_worker.cc:2146: Actor with class name: 'MapWorker(MapBatches(drop_columns)->MapBatches(XGBoostPredictor))' and ID: 'dc601370a1bc5793965e00ab02000000' has constructor arguments in the object store and max_restarts > 0. If the arguments in the object store go out of scope or are lost, the actor restart will fail. See https://github.com/ray-project/ray/issues/53727 for more details.",
            "[2026-11-28 11:02:45,348 E 11744 11744] core_worker.cc:2465: Actor worker-w0 with class name: 'Worker' and ID: 'dc6eb73354f7c2bcc39c72ed01000000' has constructor arguments in the object store and max_restarts > 0.",
        ),
        set={"code": "object_store_args"},
        subject=("actor:{actor_id}",),
    ),
    Rule(
        "ray.pending_request", "warnings", ("cannot be scheduled right now",),
        r"(?P<detail>(?:The following resource request|The (?:actor or task|lease) with ID \w+) cannot be scheduled right now[^\n]*)",
        (
            "(autoscaler +13s) Warning: The following resource request cannot be scheduled right now: {'GPU': 1.0, 'CPU': 20.0}",
            "(autoscaler +2m1s) Warning: The following resource request cannot be scheduled right now: {'TPU': 4.0}. This is likely due to all cluster resources being claimed by actors. Consider creating fewer actors or adding more nodes to this Ray cluster.",
        ),
        set={"code": "infeasible_request"},
    ),
    Rule(
        "ray.infeasible_request", "warnings", ("No available node types can fulfill",),
        r"(?P<detail>No available node types can fulfill [^\n]*)",
        (
            "(autoscaler +18s) Error: No available node types can fulfill resource request {'TPU': 8.0}. Add suitable node types to this cluster to resolve this issue.",
            "(autoscaler +1m2s) No available node types can fulfill resource requests {'CPU': 64.0}*2. Add suitable node types to this cluster to resolve this issue.",
        ),
        set={"code": "infeasible_request"},
    ),
    Rule(
        "ray.runtime_env_delete_failed", "warnings", ("elete runtime env",),
        r"(?P<detail>Delete runtime env failed[^\n]*|Failed to delete runtime env[^\n]*)",
        (
            "(raylet, ip=10.128.0.20) [2026-02-20 22:00:00,000 E 75 75] (raylet) worker_pool.cc:1624: Delete runtime env failed",
            "[2023-11-09 23:36:12,671 E 75 75] (raylet) agent_manager.cc:328: Failed to delete runtime env reference, status = GrpcUnavailable: RPC Error message: keepalive watchdog timeout; RPC Error details: , maybe there are some network problems, will fail the request.",
        ),
        set={"code": "runtime_env_delete_failed"},
    ),
    Rule(
        "tpu.device_busy", "warnings", ("TPU",),
        r"(?P<detail>TPU initialization failed: open\(/dev/[^)]*\)[^\n;]*|Failed to initialize TPU system[^\n]*|The TPU is already in use by [^\n]*)",
        (
            "jaxlib._jax.XlaRuntimeError: UNKNOWN: TPU initialization failed: open(/dev/vfio/1): Device or resource busy: Device or resource busy; Couldn't open iommu group /dev/vfio/1",
            "RuntimeError: The TPU is already in use by process with pid 23472. Not attempting to load libtpu.so in this process.",
        ),
        set={"code": "tpu_device_busy"},
        subject=("process:{pid}@{ip?}",),
    ),
    Rule(
        "gcs.health_check_failed", "warnings", ("Health check failed for node ",),
        rf"Health check failed for node (?P<node_id>{NODE_ID}), remaining checks (?P<detail>-?\d+)",
        (
            "[2026-02-20 21:38:51,002 W 1234 1234] (gcs_server) gcs_health_check_manager.cc:108: Health check failed for node 9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3, remaining checks 4, status 14, response status 0, status message failed to connect, status details ",
            "(pid=gcs_server) [2026-02-20 21:38:54,002 W 1234 1234] (gcs_server) gcs_health_check_manager.cc:108: Health check failed for node 9426f44574cce4866be798cfed308f2d3e21ba69487d422872cdd6e3, remaining checks 3",
        ),
        set={"code": "health_check_failed"},
        subject=("node:{node_id}",),
    ),
    Rule(
        "raylet.marked_dead", "warnings", ("mistakenly been marked as dead by the",),
        r"(?P<detail>\[Timeout\] Exiting because this node manager has mistakenly been marked as dead by the\s*GCS[^\n]*)",
        (
            "(raylet, ip=10.130.0.113) [2026-02-21 12:55:01,000 C 411 411] (raylet) node_manager.cc:1243: [Timeout] Exiting because this node manager has mistakenly been marked as dead by the GCS: GCS failed to check the health of this node for 5 times. This is likely because the machine or raylet has become overloaded.",
            '{"label":"RAYLET_MARKED_DEAD","message":"[Timeout] Exiting because this node manager has mistakenly been marked as dead by the GCS: GCS failed to check the health of this node for 5 times."}',
        ),
        set={"code": "raylet_marked_dead"},
        subject=("node:{ip}",),
    ),
    Rule(
        "raylet.terminated", "warnings", ("Raylet is terminated. Termination is unexpected",),
        r"(?P<detail>Raylet is terminated\. Termination is unexpected\.)",
        (
            "(raylet) Raylet is terminated. Termination is unexpected. Possible reasons include: (1) SIGKILL by the user or system OOM killer, (2) Invalid memory access from Raylet causing SIGSEGV or SIGBUS, (3) Other termination signals. Last 20 lines of the Raylet logs:",
            "(raylet, ip=10.128.0.9) Raylet is terminated. Termination is unexpected. Possible reasons include: (1) SIGKILL by the user or system OOM killer.",
        ),
        set={"code": "raylet_terminated"},
        subject=("node:{ip}",),
    ),
    # --- events only ---------------------------------------------------------------------------
    # The GCS destroying an actor for good: `ray.kill(actor, no_restart=True)`, and as well every
    # actor an engine's shutdown kills and every actor of a job that ends (already dead ones too).
    # Not an actor death of the tables (a deliberate end, and a second one of a dead actor), but
    # a process that really stopped: ZL04 does not call a destroyed worker falsely marked dead.
    Rule(
        "gcs.actor_destroyed", "events", ("Destroying actor, force_kill=1",),
        r"Destroying actor, force_kill=1\b.*?actor_id=(?P<actor_id>[0-9a-f]{32})",
        (
            "[2026-11-30 20:28:21,304 I 21914 21914] (gcs_server) gcs_actor_manager.cc:1007: Destroying actor, force_kill=1, timeout_ms=-1 job_id=01000000 actor_id=c5d6795b0a4a28afe9a5794f01000000",
            "[2026-11-30 09:38:56,095 I 12726 12726] (gcs_server) gcs_actor_manager.cc:1007: Destroying actor, force_kill=1, timeout_ms=-1 job_id=02000000 actor_id=987a7faa9f89cdc17b2bf19502000000",
        ),
        subject=("actor:{actor_id}",),
    ),
    # --- events only: coordinator and worker lifecycle -------------------------------------------
    *(
        Rule(f"lifecycle.{name}", "events", (literal,), re.escape(literal), samples,
             extra=LIFECYCLE_SUBJECTS.get(name, ((), ()))[0], subject=LIFECYCLE_SUBJECTS.get(name, ((), ()))[1])
        for name, literal, samples in (
            ("coordinator_initialized", "Coordinator initialized", ("2026-02-21 11:40:01,000 INFO zephyr.execution:233 Coordinator initialized", "(_RayActorHost pid=9) 2026-02-21 11:40:01,000 INFO zephyr.execution:233 Coordinator initialized")),
            ("all_workers_dead", "All workers are dead/failed", ("[WARNING] zephyr.execution All workers are dead/failed. Waiting for workers to recover...", "(_RayActorHost pid=9) 2026-02-21 12:57:39,000 WARNING zephyr.execution:655 All workers are dead/failed. Waiting for workers to recover...")),
            ("no_alive_workers", "No alive workers for ", ("zephyr_engine.errors.NoAliveWorkersError: No alive workers for 30.0s (total elapsed 95.2s). All 64 registered workers are dead/failed.", "ZephyrWorkerError: No alive workers for 21600.0s (total elapsed 21700.1s). All 8 registered workers are dead/failed.")),
            ("no_workers_yet", "No workers available yet", ("2026-02-21 11:40:05,000 WARNING zephyr.execution:640 No workers available yet after 5.2s, waiting for discovery...", "(_RayActorHost pid=9) 2026-02-21 11:40:05,000 WARNING zephyr.execution:640 No workers available yet after 5.0s, waiting for discovery...")),
            ("coordinator_aborted", "Coordinator aborted: ", ("2026-03-23 10:00:00,000 ERROR zephyr.execution Coordinator aborted: Coordinator loop crashed unexpectedly", "(_RayActorHost pid=9) 2026-03-13 10:00:00,000 ERROR zephyr.execution:700 Coordinator aborted: Worker job terminated permanently")),
            ("coordinator_shutdown", "Coordinator shutdown", ("2026-03-01 10:00:00,000 INFO zephyr.execution Coordinator shutdown complete", "(_RayActorHost pid=9) 2026-03-01 10:00:00,000 INFO zephyr.execution:720 Coordinator shutdown requested")),
            ("loop_crashed", "Coordinator loop crashed", ("2026-03-23 10:00:00,000 ERROR zephyr.execution Coordinator loop crashed, aborting pipeline", "(_RayActorHost pid=9) 2026-03-23 10:00:00,000 ERROR zephyr.execution:690 Coordinator loop crashed, aborting pipeline")),
            ("task_removed", ", re-queueing", ("2026-02-20 10:00:00,000 INFO zephyr.execution Removed task (ShardTask(shard_idx=3), 0) from worker zephyr-x-workers-1, re-queueing", "(_RayActorHost pid=9) 2026-02-20 10:00:00,000 INFO zephyr.execution:377 Removed task (ShardTask(shard_idx=17), 1) from worker zephyr-y-workers-4, re-queueing")),
            ("in_flight_requeued", "had an in-flight task, re-queuing", ("2026-02-23 10:00:00,000 INFO zephyr.execution Worker zephyr-x-workers-1 had an in-flight task, re-queuing", "(_RayActorHost pid=9) 2026-02-23 10:00:00,000 INFO zephyr.execution:377 Worker zephyr-y-workers-2 had an in-flight task, re-queuing")),
            ("shard_task_budget", " times (max ", ("2026-04-01 10:00:00,000 ERROR zephyr.execution Shard 3 has failed 3 times (max 3), last failure on worker zephyr-x-workers-1, aborting pipeline.", "(_RayActorHost pid=9) 2026-11-30 09:03:23,635 ERROR zephyr.execution:187 Shard 3 has failed 3 times (max 3), last failure on worker zephyr-x-p0-a0-workers-1, aborting pipeline.")),
            ("shard_infra_budget", " infra failures (max ", ("2026-04-01 10:00:00,000 ERROR zephyr.execution Shard 5 has been in flight during 3 infra failures (max 3); treating as a deterministic crasher (likely native SIGSEGV / OOM in shard code) and aborting pipeline. Last failure on worker w-2.", "(_RayActorHost pid=9) 2026-04-01 10:00:00,000 ERROR zephyr.execution:210 Shard 5 has been in flight during 20 infra failures (max 20); treating as a deterministic crasher (likely native SIGSEGV / OOM in shard code) and aborting pipeline. Last failure on worker zephyr-x-workers-7.")),
            ("stale_result", "Ignoring stale result from worker", ("2026-02-23 10:00:00,000 WARNING zephyr.execution Ignoring stale result from worker zephyr-x-workers-1 for shard 3 (attempt 0, current 1)", "(_RayActorHost pid=9) 2026-02-23 10:00:00,000 WARNING zephyr.execution:377 Ignoring stale result from worker w for shard 9 (attempt 1, current 2)")),
            ("pull_task_failed", "pull_task failed (coordinator may be dead)", ("(_RayActorHost pid=9, ip=10.0.0.2) 2026-02-20 10:00:00,000 INFO zephyr.execution:571 [zephyr-x-workers-1] pull_task failed (coordinator may be dead): RpcError", "2026-02-20 10:00:00,000 INFO zephyr.execution [w-1] pull_task failed (coordinator may be dead): timeout")),
            ("heartbeat_failed", "] Heartbeat failed", ("(_RayActorHost pid=9, ip=10.0.0.2) 2026-02-20 10:00:00,000 WARNING zephyr.execution:612 [zephyr-x-workers-1] Heartbeat failed: RpcError", "2026-02-25 10:00:00,000 WARNING zephyr.execution [w-1] Heartbeat failed (2/5): Socket closed")),
            ("heartbeat_give_up", "consecutive heartbeat failures", ("2026-02-25 10:00:00,000 ERROR zephyr.execution [w-1] 5 consecutive heartbeat failures \u2014 coordinator unreachable, shutting down", "2026-02-25 10:00:00,000 ERROR zephyr.execution [w-1] 5 consecutive heartbeat failures \u2014 coordinator is unreachable, shutting down")),
            ("received_shutdown", "] Received SHUTDOWN", ("(_RayActorHost pid=9, ip=10.0.0.2) 2026-02-20 10:00:00,000 INFO zephyr.execution:521 [zephyr-x-workers-1] Received SHUTDOWN", "2026-02-20 10:00:00,000 INFO zephyr.execution [w-1] Received SHUTDOWN")),
            ("executing_shard", "] Executing task for ", ("(_RayActorHost pid=9, ip=10.0.0.2) 2026-02-20 10:00:00,000 INFO zephyr.execution:498 [zephyr-x-workers-1] Executing task for shard 17 (attempt 0)", "2026-04-01 10:00:00,000 INFO zephyr.execution [w-1] Executing task for stage stage0 shard 3 (attempt 1)")),
            ("jobs_marked_finished", "Node is dead, marking all jobs", ("[2026-11-28 11:03:42,900 I 1 1] (gcs_server) gcs_job_manager.cc:89: Node is dead, marking all jobs with drivers on this node as finished.", "(pid=gcs_server) [2026-11-28 11:03:42,900 I 1 1] (gcs_server) gcs_job_manager.cc:89: Node is dead, marking all jobs with drivers on this node as finished.")),
            ("gcs_stopping", "GCS server received SIGTERM", ("[2026-11-30 20:32:42,634 I 25971 25971] (gcs_server) gcs_server_main.cc:266: GCS server received SIGTERM, shutting down...", "[2026-11-30 20:29:08,883 I 21914 21914] (gcs_server) gcs_server_main.cc:266: GCS server received SIGTERM, shutting down...")),
            ("node_removed_graceful", "death reason = EXPECTED_TERMINATION", ("[2026-02-20 21:39:00,123 I 1 1] (gcs_server) gcs_node_manager.cc:316: , death reason = EXPECTED_TERMINATION, death message = received SIGTERM node_id=aa node_name=10.0.0.1", "(pid=gcs_server) [2026-02-20 21:39:00,123 I 1 1] (gcs_server) gcs_node_manager.cc:316: , death reason = EXPECTED_TERMINATION, death message = received SIGTERM")),
        )
    ),
)  # fmt: skip

TABLES = (
    "node_deaths", "heartbeat_failures", "registrations", "reregistrations", "actor_already_exists",
    "worker_status", "stage_progress", "pipeline_attempts", "actor_deaths", "oom_kills", "warnings",
)  # fmt: skip

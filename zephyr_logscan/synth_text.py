"""Ray and zephyr message text for ``logscan synth``, in the exact wordings real logs carry.

Each builder returns the physical lines of one record, without Ray's driver prefix (the story adds
prefixes, colour and dedup suffixes). Zephyr wordings come from ``zephyr_engine.logs``; Ray's are
here, verbatim from Ray 2.40-2.60 (see shared/reference/ray-log-formats.md).
"""

from __future__ import annotations

import random

from zephyr_engine import logs as zl

CYAN, YELLOW, GREEN, RESET = "\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[0m"
DEDUP_NOTE = (
    " (Ray deduplicates logs by default. Set RAY_DEDUP_LOGS=0 to disable log deduplication, or "
    "see https://docs.ray.io/en/master/ray-observability/user-guides/configure-logging.html"
    "#log-deduplication for more options.)"
)
NODE_DEAD_TAIL = (
    " has been marked dead because the detector has missed too many heartbeats from it. "
    "This can happen when a \t(1) raylet crashes unexpectedly (OOM, etc.) "
)
NODE_DEAD_TAIL_OLD = (
    " has been marked dead because the detector has missed too many heartbeats from it. "
    "This can happen when a \t(1) raylet crashes unexpectedly (OOM, preempted node, etc.) "
)
NODE_DEAD_SECOND = "\t(2) raylet has lagging heartbeats due to slow network or busy workload."
OOM_ADVICE = (
    "Refer to the documentation on how to address the out of memory issue: "
    "https://docs.ray.io/en/latest/ray-core/scheduling/ray-oom-prevention.html. Consider "
    "provisioning more memory on this node or reducing task parallelism by requesting more CPUs "
    "per task. To adjust the kill threshold, set the environment variable "
    "`RAY_memory_usage_threshold` when starting Ray. To disable worker killing, set the "
    "environment variable `RAY_memory_monitor_refresh_ms` to zero."
)


def hexid(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def py_line(ts: str, level: str, where: str, message: str) -> str:
    """The driver's own Python logging line (tab after the timestamp)."""
    return f"{ts}\t{level} {where} -- {message}"


def zephyr_line(ts: str, level: str, lineno: int, message: str) -> str:
    """A zephyr logging line as an actor prints it (``logging.basicConfig`` format)."""
    return f"{ts} {level} {zl.LOGGER_NAME}:{lineno} {message}"


def cpp_line(ts: str, level: str, pid: int, component: str | None, where: str, msg: str) -> str:
    """A Ray C++ log line: ``[ts L pid tid] (component) file.cc:N: message``."""
    comp = f"({component}) " if component else ""
    return f"[{ts} {level} {pid} {pid}] {comp}{where}: {msg}"


# --- node deaths ---------------------------------------------------------------------------------


def node_dead_banner(node_id: str, ip: str) -> list[str]:
    """Ray 2.40+ driver banner (after a ``(raylet)`` prefix); the second line has no prefix."""
    head = f"The node with node id: {node_id} and address: {ip} and node name: {ip}{NODE_DEAD_TAIL}"
    return [head, NODE_DEAD_SECOND]


def node_dead_banner_old(ts: str, node_id: str, ip: str) -> list[str]:
    """The pre-2.40 wording, logged by the driver's worker.py instead of ``(raylet)``."""
    head = py_line(
        ts,
        "WARNING",
        "worker.py:1866",
        f"The node with node id: {node_id} and ip: {ip}{NODE_DEAD_TAIL_OLD}",
    )
    return [head, NODE_DEAD_SECOND]


def gcs_health_dead(ts: str, node_id: str) -> str:
    return cpp_line(
        ts, "W", 411, "gcs_server", "gcs_health_check_manager.cc:147",
        f"Node is dead because the health check failed. node_id={node_id}",
    )  # fmt: skip


def gcs_death_reason(ts: str, node_id: str, ip: str, reason: str) -> str:
    message = {
        "UNEXPECTED_TERMINATION": "health check failed due to missing too many heartbeats",
        "AUTOSCALER_DRAIN_PREEMPTED": "preempted by the cloud provider",
        "EXPECTED_TERMINATION": "received SIGTERM",
    }[reason]
    return cpp_line(
        ts, "I", 411, "gcs_server", "gcs_node_manager.cc:316",
        f", death reason = {reason}, death message = {message} node_id={node_id} node_name={ip}",
    )  # fmt: skip


def health_check_failed(ts: str, node_id: str, ip: str, remaining: int) -> str:
    return cpp_line(
        ts, "W", 411, "gcs_server", "gcs_health_check_manager.cc:108",
        f"Health check failed for node {node_id}, remaining checks {remaining}, status 14, "
        f"response status 0, status message failed to connect to all addresses; last error: "
        f"UNKNOWN: ipv4:{ip}:44105: Failed to connect to remote host: Connection refused, "
        f"status details ",
    )  # fmt: skip


def raylet_marked_dead(ts: str) -> str:
    return cpp_line(
        ts, "C", 1187, "raylet", "node_manager.cc:1243",
        "[Timeout] Exiting because this node manager has mistakenly been marked as dead by the "
        "GCS: GCS failed to check the health of this node for 5 times. This is likely because "
        "the machine or raylet has become overloaded.",
    )  # fmt: skip


def raylet_terminated(ts: str, pid: int) -> list[str]:
    tail = [
        f"    [{ts} I {pid} {pid}] (raylet) node_manager.cc:2901: Disconnecting worker, "
        "graceful=false, disconnect_type=0",
        f"    [{ts} W {pid} {pid}] (raylet) worker_pool.cc:718: Worker process exited.",
    ]
    head = (
        "Raylet is terminated. Termination is unexpected. Possible reasons include: (1) SIGKILL "
        "by the user or system OOM killer, (2) Invalid memory access from Raylet causing SIGSEGV "
        "or SIGBUS, (3) Other termination signals. Last 20 lines of the Raylet logs:"
    )
    return [head, *tail]


# --- actor deaths --------------------------------------------------------------------------------


def worker_died(rng: random.Random, node_id: str, ip: str, pid: int, lease: bool) -> str:
    task = f"Lease ID: {hexid(rng, 64)}" if lease else f"RayTask ID: {'f' * 16}{hexid(rng, 32)}"
    return (
        "A worker died or was killed while executing a task by an unexpected system error. To "
        f"troubleshoot the problem, check the logs for the dead worker. {task} Worker ID: "
        f"{hexid(rng, 56)} Node ID: {node_id} Worker IP address: {ip} Worker port: "
        f"{rng.randint(10002, 10999)} Worker PID: {pid} Worker exit type: SYSTEM_ERROR Worker exit "
        "detail: Worker unexpectedly exits with a connection error code 2. End of file. There are "
        "some potential root causes. (1) The process is killed by SIGKILL by OOM killer due to "
        "high memory usage. (2) ray stop --force is called. (3) The worker is crashed "
        "unexpectedly due to SIGSEGV or other unexpected errors."
    )


def actor_died_block(actor_id: str, pid: int, name: str, ip: str, node_id: str | None) -> list[str]:
    """``ActorDiedError`` text: the exception line, tab-indented details and the cause line."""
    lines = [
        "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.",
        "\tclass_name: _RayActorHost",
        f"\tactor_id: {actor_id}",
        f"\tpid: {pid}",
        f"\tname: {name}",
        "\tnamespace: 8c4f3a2e-5d1b-4c7e-9a6f-2b3c4d5e6f70",
        f"\tip: {ip}",
    ]
    if node_id:
        lines += [
            f"The actor died because its node has died. Node Id: {node_id}",
            "\tthe actor's node was terminated unexpectedly: health check failed due to missing "
            "too many heartbeats",
        ]
    else:
        lines.append(
            "The actor is dead because its worker process has died. Worker exit type: "
            "SYSTEM_ERROR Worker exit detail: Worker unexpectedly exits with a connection error "
            "code 2. End of file. There are some potential root causes. (1) The process is "
            "killed by SIGKILL by OOM killer due to high memory usage."
        )
    return lines


def actor_unavailable(actor_id: str) -> str:
    return (
        f"ray.exceptions.ActorUnavailableError: The actor {actor_id} is unavailable: The actor is "
        "temporarily unavailable: IOError: The actor was restarted. The task may or may not have "
        "been executed on the actor."
    )


def gcs_actor_failed(ts: str, worker_id: str, node_id: str, actor_id: str, remaining: int) -> str:
    return cpp_line(
        ts, "I", 411, "gcs_server", "gcs_actor_manager.cc:1515",
        f"Actor is failed on worker {worker_id} at node {node_id}, need_reschedule = 1, death "
        f"context type = ActorDiedErrorContext, remaining_restarts = {remaining}, num_restarts = "
        f"0, num_restarts_due_to_node_preemption = 0, preempted = 0 job_id=01000000 "
        f"actor_id={actor_id}",
    )  # fmt: skip


# --- name collisions -----------------------------------------------------------------------------


def name_taken(name: str, exc: str = "ray.exceptions.ActorAlreadyExistsError") -> str:
    return (
        f"{exc}: The name {name} (namespace=None) is already taken. Please use a different name "
        f"or get the existing actor using ray.get_actor('{name}', namespace='None')"
    )


def gcs_name_exists(ts: str, name: str, actor_id: str) -> str:
    return cpp_line(
        ts, "W", 411, "gcs_server", "gcs_actor_manager.cc:688",
        f"Failed to register actor: AlreadyExists: Actor with name '{name}' already exists in the "
        f"namespace default job_id=01000000 actor_id={actor_id}",
    )  # fmt: skip


# --- OOM -----------------------------------------------------------------------------------------


def oom_summary(node_id: str, ip: str, killed: int) -> str:
    return (
        f"{killed} Workers (tasks / actors) killed due to memory pressure (OOM), 0 Workers "
        f"crashed due to other reasons at node (ID: {node_id}, IP: {ip}) over the last time "
        f"period. To see more information about the Workers killed on this node, use "
        f"`ray logs raylet.out -ip {ip}`"
    )


def oom_retry_notice(node_id: str, ip: str, used: float, limit: float) -> str:
    """About Ray 2.55: one line, ';'-separated."""
    return (
        "Task _proxy_call failed due to oom. There are infinite oom retries remaining, so the "
        "task will be retried. Error: 1 worker(s) were killed due to the node running low on "
        f"memory. Memory on the node (IP: {ip}, ID: {node_id}) was {used:.2f}GB / {limit:.2f}GB "
        f"({used / limit:.6f}), which exceeds the memory usage threshold of 0.950000; Ray killed 1 "
        "worker(s) based on the killing policy"
    )


def oom_error_block(
    rng: random.Random, node_id: str, ip: str, used: float, limit: float
) -> list[str]:
    """The 2.40-2.5x ``OutOfMemoryError`` text, continued over several lines."""
    return [
        "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.",
        f"Memory on the node (IP: {ip}, ID: {node_id}) where the task (task ID: "
        f"{hexid(rng, 48)}, name=_proxy_call, pid={rng.randint(2000, 60000)}, memory used=21.40GB) "
        f"was running was {used:.2f}GB / {limit:.2f}GB ({used / limit:.6f}), which exceeds the "
        "memory usage threshold of 0.95. Ray killed this worker (ID: "
        f"{hexid(rng, 56)}) because it was the most recently scheduled task.",
    ]


def oom_block_260(node_id: str, ip: str, used: float, limit: float) -> list[str]:
    """Ray 2.56+ wording: ``GB used / GB limit`` and the ``OOM kill reason`` line."""
    return [
        "ray.exceptions.OutOfMemoryError: 1 worker(s) were killed due to the node running low on memory. ",
        f"Memory on the node (IP: {ip}, ID: {node_id}) was {used:.2f}GB used / {limit:.2f}GB "
        f"limit ({used / limit:.6f})",
        "OOM kill reason: user cgroup memory upper bound was met or exceeded",
    ]


# --- warnings ------------------------------------------------------------------------------------


def object_store_args(worker0: str, actor_id: str) -> str:
    return (
        f"Actor {worker0} with class name: '_RayActorHost' and ID: '{actor_id}' has constructor "
        "arguments in the object store and max_restarts > 0. If the arguments in the object store "
        "go out of scope or are lost, the actor restart will fail. See "
        "https://github.com/ray-project/ray/issues/53727 for more details."
    )


def pending_request(resources: str) -> str:
    return (
        f"Warning: The following resource request cannot be scheduled right now: {resources}. "
        "This is likely due to all cluster resources being claimed by actors. Consider creating "
        "fewer actors or adding more nodes to this Ray cluster."
    )


def infeasible_request(resources: str) -> str:
    return (
        f"Error: No available node types can fulfill resource request {resources}. Add suitable "
        "node types to this cluster to resolve this issue."
    )


def vfio_busy(device: int) -> str:
    return (
        "jaxlib._jax.XlaRuntimeError: UNKNOWN: TPU initialization failed: "
        f"open(/dev/vfio/{device}): Device or resource busy: Device or resource busy; Couldn't "
        f"open iommu group /dev/vfio/{device}"
    )


def tpu_in_use(pid: int) -> str:
    return (
        f"RuntimeError: The TPU is already in use by process with pid {pid}. Not attempting to "
        "load libtpu.so in this process."
    )

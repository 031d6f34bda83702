"""The zephyr log message formats, in one place.

These are the upstream wordings (logger ``zephyr.execution``) that ``logscan`` reads. The engine
logs with them, and ``logscan synth`` writes them, so the parser, the engine and the generator are
tested against the same text. Older upstream wordings are kept beside the current ones because
real logs mix versions.
"""

LOGGER_NAME = "zephyr.execution"

# Coordinator status line, every upstream wording: no alive/dead split (before the fix), the
# alive/dead split, and the execution-id-first form with an optional throughput suffix.
STATUS_OLD = "[%s] %d/%d complete, %d in-flight, %d queued, %d workers"
STATUS = "[%s] %d/%d complete, %d in-flight, %d queued, %d/%d workers alive, %d dead"
STATUS_WITH_EXECUTION = (
    "[%s] [%s] %d/%d complete, %d in-flight, %d queued, %d/%d workers alive, %d dead"
)
STATUS_THROUGHPUT = "; items=%s (%s/s), bytes_processed=%s (%s/s)"

# Worker membership.
REGISTERED = "Worker %s registered, total: %d"
REREGISTERING = "Worker %s re-registering (likely reconstructed), updating handle"
REREGISTERING_SHORT = "Worker %s re-registering (likely reconstructed)"
HEARTBEAT_TIMEOUT = "Zephyr worker %s failed to heartbeat within timeout (%.1fs)"

# Stage progress.
TASKS_COMPLETED = "[%s] %d/%d tasks completed"
STARTING_STAGE = "Starting stage %s with %d tasks"
STARTING_STAGE_WITH_EXECUTION = "[%s] Starting stage %s with %d tasks"

# Driver-side attempts.
PIPELINE_START_OLD = "Starting zephyr pipeline: %s"
PIPELINE_START = "Starting zephyr pipeline: %s (attempt %d)"
PIPELINE_START_WITH_ID = "Starting zephyr pipeline: %s (pipeline %d, attempt %d)"
PIPELINE_RETRY = "Pipeline attempt %d/%d failed, retrying with fresh coordinator: %s"
PIPELINE_RETRY_LEFT = "Pipeline attempt %d failed (%d retries left), retrying: %s"
PIPELINE_RETRY_BACKOFF = "Pipeline attempt %d failed (%d retries left), retrying in %.1fs: %s"

# Coordinator lifecycle (events only).
COORDINATOR_INITIALIZED = "Coordinator initialized"
ALL_WORKERS_DEAD = "All workers are dead/failed. Waiting for workers to recover..."
NO_WORKERS_YET = "No workers available yet after %.1fs, waiting for discovery..."
NO_ALIVE_WORKERS = (
    "No alive workers for %.1fs (total elapsed %.1fs). All %d registered workers are "
    "dead/failed. Check cluster resources and worker group configuration."
)
COORDINATOR_ABORTED = "Coordinator aborted: %s"
LOOP_CRASHED = "Coordinator loop crashed, aborting pipeline"
REQUEUE_REMOVED = "Removed task %s from worker %s, re-queueing"
REQUEUE_IN_FLIGHT = "Worker %s had an in-flight task, re-queuing"
SHARD_TASK_BUDGET = (
    "Shard %d has failed %d times (max %d), last failure on worker %s, aborting pipeline."
)
SHARD_INFRA_BUDGET = (
    "Shard %d has been in flight during %d infra failures (max %d); treating as a deterministic "
    "crasher (likely native SIGSEGV / OOM in shard code) and aborting pipeline. Last failure on "
    "worker %s."
)
STALE_RESULT = "Ignoring stale result from worker %s for shard %d (attempt %d, current %d)"

# Worker lifecycle (events only).
PULL_TASK_FAILED = "[%s] pull_task failed (coordinator may be dead): %s"
HEARTBEAT_FAILED = "[%s] Heartbeat failed: %s"
HEARTBEAT_FAILED_COUNTED = "[%s] Heartbeat failed (%d/%d): %s"
HEARTBEAT_GIVE_UP = (
    "[%s] %d consecutive heartbeat failures \u2014 coordinator unreachable, shutting down"
)
RECEIVED_SHUTDOWN = "[%s] Received SHUTDOWN"
EXECUTING_SHARD = "[%s] Executing task for shard %d (attempt %d)"


def coordinator_name(context: str, pipeline: int | None = None, attempt: int | None = None) -> str:
    """Actor name of a pipeline's coordinator.

    >>> coordinator_name("tokenize-b160eb54", 0, 1)
    'zephyr-tokenize-b160eb54-p0-a1-coord-0'
    """
    return f"zephyr-{_generation(context, pipeline, attempt)}-coord-0"


def worker_name(
    context: str, index: int, pipeline: int | None = None, attempt: int | None = None
) -> str:
    """Actor name (and worker id) of a pipeline's worker.

    >>> worker_name("tokenize-b160eb54", 17)
    'zephyr-tokenize-b160eb54-workers-17'
    """
    return f"zephyr-{_generation(context, pipeline, attempt)}-workers-{index}"


def _generation(context: str, pipeline: int | None, attempt: int | None) -> str:
    parts = [context]
    if pipeline is not None:
        parts.append(f"p{pipeline}")
    if attempt is not None:
        parts.append(f"a{attempt}")
    return "-".join(parts)

"""Ray's JSON log encoding, captured for real: a driver with `ray.LoggingConfig(encoding="JSON")`
logs a pipeline start, a task logs an exception, an actor named like a zephyr coordinator logs a
heartbeat failure and a status line, the driver logs a failed attempt. Ray forwards the task's
and the actor's records to the driver's stderr as JSON lines, without the `(pid=...)` prefix.

    .venv/bin/python tests/data/ray/json-logging/capture.py 2> tests/data/ray/json-logging/driver.log
"""

import logging
import tempfile
import time

import ray

ray.init(address="local", num_cpus=2, include_dashboard=False,
         _temp_dir=tempfile.mkdtemp(prefix="ray-json-"),
         logging_config=ray.LoggingConfig(encoding="JSON", log_level="INFO"))  # fmt: skip
log = logging.getLogger("zephyr.execution")
log.info("Starting zephyr pipeline: demo-1a2b3c4d (pipeline 0, attempt 0)")


@ray.remote
def failing():
    try:
        {}["shard"]
    except KeyError:
        logging.getLogger("zephyr.execution").exception("Task for shard 3 failed")
    return 1


@ray.remote
class Coordinator:
    def status(self):
        lg = logging.getLogger("zephyr.execution")
        lg.warning("Zephyr worker zephyr-demo-1a2b3c4d-p0-a0-workers-1 failed to heartbeat "
                   "within timeout (30.4s)")  # fmt: skip
        lg.info("[20261130-203525-ab12] [stage0-Map → Write] 3/8 complete, 1 in-flight, "
                "4 queued, 0/2 workers alive, 2 dead")  # fmt: skip
        return 1


ray.get(failing.remote())
coordinator = Coordinator.options(name="zephyr-demo-1a2b3c4d-p0-a0-coord-0").remote()
ray.get(coordinator.status.remote())
time.sleep(2)  # (the actor's lines reach the driver)
log.error("Pipeline attempt 1/3 failed, retrying with fresh coordinator: "
          "NoAliveWorkersError: no alive workers")  # fmt: skip
ray.shutdown()

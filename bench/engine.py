"""Engine benchmark on the local backend (figures for the issue note, not a test):

1. Registration storm: 1,024 workers register at once with a 30 s heartbeat timeout; time until
   all are registered and the number of false heartbeat failures (target: 0, under 5 s).
2. Dispatch throughput: 20,000 tiny shards over 64 and 256 workers, shards/s, and the ratio
   against a plain ThreadPoolExecutor running the same function (the floor).
3. Coordinator RPC latency (p50/p99 of pull_task and heartbeat) while 1,024 workers poll.
4. The Ray backend, on a private local cluster: shards/s for tiny shards with 8 and 32 workers,
   against Ray's own ``ray.get([f.remote(x) for x in ...])`` on the same work (the floor), and the
   time from the last worker's death to ``NoAliveWorkersError``.

    python bench/engine.py          # all
    python bench/engine.py ray      # the Ray part only
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zephyr_engine import Dataset, ZephyrContext  # noqa: E402
from zephyr_engine import logs as zl  # noqa: E402


def tiny(x):
    return x + 1


def registration_storm(n: int = 1024) -> None:
    ctx = ZephyrContext(max_workers=n, heartbeat_timeout=30.0, heartbeat_interval=1.0)
    registered_at = {}

    def watch(c, pipeline, attempt):
        coord = c.backend.get_actor(zl.coordinator_name(c.name, pipeline, attempt))
        started = time.monotonic()
        while time.monotonic() - started < 60:
            if coord.call("worker_count").result(10) >= n:
                registered_at["s"] = time.monotonic() - started
                return
            time.sleep(0.05)

    ctx.hooks["on_attempt"] = watch
    result = ctx.execute(Dataset.from_list(range(n * 2), num_shards=n * 2).map(tiny))
    ctx.shutdown()
    print(f"registration storm: {n} workers registered in {registered_at.get('s', float('nan')):.2f}s; "
          f"false heartbeat failures: {result.counters.get('heartbeat_failures', 0)}")  # fmt: skip


def dispatch(shards: int, workers: int) -> float:
    with ZephyrContext(max_workers=workers, heartbeat_interval=1.0) as ctx:
        started = time.monotonic()
        rows = ctx.execute(Dataset.from_list(range(shards), num_shards=shards).map(tiny)).results
        took = time.monotonic() - started
    assert rows == [tiny(x) for x in range(shards)]
    return took


def floor(shards: int, workers: int) -> float:
    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(tiny, range(shards)))
    return time.monotonic() - started


def rpc_latency(n: int = 1024, samples: int = 2000) -> None:
    ctx = ZephyrContext(max_workers=n, heartbeat_interval=1.0)
    lat = {"pull_task": [], "heartbeat": []}

    def probe(c, pipeline, attempt):
        coord = c.backend.get_actor(zl.coordinator_name(c.name, pipeline, attempt))
        wid = zl.worker_name(c.name, 0, pipeline, attempt)
        time.sleep(1.0)  # let the pool register and settle into polling
        for i in range(samples):
            method = "heartbeat" if i % 2 else "pull_task"
            t = time.perf_counter()
            coord.call(method, wid, -1).result(10)  # a stale incarnation: measured, not served
            lat[method].append(time.perf_counter() - t)

    ctx.hooks["on_attempt"] = probe
    ctx.execute(Dataset.from_list(range(n), num_shards=n).map(tiny))
    ctx.shutdown()
    for method, xs in lat.items():
        xs.sort()
        print(f"coordinator {method} latency with {n} polling workers: p50 {statistics.median(xs) * 1e3:.2f} ms, "
              f"p99 {xs[int(len(xs) * 0.99)] * 1e3:.2f} ms")  # fmt: skip


def ray_dispatch(backend, shards: int, workers: int) -> float:
    """Seconds for ``shards`` tiny shards once every worker has registered (actor start-up is
    Ray's cost, not dispatch)."""
    ready = {}

    def wait_registered(c, pipeline, attempt):
        coord = c.backend.get_actor(zl.coordinator_name(c.name, pipeline, attempt))
        while coord.call("worker_count").result(30) < workers:
            time.sleep(0.05)
        ready["t"] = time.monotonic()

    with ZephyrContext(backend=backend, max_workers=workers, heartbeat_interval=1.0,
                       registration_timeout=300) as ctx:  # fmt: skip
        ctx.hooks["on_attempt"] = wait_registered
        rows = ctx.execute(Dataset.from_list(range(shards), num_shards=shards).map(tiny)).results
        took = time.monotonic() - ready["t"]
    assert rows == [tiny(x) for x in range(shards)]
    return took


def ray_floor(shards: int) -> float:
    import ray

    remote_tiny = ray.remote(num_cpus=0.05)(tiny)
    ray.get([remote_tiny.remote(x) for x in range(100)])  # warm the worker pool
    started = time.monotonic()
    assert ray.get([remote_tiny.remote(x) for x in range(shards)]) == [
        tiny(x) for x in range(shards)
    ]
    return time.monotonic() - started


def ray_death_to_error(backend, workers: int = 4) -> None:
    from zephyr_engine import NoAliveWorkersError

    timeouts = {"heartbeat_timeout": 2.0, "no_workers_timeout": 2.0}
    died = {}

    def kill_all(c, pipeline, attempt):
        coord = c.backend.get_actor(zl.coordinator_name(c.name, pipeline, attempt))
        while coord.call("worker_count").result(30) < workers:
            time.sleep(0.05)
        for i in range(workers):
            c.backend.kill_actor(zl.worker_name(c.name, i, pipeline, attempt), restart=False)
        died["t"] = time.monotonic()

    with ZephyrContext(backend=backend, max_workers=workers, heartbeat_interval=0.25,
                       registration_timeout=300, **timeouts) as ctx:  # fmt: skip
        ctx.hooks["on_attempt"] = kill_all
        try:
            ctx.execute(Dataset.from_list(range(64), num_shards=64).map(lambda x: time.sleep(5)))
            print("ray: the pipeline completed although every worker was killed (wrong)")
        except NoAliveWorkersError:
            took = time.monotonic() - died["t"]
            print(f"ray: NoAliveWorkersError {took:.2f}s after the last of {workers} workers was killed "
                  f"(heartbeat_timeout {timeouts['heartbeat_timeout']:.0f}s + no_workers_timeout "
                  f"{timeouts['no_workers_timeout']:.0f}s = {sum(timeouts.values()):.0f}s)")  # fmt: skip


def ray_part(shards: int = 2000) -> None:
    import ray

    from zephyr_engine.backends.ray import RayBackend
    from zephyr_engine.backends.ray_cluster import LocalRayCluster

    with LocalRayCluster(num_cpus=8) as cluster:
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        backend = RayBackend(worker_cpus=0.05)
        try:
            for workers in (8, 32):
                runs = [ray_dispatch(backend, shards, workers) for _ in range(3)]
                base = [ray_floor(shards) for _ in range(3)]
                took, ref = statistics.median(runs), statistics.median(base)
                print(f"ray dispatch: {shards:,} shards over {workers} workers in {took:.2f}s = "
                      f"{shards / took:,.0f} shards/s; ray.get([f.remote(x) ...]) floor {ref:.2f}s = "
                      f"{shards / ref:,.0f} tasks/s ({took / ref:.1f}x the floor)")  # fmt: skip
            ray_death_to_error(backend)
        finally:
            backend.shutdown()
            ray.shutdown()


def main():
    if sys.argv[1:] == ["ray"]:
        ray_part()
        return
    registration_storm()
    for workers in (64, 256):
        runs = [dispatch(20_000, workers) for _ in range(3)]
        base = [floor(20_000, workers) for _ in range(3)]
        took, ref = statistics.median(runs), statistics.median(base)
        print(f"dispatch: 20,000 shards over {workers} workers in {took:.2f}s = {20_000 / took:,.0f} shards/s; "
              f"ThreadPoolExecutor floor {ref:.3f}s ({took / ref:.0f}x the floor)")  # fmt: skip
    rpc_latency()
    ray_part()


if __name__ == "__main__":
    main()

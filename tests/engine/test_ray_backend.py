"""The Ray backend on the session's private cluster: pipelines, shared values and chunks across
processes, actor names and options, and no actor left behind however ``execute`` ends."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.ray_support import alive_actors, driver_env, within
from zephyr_engine import (
    ActorAlreadyExistsError,
    Dataset,
    ShardFailedError,
    ZephyrContext,
    get_shared,
)
from zephyr_engine.backends.ray import NAMESPACE, RayBackend
from zephyr_engine.backends.ray_cluster import LocalRayCluster
from zephyr_engine.chunks import ChunkStore

pytestmark = pytest.mark.ray
FAST = {"heartbeat_interval": 0.25, "heartbeat_timeout": 5.0, "registration_timeout": 60.0}


@pytest.fixture(scope="module")
def connected(ray_cluster):
    """This process as a driver of the session's cluster, for this module only."""
    import ray

    ray.init(address=ray_cluster.address, namespace=NAMESPACE, logging_level="WARNING",
             log_to_driver=False)  # fmt: skip
    try:
        yield ray_cluster
    finally:
        ray.shutdown()


@pytest.fixture
def backend(connected):
    b = RayBackend(address=connected.address, worker_cpus=0.05)
    yield b
    b.shutdown()


def word_counts() -> Dataset:
    words = ["ray", "zephyr", "shard", "ray", "worker", "ray", "zephyr"] * 5
    return (
        Dataset.from_list(words, num_shards=5)
        .map(lambda w: (w, get_shared("weights")[w]))
        .group_by(lambda kv: kv[0], lambda key, kvs: (key, sum(v for _, v in kvs)))
    )


def test_pipeline_with_shared_values_matches_the_local_backend(backend):
    weights = {"ray": 1, "zephyr": 10, "shard": 100, "worker": 1000}

    def run(ctx):
        ctx.put("weights", weights)  # read by workers in other processes from chunk storage
        return sorted(ctx.execute(word_counts()).results)

    with ZephyrContext(max_workers=3) as local:
        want = run(local)
    with ZephyrContext(backend=backend, max_workers=3, name="shared", **FAST) as ctx:
        got = within(120, run, ctx)
        workers = [n for n, _, _ in backend.created if "-workers-" in n]
    assert got == want == [("ray", 15), ("shard", 500), ("worker", 5000), ("zephyr", 100)]
    assert workers == [f"zephyr-shared-p0-a0-workers-{i}" for i in range(3)]
    assert alive_actors("zephyr-shared-") == []


def test_actors_live_in_one_namespace_with_inline_constructor_arguments(backend):
    import ray

    names = ("zephyr-opts-p0-a0-coord-0", "zephyr-opts-p0-a0-workers-0")
    found: list = []
    elsewhere: list = []  # names another namespace resolves while the actors live

    def look(*_):
        found.extend(ray.get_actor(n, namespace=NAMESPACE) for n in names)
        for n in names:
            try:
                ray.get_actor(n, namespace="default")
                elsewhere.append(n)
            except ValueError:
                pass

    with ZephyrContext(backend=backend, max_workers=2, name="opts", **FAST) as ctx:
        ctx.hooks["on_attempt"] = look
        within(120, ctx.execute, Dataset.from_list(range(4), num_shards=2).map(lambda x: x))
    # (Checked while the actors live: a killed actor's name can resolve for a moment after.)
    assert len(found) == 2 and elsewhere == []
    for name, args, kwargs in backend.created:
        if "-workers-" in name:  # the coordinator by name, a small config: inline, never a ref
            assert isinstance(args[0], str) and args[0].endswith("-coord-0")
            assert len(repr((args, kwargs))) < 2000


def test_a_name_two_creators_race_for_is_the_engines_retried_collision(backend):
    """Two drivers starting one pipeline name together both pass Ray's client-side name check;
    the GCS then refuses one in its own wording (``already exists in the namespace``). That is
    the collision ``execute`` retries under the next attempt's names, not a raw Ray error that
    ends the run."""
    for i in range(3):
        name = f"zephyr-race-p0-a{i}-coord-0"
        barrier, outcomes = threading.Barrier(2), []

        def create(name=name, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:  # a harmless engine class: its constructor only keeps a path
                backend.create_actor(ChunkStore, name, args=("/nonexistent",))
                outcomes.append("created")
            except Exception as e:
                outcomes.append(e)

        threads = [threading.Thread(target=create, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        refused = [o for o in outcomes if o != "created"]
        assert outcomes.count("created") == 1 and len(refused) == 1, outcomes
        assert isinstance(refused[0], ActorAlreadyExistsError), repr(refused[0])


def test_a_call_whose_actor_ray_killed_for_memory_is_a_dead_actor():
    """Ray's memory monitor killing an actor's process fails the call with OutOfMemoryError,
    which derives from RayError alone (as do WorkerCrashedError and NodeDiedError): a coordinator
    killed so escaped ``execute`` raw, not retried (a real capture: ``OutOfMemoryError('2
    worker(s) were killed due to the node running low on memory ...')`` out of ``execute``). It
    is the engine's ActorDiedError, which ``execute`` turns into CoordinatorLostError and retries."""
    import ray

    from zephyr_engine.backends.ray import _translate
    from zephyr_engine.errors import ActorDiedError

    message = (
        "Task was killed due to the node running low on memory.\nMemory on the node (IP: "
        "192.0.2.2, ID: " + "a" * 56 + ") where the lease (actor ID: " + "b" * 32 + ", name="
        "_RayActorHost.__init__, pid=123, memory used=0.03GB) was running was 18.6GB / 23.4GB "
        "(0.79), which exceeds the memory usage threshold of 0.02."
    )
    for error in (
        ray.exceptions.OutOfMemoryError(message),
        ray.exceptions.WorkerCrashedError(),
        ray.exceptions.NodeDiedError("node 1 died"),
    ):
        translated = _translate(error)
        assert isinstance(translated, ActorDiedError), repr(error)
        assert str(error) in str(translated)


def test_no_actor_left_behind_when_execute_raises(backend):
    def poison(x):
        raise ValueError("poison")

    with ZephyrContext(backend=backend, max_workers=2, name="raises", **FAST) as ctx:
        with pytest.raises(ShardFailedError):
            within(120, ctx.execute, Dataset.from_list(range(4), num_shards=2).map(poison))
        assert alive_actors("zephyr-raises-") == []  # released at once, not at shutdown


def test_a_never_restarted_actor_runs_on_its_drivers_node(connected, backend):
    """Ray places an actor that requests no CPU (the coordinator) on a random node, and a lost
    node stays a candidate until the GCS declares it dead: a retried attempt's coordinator
    could follow its predecessor onto the lost node. With a second node in the cluster, every
    coordinator must still land on the driver's node (left to Ray, 8 in a row: 1 in 256)."""
    import ray

    extra = LocalRayCluster(address=connected.address, temp_dir=connected.temp_dir)
    names = [f"zephyr-placed-p0-a{i}-coord-0" for i in range(8)]
    try:
        node = extra.add_node(num_cpus=2, name="second")
        second = extra.wait_for_node(node)
        for name in names:  # an engine-free host: the placement is the backend's alone
            backend.create_actor(dict, name, max_restarts=0)
        placed = within(120, lambda: [backend.node_of(name) for name in names])
        here = ray.get_runtime_context().get_node_id()
        assert second != here and placed == [here] * len(names), placed
    finally:
        for name in names:
            backend.kill(name)
        for node in extra.nodes:  # a node loss: quick, where a drained stop takes 30 s
            extra.kill_node(node)
        extra.stop()


DRIVER = """
import sys, time
from zephyr_engine import Dataset, ZephyrContext
def slow(x):
    time.sleep(60)
    return x
ctx = ZephyrContext(backend="ray", address=sys.argv[1], max_workers=2, name="interrupted",
                    heartbeat_interval=0.25, registration_timeout=60)
ctx.hooks["on_attempt"] = lambda c, p, a: print("started", flush=True)
try:
    ctx.execute(Dataset.from_list(range(4), num_shards=2).map(slow))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.stdin.readline()  # alive until the test has looked: a driver's exit would end its actors
ctx.shutdown()
"""


def test_no_actor_left_behind_when_execute_is_interrupted(connected):
    env = driver_env()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, connected.address], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while len(alive_actors("zephyr-interrupted-")) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(alive_actors("zephyr-interrupted-")) == 3  # coordinator and two workers
        proc.send_signal(signal.SIGINT)  # Ctrl-C in the driver, mid-run
        assert within(60, proc.stdout.readline).strip() == "interrupted"
        deadline = time.monotonic() + 30
        while alive_actors("zephyr-interrupted-") and time.monotonic() < deadline:
            time.sleep(0.2)
        left = alive_actors("zephyr-interrupted-")  # the driver still runs
        proc.communicate("\n", timeout=60)
    finally:
        proc.kill()
    assert left == []


LOCAL_INSTANCE = """
import ray
from zephyr_engine import Dataset, ZephyrContext
with ZephyrContext(backend="ray", max_workers=2, heartbeat_interval=0.25) as ctx:
    print(ctx.execute(Dataset.from_list(range(10), num_shards=2).map(lambda x: x * 2).count()).results)
    print(ray.get_runtime_context().gcs_address)
print(ray.is_initialized())
"""


def test_ray_backend_starts_a_private_instance_when_none_is_named(connected, tmp_path):
    env = driver_env()
    out = subprocess.run([sys.executable, "-c", LOCAL_INSTANCE], env=env, capture_output=True,
                         text=True, timeout=180, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    count, address, still_up = out.stdout.strip().splitlines()[-3:]
    assert count == "[10]"
    assert not address.endswith(f":{connected.port}")  # not the running cluster: its own
    assert still_up == "False"  # the instance it started is stopped with the context

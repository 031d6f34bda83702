"""The local backend keeps Ray's semantics the engine relies on."""

from __future__ import annotations

import time

import pytest

from zephyr_engine.backends.base import current_actor
from zephyr_engine.backends.local import LocalBackend
from zephyr_engine.errors import ActorAlreadyExistsError, ActorDiedError, RpcError


class Counter:
    inits = 0

    def __init__(self, start: int):
        Counter.inits += 1
        self.value = start
        self.incarnation = current_actor().incarnation

    def add(self, n: int) -> int:
        self.value += n
        return self.value

    def who(self) -> int:
        return self.incarnation

    def slow(self) -> None:
        time.sleep(2)


def test_live_or_restarting_name_is_taken_and_dead_name_is_free():
    b = LocalBackend(restart_delay=0.5)
    b.create_actor(Counter, "c", args=(0,), max_restarts=-1)
    with pytest.raises(ActorAlreadyExistsError):
        b.create_actor(Counter, "c", args=(0,))
    b.kill_actor("c", restart=True)
    assert b.state("c") == "restarting"
    with pytest.raises(ActorAlreadyExistsError):
        b.create_actor(Counter, "c", args=(0,))
    b.kill("c")
    b.create_actor(Counter, "c", args=(0,))


def test_restart_reruns_only_init_and_the_handle_reaches_the_new_incarnation():
    b = LocalBackend(restart_delay=0.01)
    h = b.create_actor(Counter, "c", args=(5,), max_restarts=1)
    assert h.call("add", 1).result(2) == 6
    b.kill_actor("c", restart=True)
    time.sleep(0.1)
    assert (
        h.call("who").result(2) == 2 and h.call("add", 0).result(2) == 5
    )  # state from __init__ again
    b.kill_actor("c", restart=True)  # max_restarts=1 is used up
    assert b.state("c") == "dead"


def test_in_flight_call_fails_when_the_actor_dies():
    b = LocalBackend()
    h = b.create_actor(Counter, "c", args=(0,), max_concurrency=2)
    fut = h.call("slow")
    time.sleep(0.05)
    b.kill("c")
    with pytest.raises(ActorDiedError):
        fut.result(1)


def test_rpc_faults_and_infeasible_resources():
    b = LocalBackend()
    h = b.create_actor(Counter, "c", args=(0,))
    b.fail_rpcs("c", 0.2)
    with pytest.raises(RpcError):
        h.call("add", 1).result(1)
    time.sleep(0.25)
    assert h.call("add", 1).result(1) == 1
    pending = b.create_actor(Counter, "tpu", args=(0,), resources={"TPU": 1})
    assert not pending.call("add", 1).done()

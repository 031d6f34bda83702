"""Clean stops: SIGINT and SIGTERM become one exception in the main thread, raised once.

Python turns only SIGINT into an exception, and a second Ctrl-C would interrupt the cleanup of
the first. Inside ``stop_on_signals`` both signals raise ``Interrupted`` the first time; later
signals are ignored, so the cleanup always finishes. Inside ``uninterrupted`` (moving the output
into place, removing the temporary folder) a signal is held back and raised when the section
ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # noqa: N818 (not an error: a request to stop)
    """A stop signal arrived; the shell convention for the exit code is 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class _State:
    def __init__(self):
        self.depth = 0  # nesting of `uninterrupted` sections
        self.held: int | None = None  # a signal that arrived inside one
        self.fired = False  # Interrupted was raised: further signals are ignored

    def handle(self, signum, frame):
        if self.fired:
            return
        if self.depth:
            self.held = signum
            return
        self.fired = True
        raise Interrupted(signum)


_state: _State | None = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` (once) while the block runs (main thread only;
    elsewhere the block runs unchanged). Nested use keeps the outer handling."""
    global _state
    if _state is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _State()
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, state.handle)
    _state = state
    try:
        yield
    finally:
        _state = None
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold stop signals back until the block ends (then raise, unless it failed anyway)."""
    state = _state
    if state is None:
        yield
        return
    state.depth += 1
    try:
        yield
    except BaseException:
        state.depth -= 1
        raise
    state.depth -= 1
    if state.depth == 0 and state.held is not None and not state.fired:
        signum, state.held = state.held, None
        state.fired = True
        raise Interrupted(signum)

"""Ctrl-C that never loses work.

The first SIGINT asks the run to stop after the work in hand (the batch being
generated, the chunk of judge requests in flight), which is then saved; the second
stops at once. Either way the run resumes where it stopped. The command-line entry
points install the handler; library callers keep Python's default behaviour.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class StopRequested(KeyboardInterrupt):
    """Raised at a safe point after the first Ctrl-C."""


class _Stop:
    def __init__(self) -> None:
        self.requested = False
        self.finished = False  # a command's work ran under the handler and is over

    def check(self) -> None:
        """Call at safe points: raises `StopRequested` once Ctrl-C was pressed."""
        if self.requested:
            raise StopRequested()

    def _handle(self, signum, frame) -> None:  # noqa: ANN001 - signal handler signature
        if self.requested:
            raise KeyboardInterrupt()
        self.requested = True
        print(
            "\nmix_eval: stopping after the work in hand is saved (press Ctrl-C again to stop at once; "
            "either way, rerun the same command to resume)",
            file=sys.stderr,
            flush=True,
        )


STOP = _Stop()


def until_stopped(items: Iterable[T]) -> Iterator[T]:
    """Yield items until Ctrl-C asks the run to stop (API clients pull requests lazily,
    so requests in flight finish and no new one is sent)."""
    for item in items:
        if STOP.requested:
            return
        yield item


@contextmanager
def graceful_interrupts() -> Iterator[None]:
    """Install the two-stage Ctrl-C handler for the duration of a command."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, STOP._handle)
    STOP.requested = False
    STOP.finished = False
    try:
        yield
    finally:
        STOP.finished = True
        signal.signal(signal.SIGINT, previous)

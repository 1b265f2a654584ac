"""Time and memory bounds for work on untrusted input: an alarm and an address-space cap."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def bounded(seconds: float, memory: int, out_of_time: type[BaseException]) -> Iterator[None]:
    """Raise ``out_of_time`` in the block after ``seconds``, and cap its memory growth.

    The alarm interrupts work that checks no clock of its own (a library's inner loop);
    off the main thread, or without SIGALRM, only the caller's own checks apply. The
    memory cap makes a bomb (an inflating stream, a huge string) raise ``MemoryError``
    instead of taking the machine's memory.

    An exception raised by a signal handler can land in a weakref callback or ``__del__``,
    where Python swallows it (and prints "Exception ignored"): so the alarm re-arms itself
    until the exception gets through, and a swallowed one is not printed.
    """
    armed = [True]

    def alarm(_signum: int, _frame: object) -> None:
        if armed[0]:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            raise out_of_time

    def unraisable(info: sys.UnraisableHookArgs) -> None:
        if not isinstance(info.exc_value, out_of_time):
            hook(info)

    on_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    timed = on_main and seconds > 0
    previous: object = None
    hook = sys.unraisablehook
    if timed:
        sys.unraisablehook = unraisable
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    old_memory = limit_memory(memory)
    try:
        yield
    finally:
        armed[0] = False
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)  # type: ignore[arg-type]
            sys.unraisablehook = hook
        if old_memory is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, old_memory)


def limit_memory(extra: int) -> tuple[int, int] | None:
    """Cap the address space at its current size plus ``extra``; return the old limits."""
    try:
        import resource

        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[0])
        wanted = pages * resource.getpagesize() + extra
        old = resource.getrlimit(resource.RLIMIT_AS)
        if old[0] != resource.RLIM_INFINITY and old[0] <= wanted:
            return None
        if old[1] != resource.RLIM_INFINITY and old[1] < wanted:
            return None
        resource.setrlimit(resource.RLIMIT_AS, (wanted, old[1]))
    except (ImportError, OSError, ValueError):
        return None
    return old

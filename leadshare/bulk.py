"""Helpers for work over a whole file of leads at once."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import Any, Callable, Iterator


def can_fork() -> bool:
    """Whether work may go to a forked child process running beside this one.

    fork() is what makes the child cheap (it inherits what was already read); Linux only, since
    macOS frameworks are not fork-safe. With one CPU the two would only take turns."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk step.

    A million rows make millions of small acyclic objects; the collector would walk them again
    and again for nothing (a third of the time of a large import). Reference counting still frees
    everything as usual.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def beside(work: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Start work(*args) in a forked child process and go on; calling the result waits for its
    return value, or raises what it raised. Where there is no child (see can_fork), the work is
    done at once, here. The child must not use the parent's open database connections."""
    if not can_fork():
        value = work(*args)
        return lambda: value
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_run_child, args=(work, args, receiver, sender), daemon=True,
                            name=f"leadshare: {getattr(work, '__name__', 'work')}")
    try:
        child.start()
    except OSError:  # no process to spare (a limit on processes): do it here
        receiver.close()
        sender.close()
        value = work(*args)
        return lambda: value
    sender.close()

    def result() -> Any:
        try:
            kind, value = receiver.recv()
        except EOFError:
            kind, value = "error", RuntimeError("the child process ended without an answer")
        finally:
            receiver.close()
            child.join()
        if kind == "error":
            raise value
        return value

    return result


def _run_child(work: Callable[..., Any], args: tuple, receiver, sender) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent decides
    receiver.close()  # so that the parent's end is the only reader
    try:
        answer = ("value", work(*args))
    except BaseException as exc:  # handed to the parent, which raises it
        answer = ("error", portable(exc))
    with contextlib.suppress(BrokenPipeError):
        sender.send(answer)


def portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling (to cross to the parent), else one that
    says what it was."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")

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


def fork(target: Callable[..., None], *args: Any, name: str) -> tuple[Any, Any]:
    """Start target(sender, *args) in a forked child process and return (the process, the
    reading end of its pipe). Ctrl-C reaches the whole process group, so the child ignores it:
    the parent decides, and ends the child. Raises OSError when no process can be started."""
    import multiprocessing
    import signal

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(target, args, receiver, sender), daemon=True,
                            name=f"leadshare: {name}")
    # Ctrl-C is held back while forking, so the child is born with it held back too: one landing
    # before the child ignores it would print the child's traceback beside the parent's message.
    # The parent gets it as soon as the child is started.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        child.start()
    except OSError:
        receiver.close()
        sender.close()
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    sender.close()
    return child, receiver


def _child_main(target: Callable[..., None], args: tuple, receiver, sender) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    receiver.close()  # so that the parent's end is the only reader: when it goes, sending fails
    target(sender, *args)


def beside(work: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Start work(*args) in a forked child process and go on; calling the result waits for its
    return value, or raises what it raised. Where there is no child (see can_fork, or no process
    to spare), the work is done at once, here. The child must not use the parent's open database
    connections."""
    try:
        if not can_fork():
            raise OSError("no fork here")
        child, receiver = fork(_answer, work, args, name=getattr(work, "__name__", "work"))
    except OSError:
        value = work(*args)
        return lambda: value

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


def _answer(sender, work: Callable[..., Any], args: tuple) -> None:
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

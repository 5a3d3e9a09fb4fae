"""The entry point of `leadshare` and `python -m leadshare`.

Ctrl-C while Python is still loading the modules is held back until they are loaded (a
KeyboardInterrupt raised inside a C extension's start-up can crash it), then ends like any other
interrupt: one line and exit 130, never a traceback.
"""

import os
import signal
import sys


def _stop() -> None:
    # a second Ctrl-C must not turn the clean exit into a traceback or a death by signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stderr.write("leadshare: interrupted; nothing was changed\n")
    sys.stderr.flush()
    os._exit(130)


def main() -> None:
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        from leadshare.cli import main as run
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        _stop()
    try:
        run()
    except KeyboardInterrupt:
        _stop()


if __name__ == "__main__":
    main()

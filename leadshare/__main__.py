"""The entry point of `leadshare` and `python -m leadshare`.

It imports the command line inside a guard, so that Ctrl-C while Python is still loading the
modules ends like any other interrupt: one line and exit 130, never a traceback.
"""

import os
import signal
import sys


def main() -> None:
    try:
        from leadshare.cli import main as run

        run()
    except KeyboardInterrupt:
        # a second Ctrl-C must not turn the clean exit into a traceback or a death by signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("leadshare: interrupted; nothing was changed\n")
        sys.stderr.flush()
        os._exit(130)


if __name__ == "__main__":
    main()

"""The entry point of `leadshare` and `python -m leadshare`.

It imports the command line inside a guard, so that Ctrl-C while Python is still loading the
modules ends like any other interrupt: one line and exit 130, never a traceback.
"""

import sys


def main() -> None:
    try:
        from leadshare.cli import main as run

        run()
    except KeyboardInterrupt:
        print("leadshare: interrupted; nothing was changed", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()

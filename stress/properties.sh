#!/bin/sh
# The property-based tests of the fast suite, run long: many more hypothesis examples and state
# machine steps, and more kills. Settings come from the environment (defaults below).
#   sh stress/properties.sh
#   STATEFUL_EXAMPLES=2000 STATEFUL_SHRINK=1 sh stress/properties.sh tests/test_stateful.py
set -eu
cd "$(dirname "$0")/.."
export STATEFUL_EXAMPLES="${STATEFUL_EXAMPLES:-300}"   # state machine runs
export STATEFUL_STEPS="${STATEFUL_STEPS:-40}"          # steps per run
export HOSTILE_EXAMPLES="${HOSTILE_EXAMPLES:-1000}"    # random CSV files
export TAMPER_EXAMPLES="${TAMPER_EXAMPLES:-100}"       # tamperings of each kind
export CRASH_KILLS="${CRASH_KILLS:-20}"                # kill -9 in the crash test
# STATEFUL_SHRINK=1 also shrinks a failing state machine run to a minimal one (can take minutes)
if [ "$#" -eq 0 ]; then
  set -- tests/test_stateful.py tests/test_hostile.py tests/test_tamper.py tests/test_crash.py
fi
exec python -m pytest -q -p no:cacheprovider -n 0 --hypothesis-show-statistics "$@"

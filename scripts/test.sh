#!/usr/bin/env bash
# `make test`: ruff, then the test suite with mypy running beside it (on a fresh clone mypy takes a core for
# half a minute, which the suite's first tests can spare), then mypy's verdict. Fails if either fails.
#
#   scripts/test.sh BIN        (BIN: the virtual environment's bin directory)
set -uo pipefail
bin=$1
cd "$(dirname "$0")/.."
"$bin/ruff" check docmill tests benchmarks || exit 1
scripts/test-services.sh || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$bin/mypy" >"$log" 2>&1 &
mypy=$!
"$bin/pytest" -n 2 --dist loadgroup
tests=$?
wait "$mypy"
typed=$?
echo "mypy:"
cat "$log"
exit $(( tests != 0 || typed != 0 ))

#!/usr/bin/env bash
# Runs the fuzz tests (Tests/FuzzTests) for many inputs, in an optimised build.
#
#   scripts/fuzz.sh [INPUTS_PER_TEST]      (default 2000000)
#
# Each test mutates the seed corpus in Tests/FuzzTests/Corpus and generates inputs of its own; a failure
# prints FUZZ_SEED and the input's index: `FUZZ_SEED=<seed> FUZZ_ITERATIONS=<n> swift test --filter FuzzTests`
# replays it. `swift test` runs the same tests with 20,000 inputs each.
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_ITERATIONS=${1:-2000000}
export FUZZ_SEED=${FUZZ_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}
echo "fuzzing with $FUZZ_ITERATIONS inputs per test, FUZZ_SEED=$FUZZ_SEED" >&2
# -enable-testing: the tests reach the intake's internal scanner through @testable import.
start=$(date +%s)
swift test -c release -Xswiftc -enable-testing --scratch-path .build-fuzz --filter FuzzTests 2>&1 \
  | grep -E "error|Test Case|Executed" | grep -v "started"
echo "took $(( $(date +%s) - start )) s" >&2

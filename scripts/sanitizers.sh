#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and ThreadSanitizer.
#
#   scripts/sanitizers.sh [address|thread ...]      (default: both)
#
# Each sanitizer builds into a folder of its own (.build-asan, .build-tsan), so the normal build is untouched.
# Extra arguments after `--` go to `swift test` (e.g. `-- --filter IntakeTests`). Exits non-zero if any test
# fails or a sanitizer reports a problem.
set -uo pipefail
cd "$(dirname "$0")/.."
sanitizers=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sanitizers+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)
# A report ends the run at once (halt_on_error), so it cannot scroll by unnoticed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# The test key must not be readable by others (git does not keep file modes).
chmod 600 certs/*.key certs/*.p8 2>/dev/null || true
status=0
for sanitizer in "${sanitizers[@]}"; do
  case "$sanitizer" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) echo "unknown sanitizer: $sanitizer (address or thread)" >&2; exit 2 ;;
  esac
  log=$(mktemp)
  start=$(date +%s)
  swift test --sanitize="$sanitizer" --scratch-path "$scratch" "$@" > "$log" 2>&1
  code=$?
  summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -1)
  reports=$(grep -cE "^(==[0-9]+==ERROR: AddressSanitizer|WARNING: ThreadSanitizer|SUMMARY: (Address|Thread)Sanitizer)" "$log")
  echo "$sanitizer: exit $code, ${summary:-no XCTest summary}, sanitizer reports: $reports, $(( $(date +%s) - start )) s"
  if [ "$code" -ne 0 ] || [ "$reports" -ne 0 ]; then
    status=1
    grep -E -A30 "ERROR: AddressSanitizer|WARNING: ThreadSanitizer" "$log" | head -80
    grep -E "error:|failed" "$log" | head -20
  fi
  rm -f "$log"
done
exit $status

#!/usr/bin/env bash
# How fast scheduled ends that fall due together go out: the release gateway against apns-mock, N ends
# (default 5000) due in the same second, each for its own activity with one token.
#
#   scripts/scheduled-ends-bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product apns-gateway >&2
swift build -c release --product apns-mock >&2
python3 scripts/scheduled_ends_bench.py "$(swift build -c release --show-bin-path)" "${1:-5000}"

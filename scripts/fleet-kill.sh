#!/usr/bin/env bash
# A fleet of three gateways on one PostgreSQL registry loses one (SIGKILL) while N scheduled ends due in the same
# second go out through one apns-mock; checks every end was sent once, or twice only when marked possibly_sent.
# Starts its own throw-away PostgreSQL 15 cluster (Debian's postgresql: scripts/install-packages.sh --tests).
#
#   scripts/fleet-kill.sh [N] [LEASE_SECONDS]        (defaults: 10000 ends, a 5 s lease; CONFIGURATION=release)
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=${CONFIGURATION:-debug}
swift build -c "$configuration" --product apns-gateway >&2
swift build -c "$configuration" --product apns-mock >&2
python3 scripts/fleet_kill.py "$(swift build -c "$configuration" --show-bin-path)" "${1:-10000}" "${2:-5}"

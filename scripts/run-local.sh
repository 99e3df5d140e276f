#!/usr/bin/env bash
# Starts the bundled mock APNs and the gateway on config/local.json, sends config/demo-batch.ndjson,
# shows the results, and keeps serving until Ctrl-C (which shuts both down gracefully); with RUN_ONCE=1 it
# stops after the results.
# TEST-ONLY credentials from certs/; nothing here talks to Apple.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug}
MOCK_PORT=${MOCK_PORT:-2197}
SOCKET=run/apns-gateway.sock

# git checkouts make files 0644; the gateway refuses a provider key others can read.
chmod 600 certs/AuthKey_TESTKEY123.p8 certs/localhost.key
mkdir -p run
: > run/apns-mock.log
: > run/gateway.out

"$BIN/apns-mock" --port "$MOCK_PORT" --cert certs/localhost.pem --key certs/localhost.key \
  --provider-key TESTKEY123:TEAM123456:certs/AuthKey_TESTKEY123.pub.pem --bundle-id com.example.app \
  --unregistered 5123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef \
  > run/apns-mock.log 2>&1 &
MOCK_PID=$!
GATEWAY_PID=
stop() {
  trap - EXIT INT TERM
  if [ -n "$GATEWAY_PID" ]; then kill -TERM "$GATEWAY_PID" 2>/dev/null || true; wait "$GATEWAY_PID" 2>/dev/null || true; fi
  kill -TERM "$MOCK_PID" 2>/dev/null || true
  wait "$MOCK_PID" 2>/dev/null || true
}
trap stop EXIT INT TERM

for _ in $(seq 100); do grep -q "listening" run/apns-mock.log && break; sleep 0.1; done
grep -q "listening" run/apns-mock.log || { echo "apns-mock did not start:"; cat run/apns-mock.log; exit 1; }
echo "== $(cat run/apns-mock.log)"

"$BIN/apns-gateway" serve --config config/local.json > run/gateway.out &
GATEWAY_PID=$!
for _ in $(seq 100); do grep -q "ready" run/gateway.out && break; sleep 0.1; done
grep -q "ready" run/gateway.out || { echo "apns-gateway did not start"; exit 1; }
echo "== $(cat run/gateway.out)"

echo "== sending config/demo-batch.ndjson (one result per line; exit status 0 only if all got 200):"
status=0
"$BIN/apns-gateway" send --socket "$SOCKET" config/demo-batch.ndjson || status=$?
echo "== send exit status: $status (the demo batch holds deliberate failures)"
echo "== stats:"
printf '{"id":"stats","op":"stats"}\n' | "$BIN/apns-gateway" send --socket "$SOCKET" - || true
echo
# RUN_ONCE=1 (make run RUN_ONCE=1): stop here, shutting both down, e.g. to time or check the demo.
if [ -n "${RUN_ONCE:-}" ]; then
  echo "== RUN_ONCE: stopping the gateway and the mock"
  exit 0
fi
echo "== the gateway keeps serving on $SOCKET; try:"
echo "   printf '{\"id\":1,\"op\":\"ping\"}\\n' | socat - UNIX-CONNECT:$SOCKET"
echo "   Live Activities (register, start, update, end): see docs/live-activities.md"
echo "   Ctrl-C stops it."
wait "$GATEWAY_PID"

#!/usr/bin/env bash
# Run examples/flower_app on a local Flower deployment: one SuperLink and $NODES SuperNodes on
# 127.0.0.1 (insecure mode: loopback only, no TLS), then `flwr run`. Every process started here is
# stopped by its own PID on exit. Runtime dependency installation is disabled: the SuperLink and
# the SuperNodes use this Python environment, which must have asktell[federated] installed.
#
#   NODES=3 ROUNDS=2 RECORDS=/tmp/records.jsonl examples/flower_app/run_local.sh
#
# Environment: NODES (3), ROUNDS (2), RECORDS (per-round JSON lines; default $WORKDIR/records.jsonl),
# WORKDIR (logs and FLWR_HOME; default a new temporary folder), SUPERLINK_PORT (19080),
# NODE_PORT (first SuperNode's runtime API port, 19100; one port per node).
set -euo pipefail
APP="$(cd "$(dirname "$0")" && pwd)"
NODES="${NODES:-3}"
ROUNDS="${ROUNDS:-2}"
WORKDIR="${WORKDIR:-$(mktemp -d -t asktell-flower.XXXXXX)}"
RECORDS="${RECORDS:-$WORKDIR/records.jsonl}"
SUPERLINK_PORT="${SUPERLINK_PORT:-19080}"
NODE_PORT="${NODE_PORT:-19100}"
mkdir -p "$WORKDIR"
: > "$RECORDS"

export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1 RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export FLWR_HOME="$WORKDIR/flwr-home"   # the CLI's connection file, installed apps: not ~/.flwr
mkdir -p "$FLWR_HOME"
cat > "$FLWR_HOME/config.toml" <<TOML
[superlink]
default = "asktell-local"

[superlink.asktell-local]
address = "127.0.0.1:$SUPERLINK_PORT"
insecure = true
TOML

PIDS=()
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

flower-superlink --insecure --host 127.0.0.1 --port "$SUPERLINK_PORT" \
  --disable-runtime-dependency-installation > "$WORKDIR/superlink.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do  # wait for the SuperLink's health endpoint
  if python - "$SUPERLINK_PORT" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
PY
  kill -0 "${PIDS[0]}" || { cat "$WORKDIR/superlink.log" >&2; exit 1; }
  sleep 0.5
done

for ((i = 0; i < NODES; i++)); do
  flower-supernode --insecure --superlink "127.0.0.1:$SUPERLINK_PORT" \
    --host 127.0.0.1 --port $((NODE_PORT + i)) \
    --node-config "partition-id=$i num-partitions=$NODES" > "$WORKDIR/supernode-$i.log" 2>&1 &
  PIDS+=($!)
done

start=$(date +%s.%N)
flwr run "$APP" asktell-local --stream \
  --run-config "num-server-rounds=$ROUNDS num-clients=$NODES records-path=\"$RECORDS\""
end=$(date +%s.%N)
rows=$(wc -l < "$RECORDS")
echo "flwr run: $rows of $ROUNDS rounds in $(python -c "print(f'{$end - $start:.1f}')") s; records in $RECORDS"
[[ "$rows" -eq "$ROUNDS" ]]

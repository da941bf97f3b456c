#!/usr/bin/env bash
# Side-by-side benchmarks of Switchboard and its peers, in one run (docs/benchmarks.md).
#
#   bench/run.sh [all | idle | echo | chat | stream]...      (default: all)
#
# Builds Switchboard and bench/harness (release), installs the peers if missing
# (bench/install-peers.sh), then for each scenario starts Switchboard and each peer one
# after the other on this machine, measures with bench/harness's loadgen, stops it,
# prints a table with the ratios and writes JSON: every measurement under
# bench/results/runs/<run id>/, the summary also as bench/results/peers.json
# (bench/results/peers-preload.json for an SB_PRELOAD experiment).
#
#   1 idle    memory per connected, helloed, idle WebSocket at each of IDLE_N:
#             Switchboard, Node `ws`, bare tokio-tungstenite (echo-floor)
#   2 echo    messages/s and round trip, ECHO_CONNS sockets, 20-byte messages, ECHO_SECS s
#   3 chat    full turns/s with a 20-token streamed reply, on SQLite and on PostgreSQL
#   4 stream  time to first token, relay latency and gaps at each of STREAM_CONNS
#             concurrent streams: the fake upstream directly, through Switchboard, and
#             through the LiteLLM proxy
#
# Knobs (environment): IDLE_N="10000 50000" (each capped by the file limit), ECHO_CONNS=100,
# ECHO_SECS=10, CHAT_CONNS=100, CHAT_SECS=10, CHAT_PACE_MS=5, STREAM_CONNS="100 1000",
# STREAM_SECS=6, STREAM_PACE_MS=25, TOKENS=20, PG_URL=postgres://postgres@127.0.0.1:5432,
# ECHO_STORE=sqlite, CHAT_STORES="sqlite postgres", STREAM_STORE=sqlite (sqlite, sqlite-tmpfs
# or postgres),
# FLOOR_READ_BUFFER=4096, SB_PRELOAD (an LD_PRELOAD library for Switchboard only, for
# experiments such as bench/experiments/nodelay.c), SB_ENV="VAR=VALUE …" (more
# environment for Switchboard, e.g. SWITCHBOARD__CONVERSATION__IDLE_TIMEOUT_SECS=1), SKIP_BUILD=1, SB_TARGET_DIR (default ./target),
# PEER_INSTALL=0 (do not install peers; they must be there).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
SB_TARGET="${SB_TARGET_DIR:-$ROOT/target}"
H_TARGET="$BENCH/harness/target"
SB="$SB_TARGET/release/switchboard"
LOADGEN="$H_TARGET/release/loadgen"
FLOOR="$H_TARGET/release/echo-floor"
UPSTREAM="$H_TARGET/release/fake-upstream"
LITELLM="$BENCH/.peers/litellm/bin/litellm"

IDLE_N="${IDLE_N:-10000 50000}"
ECHO_CONNS="${ECHO_CONNS:-100}"
ECHO_SECS="${ECHO_SECS:-10}"
CHAT_CONNS="${CHAT_CONNS:-100}"
CHAT_SECS="${CHAT_SECS:-10}"
CHAT_PACE_MS="${CHAT_PACE_MS:-5}"
STREAM_CONNS="${STREAM_CONNS:-100 1000}"
STREAM_SECS="${STREAM_SECS:-6}"
STREAM_PACE_MS="${STREAM_PACE_MS:-25}"
TOKENS="${TOKENS:-20}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
# The floor reads into 4 KiB per socket; empty = tungstenite's default (128 KiB, which it
# touches, so it would be measured as ~140 KB per idle socket).
FLOOR_READ_BUFFER="${FLOOR_READ_BUFFER-4096}"
ECHO_STORE="${ECHO_STORE:-sqlite}"
CHAT_STORES="${CHAT_STORES:-sqlite postgres}"
STREAM_STORE="${STREAM_STORE:-sqlite}"
WARMUP=100

HOST=127.0.0.1
SB_PORT=18080
NODE_PORT=18081
FLOOR_PORT=18082
UPSTREAM_PORT=18100
LITELLM_PORT=18200
LITELLM_KEY=sk-bench-master-key

scenarios=("$@")
[[ ${#scenarios[@]} -eq 0 || " ${scenarios[*]} " == *" all "* ]] && scenarios=(idle echo chat stream)
for s in "${scenarios[@]}"; do
  case "$s" in idle|echo|chat|stream) ;; *) echo "unknown scenario $s (all|idle|echo|chat|stream)" >&2; exit 2 ;; esac
done
wants() { [[ " ${scenarios[*]} " == *" $1 "* ]]; }

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$BENCH/results/runs/$RUN_ID"
mkdir -p "$OUT/logs"
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Every process started here inherits the highest file limit this shell may set.
ulimit -n "$(ulimit -Hn)"
NOFILE="$(ulimit -n)"

# --- build and install ---------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building switchboard (release, target $SB_TARGET)"
  (cd "$ROOT" && CARGO_TARGET_DIR="$SB_TARGET" cargo build --release --quiet --bin switchboard)
  log "building bench/harness (release)"
  CARGO_TARGET_DIR="$H_TARGET" cargo build --release --quiet --manifest-path "$BENCH/harness/Cargo.toml"
fi
peers=()
{ wants idle || wants echo; } && peers+=(node-ws)
wants stream && peers+=(litellm)
for p in "${peers[@]}"; do
  if [[ "${PEER_INSTALL:-1}" == 1 ]]; then "$BENCH/install-peers.sh" "$p" >&2; fi
done

# --- processes -----------------------------------------------------------------------
declare -a STARTED=()
TMP_DIRS=()
PG_DBS=()
cleanup() {
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  for db in "${PG_DBS[@]}"; do
    psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# start NAME CMD... : runs CMD in the background, logging to $OUT/logs/NAME.log; sets PID.
start() {
  local name=$1; shift
  "$@" >"$OUT/logs/$name.log" 2>&1 &
  PID=$!
  STARTED+=("$PID")
}

stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# wait_port PORT PID NAME: until something listens on HOST:PORT (or the process dies).
wait_port() {
  local port=$1 pid=$2 name=$3
  for _ in $(seq 1200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited; its log:"; tail -20 "$OUT/logs/$name.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$name did not listen on $port in 120 s"; exit 1
}

wait_http() {
  local url=$1 pid=$2 name=$3
  for _ in $(seq 1200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited; its log:"; tail -20 "$OUT/logs/$name.log" >&2; exit 1
    fi
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$name not ready at $url in 120 s"; exit 1
}

# new_pg_db: creates a fresh database and sets PG_DB_URL (no subshell, so that cleanup
# knows to drop it).
new_pg_db() {
  local db="sbpeers_$(date +%s)_$RANDOM"
  psql -q "$PG_URL/postgres" -c "CREATE DATABASE $db" >/dev/null
  PG_DBS+=("$db")
  PG_DB_URL="$PG_URL/$db"
}

# start_sb NAME STORE ENTRY_FLOW [VAR=VALUE...]: Switchboard on a fresh database.
# STORE is sqlite (a file in a new temporary directory), sqlite-tmpfs (the same on
# /dev/shm, so commits cost no disk flush: an experiment) or postgres (a new database).
start_sb() {
  local name=$1 store=$2 entry=$3; shift 3
  local db
  local dir
  case $store in
    postgres) new_pg_db; db=$PG_DB_URL ;;
    sqlite) dir="$(mktemp -d "${TMPDIR:-/tmp}/sbpeers.XXXXXX")"; TMP_DIRS+=("$dir"); db="sqlite://$dir/switchboard.db" ;;
    sqlite-tmpfs) dir="$(mktemp -d /dev/shm/sbpeers.XXXXXX)"; TMP_DIRS+=("$dir"); db="sqlite://$dir/switchboard.db" ;;
    *) log "unknown store $store"; exit 2 ;;
  esac
  local extra=()
  [[ -n "${SB_PRELOAD:-}" ]] && extra=(LD_PRELOAD="$SB_PRELOAD")
  # shellcheck disable=SC2206 # SB_ENV is a space-separated list of VAR=VALUE words
  [[ -n "${SB_ENV:-}" ]] && extra+=($SB_ENV)
  start "$name" env -C "$ROOT" "${extra[@]}" \
    SWITCHBOARD__SERVER__BIND="$HOST:$SB_PORT" \
    SWITCHBOARD__DATABASE__URL="$db" \
    SWITCHBOARD__DEMO__FLOWS_DIR="$BENCH/flows" \
    SWITCHBOARD__DEMO__ENTRY_FLOW="$entry" \
    SWITCHBOARD__LOG__FILTER=warn \
    "$@" "$SB" serve
  wait_http "http://$HOST:$SB_PORT/readyz" "$PID" "$name"
}

start_node() {
  start node-ws node "$BENCH/peers/node-ws/echo.js" "$HOST:$NODE_PORT"
  wait_port "$NODE_PORT" "$PID" node-ws
}

start_floor() {
  local buffer=()
  [[ -n "$FLOOR_READ_BUFFER" ]] && buffer=(--read-buffer "$FLOOR_READ_BUFFER")
  start echo-floor "$FLOOR" --bind "$HOST:$FLOOR_PORT" "${buffer[@]}"
  wait_port "$FLOOR_PORT" "$PID" echo-floor
}

start_upstream() {
  local pace=$1
  start "fake-upstream-$pace" "$UPSTREAM" --bind "$HOST:$UPSTREAM_PORT" --tokens "$TOKENS" --pace-ms "$pace"
  wait_port "$UPSTREAM_PORT" "$PID" "fake-upstream-$pace"
}

start_litellm() {
  cat >"$OUT/litellm.yaml" <<EOF
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://$HOST:$UPSTREAM_PORT/v1
      api_key: bench
litellm_settings:
  telemetry: false
  drop_params: true
EOF
  # As many workers as CPUs, like Switchboard's runtime (LiteLLM's default is one).
  start litellm env LITELLM_MASTER_KEY="$LITELLM_KEY" LITELLM_LOCAL_MODEL_COST_MAP=True \
    LITELLM_LOG=ERROR NO_DOCS=True DISABLE_ADMIN_UI=True \
    "$LITELLM" --config "$OUT/litellm.yaml" --host "$HOST" --port "$LITELLM_PORT" --num_workers "$(nproc)"
  wait_http "http://$HOST:$LITELLM_PORT/health/liveliness" "$PID" litellm
}

SB_URL="ws://$HOST:$SB_PORT/v1/ws"
# The echo scenario keeps one message in flight per socket, far above the default
# per-connection rate limit (webchat.messages_per_second = 5): raise it for the bench.
SB_UNLIMITED=(SWITCHBOARD__WEBCHAT__MESSAGES_PER_SECOND=1000000 SWITCHBOARD__WEBCHAT__MESSAGE_BURST=1000000)
SB_LLM=(SWITCHBOARD__LLM__BASE_URL="http://$HOST:$UPSTREAM_PORT/v1" SWITCHBOARD__LLM__API_KEY=bench
        SWITCHBOARD__LLM__MODEL=gpt-4o-mini "${SB_UNLIMITED[@]}")

# --- scenarios -----------------------------------------------------------------------
run_idle() {
  local cap=$(( (NOFILE - WARMUP - 600) / 1000 * 1000 ))
  for n in $IDLE_N; do
    local m=$n
    if (( m > cap )); then
      log "idle: N=$n needs more than the file limit ($NOFILE) allows; measuring N=$cap instead"
      m=$cap
    fi
    for target in switchboard node-ws echo-floor; do
      case $target in
        switchboard) start_sb "sb-idle-$m" sqlite echo; url=$SB_URL; proto=sb ;;
        node-ws) start_node; url="ws://$HOST:$NODE_PORT/"; proto=echo ;;
        echo-floor) start_floor; url="ws://$HOST:$FLOOR_PORT/"; proto=echo ;;
      esac
      log "idle: $target, N=$m"
      "$LOADGEN" idle --label "$target" --url "$url" --proto "$proto" --pid "$PID" --n "$m" \
        --warmup "$WARMUP" --out "$OUT/idle-$m-$target.json" >/dev/null
      note "$OUT/idle-$m-$target.json" requested_n "$n"
      stop "$PID"
    done
  done
}

# note FILE KEY VALUE: adds a numeric field to a JSON report.
note() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
path, key, value = sys.argv[1], sys.argv[2], sys.argv[3]
report = json.load(open(path))
report[key] = int(value)
json.dump(report, open(path, "w"), indent=2)
EOF
}

run_echo() {
  for target in switchboard node-ws echo-floor; do
    case $target in
      switchboard) start_sb sb-echo "$ECHO_STORE" echo "${SB_UNLIMITED[@]}"; url=$SB_URL; proto=sb ;;
      node-ws) start_node; url="ws://$HOST:$NODE_PORT/"; proto=echo ;;
      echo-floor) start_floor; url="ws://$HOST:$FLOOR_PORT/"; proto=echo ;;
    esac
    log "echo: $target, $ECHO_CONNS connections, ${ECHO_SECS} s"
    "$LOADGEN" echo --label "$target" --url "$url" --proto "$proto" --conns "$ECHO_CONNS" --cpu-pid "$PID" \
      --size 20 --secs "$ECHO_SECS" --out "$OUT/echo-$target.json" >/dev/null
    stop "$PID"
  done
}

run_chat() {
  start_upstream "$CHAT_PACE_MS"; local upstream=$PID
  for store in $CHAT_STORES; do
    start_sb "sb-chat-$store" "$store" chat "${SB_LLM[@]}"
    log "chat: $store, $CHAT_CONNS visitors, ${CHAT_SECS} s"
    "$LOADGEN" chat --label switchboard --store "$store" --url "$SB_URL" --conns "$CHAT_CONNS" \
      --cpu-pid "$PID" --cpu-pid "$upstream" \
      --secs "$CHAT_SECS" --out "$OUT/chat-$store.json" >/dev/null
    stop "$PID"
  done
  stop "$upstream"
}

run_stream() {
  start_upstream "$STREAM_PACE_MS"; local upstream=$PID
  start_litellm; local litellm=$PID
  for c in $STREAM_CONNS; do
    log "stream: direct, $c concurrent"
    "$LOADGEN" stream --label direct --target http --url "http://$HOST:$UPSTREAM_PORT/v1" --cpu-pid "$upstream" \
      --conns "$c" --secs "$STREAM_SECS" --tokens "$TOKENS" --out "$OUT/stream-$c-direct.json" >/dev/null
    start_sb "sb-stream-$c" "$STREAM_STORE" chat "${SB_LLM[@]}"
    log "stream: switchboard, $c concurrent"
    "$LOADGEN" stream --label switchboard --target sb --url "$SB_URL" --cpu-pid "$PID" --cpu-pid "$upstream" \
      --conns "$c" --secs "$STREAM_SECS" --tokens "$TOKENS" --out "$OUT/stream-$c-switchboard.json" >/dev/null
    stop "$PID"
    log "stream: litellm, $c concurrent"
    "$LOADGEN" stream --label litellm --target http --url "http://$HOST:$LITELLM_PORT/v1" \
      --cpu-pid "$litellm" --cpu-pid "$upstream" \
      --api-key "$LITELLM_KEY" --conns "$c" --secs "$STREAM_SECS" --tokens "$TOKENS" \
      --out "$OUT/stream-$c-litellm.json" >/dev/null
  done
  stop "$litellm"
  stop "$upstream"
}

# --- run -----------------------------------------------------------------------------
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || commit="$commit+dirty"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
started=$SECONDS
log "run $RUN_ID: ${scenarios[*]} (commit $commit, file limit $NOFILE)"
for s in "${scenarios[@]}"; do "run_$s"; done
log "measured in $((SECONDS - started)) s"
cat >"$OUT/machine.json" <<EOF
{"run_id": "$RUN_ID", "date": "$(date -u +%Y-%m-%d)", "commit": "$commit",
 "cpus": $(nproc), "mem_gib": $(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo),
 "kernel": "$(uname -r)", "os": "$(. /etc/os-release && echo "$PRETTY_NAME")",
 "rustc": "$(rustc --version)", "node": "$(node --version)",
 "litellm": "$("$BENCH/.peers/litellm/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null || echo none)",
 "nofile": $NOFILE, "scenarios": "${scenarios[*]}", "seconds": $((SECONDS - started)),
 "loadavg_start": "$LOAD_START", "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "settings": {"idle_n": "$IDLE_N", "echo_conns": $ECHO_CONNS, "echo_secs": $ECHO_SECS,
   "chat_conns": $CHAT_CONNS, "chat_secs": $CHAT_SECS, "chat_pace_ms": $CHAT_PACE_MS,
   "stream_conns": "$STREAM_CONNS", "stream_secs": $STREAM_SECS, "stream_pace_ms": $STREAM_PACE_MS, "tokens": $TOKENS,
   "floor_read_buffer": "$FLOOR_READ_BUFFER", "sb_preload": "${SB_PRELOAD:-}", "sb_env": "${SB_ENV:-}",
   "echo_store": "$ECHO_STORE", "chat_stores": "$CHAT_STORES", "stream_store": "$STREAM_STORE"}}
EOF
python3 "$BENCH/report.py" "$OUT"
# The summary of a full run with the default settings is bench/results/peers.json; of an
# SB_PRELOAD experiment with the default settings, peers-preload.json; other runs stay in
# their run directory only.
knobs="$IDLE_N|$ECHO_CONNS|$ECHO_SECS|$CHAT_CONNS|$CHAT_SECS|$CHAT_PACE_MS|$STREAM_CONNS|$STREAM_SECS"
knobs+="|$STREAM_PACE_MS|$TOKENS|$ECHO_STORE|$CHAT_STORES|$STREAM_STORE|$FLOOR_READ_BUFFER|${SB_ENV:-}"
defaults=no
[[ $knobs == "10000 50000|100|10|100|10|5|100 1000|6|25|20|sqlite|sqlite postgres|sqlite|4096|" ]] && defaults=yes
if [[ $defaults == yes && -n "${SB_PRELOAD:-}" ]]; then
  cp "$OUT/summary.json" "$BENCH/results/peers-preload.json"
  log "JSON: $OUT/ and bench/results/peers-preload.json (an experiment: SB_PRELOAD)"
elif [[ $defaults == yes && "${scenarios[*]}" == "idle echo chat stream" ]]; then
  cp "$OUT/summary.json" "$BENCH/results/peers.json"
  log "JSON: $OUT/ and bench/results/peers.json"
else
  log "JSON: $OUT/"
fi

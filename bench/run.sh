#!/usr/bin/env bash
# Load benchmarks: builds the release binaries, runs every palaver-load
# scenario against fresh palaver servers (temporary data directories,
# 127.0.0.1 ephemeral ports), runs the fan-out scenario against
# palaver-relay too, and writes BENCHMARKS.md in the repository root with
# the numbers next to their targets.
#
#   bash bench/run.sh
#
# Sizes fit a 2-core machine in a few minutes; override them with the
# environment variables below (e.g. FANOUT_SECS=30 bash bench/run.sh).
# Everything it starts is stopped on exit; it stops by itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FANOUT_CLIENTS="${FANOUT_CLIENTS:-200}"
FANOUT_ROOMS="${FANOUT_ROOMS:-10}"
FANOUT_SENDERS="${FANOUT_SENDERS:-2}"   # per room
FANOUT_RATE="${FANOUT_RATE:-50}"        # per sender: 20 senders x 50/s x 20 members = 20k deliveries/s
FANOUT_SECS="${FANOUT_SECS:-10}"
# The same clients and rate in fewer, bigger rooms: what a message costs
# once (its commit, its trip through the room) spreads over more deliveries.
FANOUT_BIG_ROOMS="${FANOUT_BIG_ROOMS:-2}"
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-20000}"
IDLE_USERS="${IDLE_USERS:-50}"
PERSIST_SENDERS="${PERSIST_SENDERS:-8}"
PERSIST_IN_FLIGHT="${PERSIST_IN_FLIGHT:-64}"
PERSIST_SECS="${PERSIST_SECS:-10}"
HISTORY_MESSAGES="${HISTORY_MESSAGES:-100000}"
HISTORY_CONCURRENCY="${HISTORY_CONCURRENCY:-8}"
HISTORY_SECS="${HISTORY_SECS:-10}"
STORM_CONNECTIONS="${STORM_CONNECTIONS:-2000}"
STORM_CONCURRENCY="${STORM_CONCURRENCY:-50}"
# Hard stop for any single load run.
RUN_TIMEOUT_SECS="${RUN_TIMEOUT_SECS:-600}"
# The machine may be shared: before each run wait (in total at most this
# long) until less than QUIET_BUSY of all CPUs are busy.
QUIET_BUDGET_SECS="${QUIET_BUDGET_SECS:-120}"
QUIET_BUSY="${QUIET_BUSY:-0.15}"

log() { printf '[bench] %s\n' "$*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/palaver-bench.XXXXXX")"
SERVER_PID=""
RELAY_PID=""
STARTED_PIDS=()

cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${STARTED_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
log "building release binaries"
cargo build --release --bins
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release"
for b in palaver palaver-load palaver-relay; do
    [[ -x "$BIN/$b" ]] || { log "missing $BIN/$b"; exit 1; }
done

# ---------------------------------------------------------------- limits
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT="$(ulimit -n)"
log "open-file limit: $FD_LIMIT"

# ---------------------------------------------------------------- servers
# start_server NAME [palaver serve flags...]: sets SERVER_PID, HTTP, WS.
start_server() {
    local name="$1"
    shift
    local dir="$WORK/$name"
    mkdir -p "$dir/data"
    # The load generator signs up hundreds of users from one IP and pipelines
    # thousands of actions per socket: the abuse limits are lifted for it.
    PALAVER_LOG=info "$BIN/palaver" serve --data-dir "$dir/data" \
        --http-addr 127.0.0.1:0 --ws-addr 127.0.0.1:0 \
        --auth-per-ip-per-minute 0 --auth-per-account-per-minute 0 --ws-actions-per-sec 0 "$@" \
        </dev/null >"$dir/server.out" 2>"$dir/server.log" &
    SERVER_PID=$!
    STARTED_PIDS+=("$SERVER_PID")
    local line="" i
    for ((i = 0; i < 600; i++)); do
        line="$(grep -m1 'palaver ready' "$dir/server.log" || true)"
        [[ -n "$line" ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "palaver exited during startup:"
            cat "$dir/server.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    [[ -n "$line" ]] || { log "palaver did not become ready in 60 s"; exit 1; }
    HTTP="$(sed -n 's/.*http_addr=\([0-9.]*:[0-9]*\).*/\1/p' <<<"$line")"
    WS="$(sed -n 's/.*ws_addr=\([0-9.]*:[0-9]*\).*/\1/p' <<<"$line")"
    [[ -n "$HTTP" && -n "$WS" ]] || { log "cannot parse the ready line: $line"; exit 1; }
    log "palaver ($name $*) pid $SERVER_PID http $HTTP ws $WS"
}

stop_pid() {
    local pid="$1"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

start_relay() {
    "$BIN/palaver-relay" --addr 127.0.0.1:0 </dev/null >"$WORK/relay.out" 2>"$WORK/relay.log" &
    RELAY_PID=$!
    STARTED_PIDS+=("$RELAY_PID")
    local line="" i
    for ((i = 0; i < 100; i++)); do
        line="$(grep -m1 'palaver-relay listening on' "$WORK/relay.out" || true)"
        [[ -n "$line" ]] && break
        sleep 0.1
    done
    [[ -n "$line" ]] || { log "palaver-relay did not start"; cat "$WORK/relay.log" >&2; exit 1; }
    RELAY_ADDR="${line##* }"
    log "palaver-relay pid $RELAY_PID on $RELAY_ADDR"
}

# ---------------------------------------------------------------- quiet
# busy_fraction: share of all CPUs busy over the next second.
busy_fraction() {
    local s1 s2
    s1="$(head -n 1 /proc/stat)"
    sleep 1
    s2="$(head -n 1 /proc/stat)"
    awk -v a="$s1" -v b="$s2" 'BEGIN {
        split(a, x, " "); split(b, y, " "); t = 0
        for (k = 2; k <= 9; k++) t += y[k] - x[k]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        if (t <= 0) { print 0; exit }
        printf "%.2f", (t - idle) / t }'
}
QUIET_LEFT="$QUIET_BUDGET_SECS"
BUSY_NOTE=""
# wait_quiet: waits until other programs leave the CPUs alone (bounded).
wait_quiet() {
    local f
    while :; do
        f="$(busy_fraction)"
        if awk -v f="$f" -v q="$QUIET_BUSY" 'BEGIN { exit !(f < q) }'; then
            BUSY_NOTE="$f"
            return
        fi
        if ((QUIET_LEFT <= 0)); then
            log "machine still busy ($f of all CPUs); measuring anyway"
            BUSY_NOTE="$f (busy: measured anyway)"
            return
        fi
        log "machine busy ($f of all CPUs used by other programs); waiting"
        QUIET_LEFT=$((QUIET_LEFT - 1))
    done
}

# ---------------------------------------------------------------- load runs
declare -A RESULT
COMMANDS=()

# run_load KEY ARGS...: runs palaver-load, keeps its JSON line in RESULT[KEY].
run_load() {
    local key="$1"
    shift
    wait_quiet
    COMMANDS+=("palaver-load $*    # CPUs busy just before: $BUSY_NOTE")
    log "palaver-load $*"
    local rc=0
    timeout -k 10 "$RUN_TIMEOUT_SECS" "$BIN/palaver-load" "$@" \
        >"$WORK/$key.out" 2> >(tee "$WORK/$key.err" >&2) || rc=$?
    cat "$WORK/$key.out" >&2
    if ((rc != 0)); then
        log "palaver-load $key failed (exit $rc)"
        RESULT[$key]=""
        FAILED_RUNS+=("$key: $(tail -n 1 "$WORK/$key.err" 2>/dev/null)")
        return 0
    fi
    RESULT[$key]="$(grep '^{"' "$WORK/$key.out" | tail -n 1)"
}
FAILED_RUNS=()

# get KEY FIELD: a top-level value of a run's JSON line ("" when absent).
# Inside JSON strings quotes are escaped, so `[{,]"field":` only matches keys.
get() {
    sed -n "s/.*[{,]\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"${RESULT[$1]:-}" | tr -d '"'
}

# Fan-out against palaver.
start_server fanout
FANOUT_ARGS=(--clients "$FANOUT_CLIENTS" --rooms "$FANOUT_ROOMS" --senders "$FANOUT_SENDERS"
    --rate "$FANOUT_RATE" --duration-secs "$FANOUT_SECS")
run_load fanout --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" fanout "${FANOUT_ARGS[@]}"
stop_pid "$SERVER_PID"

# The same fan-out against the bare relay.
start_relay
run_load relay --ws "$RELAY_ADDR" --server-pid "$RELAY_PID" fanout --relay "${FANOUT_ARGS[@]}"
stop_pid "$RELAY_PID"

# Both again with bigger rooms.
FANOUT_BIG_ARGS=(--clients "$FANOUT_CLIENTS" --rooms "$FANOUT_BIG_ROOMS" --senders "$FANOUT_SENDERS"
    --rate "$FANOUT_RATE" --duration-secs "$FANOUT_SECS")
start_server fanout_big
run_load fanout_big --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" fanout "${FANOUT_BIG_ARGS[@]}"
stop_pid "$SERVER_PID"
start_relay
run_load relay_big --ws "$RELAY_ADDR" --server-pid "$RELAY_PID" fanout --relay "${FANOUT_BIG_ARGS[@]}"
stop_pid "$RELAY_PID"

# Idle connections (as many as the fd limit allows, up to IDLE_CONNECTIONS).
start_server idle
run_load idle --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" idle \
    --connections "$IDLE_CONNECTIONS" --users "$IDLE_USERS" --fit-fd-limit
stop_pid "$SERVER_PID"

# Persistence throughput, durability normal then full.
start_server persist-normal --durability normal
run_load persist_normal --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" \
    --duration-secs "$PERSIST_SECS" persist --senders "$PERSIST_SENDERS" --in-flight "$PERSIST_IN_FLIGHT"
stop_pid "$SERVER_PID"
# The same with server-assigned (UUIDv7) messageIds instead of random v4 ones.
start_server persist-normal-server-ids --durability normal
run_load persist_normal_srv --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" \
    --duration-secs "$PERSIST_SECS" persist --senders "$PERSIST_SENDERS" --in-flight "$PERSIST_IN_FLIGHT" \
    --message-ids server
stop_pid "$SERVER_PID"
start_server persist-full --durability full
run_load persist_full --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" \
    --duration-secs "$PERSIST_SECS" persist --senders "$PERSIST_SENDERS" --in-flight "$PERSIST_IN_FLIGHT"
stop_pid "$SERVER_PID"

# History paging.
start_server history
run_load history --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" \
    --duration-secs "$HISTORY_SECS" history --messages "$HISTORY_MESSAGES" --concurrency "$HISTORY_CONCURRENCY"
stop_pid "$SERVER_PID"

# Connection storm.
start_server storm
run_load storm --http "$HTTP" --ws "$WS" --server-pid "$SERVER_PID" \
    storm --connections "$STORM_CONNECTIONS" --concurrency "$STORM_CONCURRENCY"
stop_pid "$SERVER_PID"

# ---------------------------------------------------------------- report
# verdict OP MEASURED TARGET: "met" / "missed" / "not measured".
verdict() {
    local op="$1" a="$2" b="$3"
    if [[ -z "$a" || -z "$b" ]]; then
        echo "not measured"
        return
    fi
    if awk -v a="$a" -v b="$b" -v op="$op" 'BEGIN {
        if (op == "<=") exit !(a <= b); if (op == "<") exit !(a < b);
        if (op == ">=") exit !(a >= b); if (op == "==") exit !(a == b); exit 1 }'; then
        echo "met"
    else
        echo "missed"
    fi
}
mul() { [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a * b }' || true; }
ratio() { [[ -n "$1" && -n "$2" ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }' || true; }
orna() { if [[ -n "$1" ]]; then echo "$1"; else echo "n/a"; fi; }
# split_cost C1 N1 C2 N2: CPU per delivery measured with N1 and with N2
# recipients per message, split as C = d + F/N into "F d": F the cost of a
# message once (read, commit, hand-offs), d the cost of each delivery.
split_cost() {
    [[ -n "$1" && -n "$3" ]] && awk -v c1="$1" -v n1="$2" -v c2="$3" -v n2="$4" 'BEGIN {
        f = (c1 - c2) / (1 / n1 - 1 / n2); printf "%.0f %.2f", f, c2 - f / n2 }' || true
}

OUT="$ROOT/BENCHMARKS.md"
MODEL="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
MEM="$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"

F_CPU="$(get fanout server_cpu_us_per_delivery)"
R_CPU="$(get relay server_cpu_us_per_delivery)"
R_CPU_15="$(mul "$R_CPU" 1.5)"
I_CONN="$(get idle held)"
I_PER="$(get idle rss_bytes_per_connection)"
I_VERDICT="$(verdict '<=' "$I_PER" 4096)"
I_HELD_VERDICT="$(verdict '>=' "$I_CONN" 20000)"
if [[ -n "$I_CONN" ]] && ((I_CONN < 20000)); then
    I_VERDICT="$I_VERDICT at $I_CONN connections (the target is at 20,000)"
    if ((FD_LIMIT < 20000 + 200)); then
        I_HELD_VERDICT="not measurable here: the open-file limit is $FD_LIMIT and cannot be raised"
    fi
fi

{
    echo "# palaver load benchmarks"
    echo
    echo "Written by \`bash bench/run.sh\` — edit the script, not this file."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(nproc) CPUs ($MODEL), $MEM memory, Linux $(uname -r)"
    echo "- Toolchain: $(rustc --version)"
    echo "- Open-file limit: $FD_LIMIT"
    echo "- The load generator runs on the same machine as the server and"
    echo "  competes with it for the same CPUs. Every scenario gets a fresh"
    echo "  server with an empty data directory on 127.0.0.1 ephemeral ports."
    echo "- Before each run the script waits (up to ${QUIET_BUDGET_SECS} s in all) for the"
    echo "  machine to be quiet; each table shows the CPU other programs used"
    echo "  during the measurement (\`other_cpu_cores\`). Where that is well"
    echo "  above 0 the throughput and latency numbers are disturbed; CPU per"
    echo "  operation is less affected."
    echo
    echo "## Commands"
    echo
    echo '```sh'
    echo "cargo build --release --bins"
    echo "palaver serve --data-dir TMP --http-addr 127.0.0.1:0 --ws-addr 127.0.0.1:0 --auth-per-ip-per-minute 0 --auth-per-account-per-minute 0 --ws-actions-per-sec 0 [--durability normal|full]"
    echo "palaver-relay --addr 127.0.0.1:0"
    for c in "${COMMANDS[@]}"; do echo "$c"; done
    echo '```'
    echo
    if ((${#FAILED_RUNS[@]} > 0)); then
        echo "## Failed runs"
        echo
        for f in "${FAILED_RUNS[@]}"; do echo "- $f"; done
        echo
    fi

    echo "## Fan-out ($FANOUT_CLIENTS clients, $FANOUT_ROOMS rooms, $FANOUT_SENDERS senders/room at $FANOUT_RATE msg/s, ${FANOUT_SECS} s)"
    echo
    echo "| Metric | palaver | relay | Target | Result |"
    echo "|---|---|---|---|---|"
    echo "| Server CPU per delivery (µs) | $(orna "$F_CPU") | $(orna "$R_CPU") | ≤ 2.5 | $(verdict '<=' "$F_CPU" 2.5) |"
    echo "| CPU per delivery vs relay | $(orna "$F_CPU") | 1.5 × relay = $(orna "$R_CPU_15") | ≤ 1.5 × relay | $(verdict '<=' "$F_CPU" "$R_CPU_15") |"
    echo "| Lost messages | $(orna "$(get fanout lost)") | $(orna "$(get relay lost)") | 0 | $(verdict '==' "$(get fanout lost)" 0) |"
    echo "| Duplicated messages | $(orna "$(get fanout duplicated)") | $(orna "$(get relay duplicated)") | 0 | $(verdict '==' "$(get fanout duplicated)" 0) |"
    echo "| Clients disconnected early | $(orna "$(get fanout disconnected_clients)") | $(orna "$(get relay disconnected_clients)") | 0 | $(verdict '==' "$(get fanout disconnected_clients)" 0) |"
    echo "| Deliveries/s (offered $(orna "$(get fanout offered_deliveries_per_sec)")) | $(orna "$(get fanout deliveries_per_sec)") | $(orna "$(get relay deliveries_per_sec)") | | |"
    echo "| Acked msgs/s | $(orna "$(get fanout acked_msgs_per_sec)") | $(orna "$(get relay acked_msgs_per_sec)") | | |"
    echo "| Latency p50 / p99 / p99.9 / max (µs) | $(get fanout latency_p50_us) / $(get fanout latency_p99_us) / $(get fanout latency_p999_us) / $(get fanout latency_max_us) | $(get relay latency_p50_us) / $(get relay latency_p99_us) / $(get relay latency_p999_us) / $(get relay latency_max_us) | | |"
    echo "| Ack latency p50 / p99 (µs) | $(get fanout ack_latency_p50_us) / $(get fanout ack_latency_p99_us) | (echo) $(get relay ack_latency_p50_us) / $(get relay ack_latency_p99_us) | | |"
    echo "| Server CPU (s) over $(get fanout window_secs) / $(get relay window_secs) s | $(orna "$(get fanout server_cpu_secs)") | $(orna "$(get relay server_cpu_secs)") | | |"
    echo "| Server CPU per message (µs) | $(orna "$(get fanout server_cpu_us_per_msg)") | $(orna "$(get relay server_cpu_us_per_msg)") | | |"
    echo "| Of which kernel (s) | $(orna "$(get fanout server_sys_secs)") | $(orna "$(get relay server_sys_secs)") | | |"
    echo "| Drained within the grace period | $(orna "$(get fanout drained)") | $(orna "$(get relay drained)") | | |"
    echo "| Load generator CPU (s) | $(orna "$(get fanout load_cpu_secs)") | $(orna "$(get relay load_cpu_secs)") | | |"
    echo "| Other programs' CPU during the run (cores) | $(orna "$(get fanout other_cpu_cores)") | $(orna "$(get relay other_cpu_cores)") | ≈ 0 | |"
    echo
    echo "### The same with bigger rooms ($FANOUT_CLIENTS clients, $FANOUT_BIG_ROOMS rooms)"
    echo
    echo "Not a target of its own: it shows how the per-message cost (the"
    echo "commit, the room) spreads when a message has more recipients."
    echo
    echo "| Metric | palaver | relay | palaver / relay |"
    echo "|---|---|---|---|"
    echo "| Server CPU per delivery (µs) | $(orna "$(get fanout_big server_cpu_us_per_delivery)") | $(orna "$(get relay_big server_cpu_us_per_delivery)") | $(orna "$(ratio "$(get fanout_big server_cpu_us_per_delivery)" "$(get relay_big server_cpu_us_per_delivery)")") |"
    echo "| Lost / duplicated messages | $(get fanout_big lost) / $(get fanout_big duplicated) | $(get relay_big lost) / $(get relay_big duplicated) | |"
    echo "| Latency p50 / p99 (µs) | $(get fanout_big latency_p50_us) / $(get fanout_big latency_p99_us) | $(get relay_big latency_p50_us) / $(get relay_big latency_p99_us) | |"
    echo "| Other programs' CPU during the run (cores) | $(orna "$(get fanout_big other_cpu_cores)") | $(orna "$(get relay_big other_cpu_cores)") | |"
    echo
    N_SMALL=$((FANOUT_CLIENTS / FANOUT_ROOMS))
    N_BIG=$((FANOUT_CLIENTS / FANOUT_BIG_ROOMS))
    read -r P_MSG P_DEL <<<"$(split_cost "$F_CPU" "$N_SMALL" "$(get fanout_big server_cpu_us_per_delivery)" "$N_BIG")" || true
    read -r R_MSG R_DEL <<<"$(split_cost "$R_CPU" "$N_SMALL" "$(get relay_big server_cpu_us_per_delivery)" "$N_BIG")" || true
    echo "The two sizes split the CPU per delivery as *d + F / members*: F is"
    echo "what a message costs once (reading it, the commit, the hand-offs"
    echo "between threads), d what each delivery costs (encoding aside, the"
    echo "write to the socket)."
    echo
    echo "| Part | palaver | relay | palaver / relay |"
    echo "|---|---|---|---|"
    echo "| F, per message (µs) | $(orna "${P_MSG:-}") | $(orna "${R_MSG:-}") | $(orna "$(ratio "${P_MSG:-}" "${R_MSG:-}")") |"
    echo "| d, per delivery (µs) | $(orna "${P_DEL:-}") | $(orna "${R_DEL:-}") | $(orna "$(ratio "${P_DEL:-}" "${R_DEL:-}")") |"
    echo

    echo "## Idle connections"
    echo
    echo "| Metric | Measured | Target | Result |"
    echo "|---|---|---|---|"
    echo "| Connections held | $(orna "$I_CONN") (asked $(get idle connections_requested), failed $(orna "$(get idle failed)"), dropped $(orna "$(get idle dropped_by_server)")) | 20,000 | $I_HELD_VERDICT |"
    echo "| Server RSS per idle connection (bytes) | $(orna "$I_PER") | ≤ 4096 | $I_VERDICT |"
    echo "| Server RSS per connection, second half only (bytes) | $(orna "$(get idle rss_bytes_per_connection_second_half)") | ≤ 4096 | $(verdict '<=' "$(get idle rss_bytes_per_connection_second_half)" 4096) |"
    echo "| Server RSS before / at half / with all / after close (bytes) | $(get idle server_rss_before_bytes) / $(get idle server_rss_half_bytes) / $(get idle server_rss_after_bytes) / $(get idle server_rss_after_close_bytes) | | |"
    echo "| Connects/s while opening | $(orna "$(get idle connects_per_sec)") | | |"
    echo "| Other programs' CPU while connecting (cores) | $(orna "$(get idle other_cpu_cores)") | ≈ 0 | |"
    echo "| Server CPU per connect (µs) | $(orna "$(get idle server_cpu_us_per_connect)") | | |"
    echo

    echo "## Persistence ($PERSIST_SENDERS senders, $PERSIST_IN_FLIGHT in flight each, ${PERSIST_SECS} s)"
    echo
    echo "Clients send random UUIDv4 messageIds (as browsers' crypto.randomUUID() makes)"
    echo "unless the row says the server assigned them."
    echo
    echo "| Durability | Acked msgs/s | Ack p50 / p99 (µs) | Errors | Server CPU per msg (µs) | Server CPU (cores) | Other programs (cores) | Target | Result |"
    echo "|---|---|---|---|---|---|---|---|---|"
    P_N="$(get persist_normal acked_msgs_per_sec)"
    P_F="$(get persist_full acked_msgs_per_sec)"
    echo "| normal | $(orna "$P_N") | $(get persist_normal ack_latency_p50_us) / $(get persist_normal ack_latency_p99_us) | $(orna "$(get persist_normal errors)") | $(orna "$(get persist_normal server_cpu_us_per_msg)") | $(orna "$(get persist_normal server_cpu_cores)") | $(orna "$(get persist_normal other_cpu_cores)") | ≥ 100,000/s | $(verdict '>=' "$P_N" 100000) |"
    P_S="$(get persist_normal_srv acked_msgs_per_sec)"
    echo "| normal, server-assigned ids | $(orna "$P_S") | $(get persist_normal_srv ack_latency_p50_us) / $(get persist_normal_srv ack_latency_p99_us) | $(orna "$(get persist_normal_srv errors)") | $(orna "$(get persist_normal_srv server_cpu_us_per_msg)") | $(orna "$(get persist_normal_srv server_cpu_cores)") | $(orna "$(get persist_normal_srv other_cpu_cores)") | ≥ 100,000/s | $(verdict '>=' "$P_S" 100000) |"
    echo "| full | $(orna "$P_F") | $(get persist_full ack_latency_p50_us) / $(get persist_full ack_latency_p99_us) | $(orna "$(get persist_full errors)") | $(orna "$(get persist_full server_cpu_us_per_msg)") | $(orna "$(get persist_full server_cpu_cores)") | $(orna "$(get persist_full other_cpu_cores)") | ≥ 50,000/s | $(verdict '>=' "$P_F" 50000) |"
    echo

    echo "## History ($(orna "$(get history messages)") messages, $HISTORY_CONCURRENCY connections, 50-message pages, ${HISTORY_SECS} s)"
    echo
    H_P99="$(get history latency_p99_us)"
    H_RPS="$(get history requests_per_sec)"
    echo "| Metric | Measured | Target | Result |"
    echo "|---|---|---|---|"
    echo "| Requests/s | $(orna "$H_RPS") | ≥ 15,000 | $(verdict '>=' "$H_RPS" 15000) |"
    echo "| Latency p99 (µs) | $(orna "$H_P99") | < 1000 | $(verdict '<' "$H_P99" 1000) |"
    echo "| Latency p50 / p99.9 / max (µs) | $(get history latency_p50_us) / $(get history latency_p999_us) / $(get history latency_max_us) | | |"
    echo "| Failed requests / wrong page sizes | $(orna "$(get history failed)") / $(orna "$(get history wrong_page_size)") | 0 | $(verdict '==' "$(get history failed)" 0) |"
    echo "| Fill rate over WebSocket (msgs/s) | $(orna "$(get history fill_msgs_per_sec)") | | |"
    echo "| Server CPU per request (µs) / cores | $(orna "$(get history server_cpu_us_per_request)") / $(orna "$(get history server_cpu_cores)") | | |"
    echo "| Load generator CPU (cores) / other programs (cores) | $(orna "$(get history load_cpu_secs)") s / $(orna "$(get history other_cpu_cores)") | | |"
    echo

    echo "## Connection storm ($STORM_CONNECTIONS connections, $STORM_CONCURRENCY at once)"
    echo
    echo "| Metric | Measured | Target | Result |"
    echo "|---|---|---|---|"
    echo "| Setups/s (TCP + upgrade + auth ack) | $(orna "$(get storm setups_per_sec)") | | |"
    echo "| Handshake p50 / p99 / max (µs) | $(get storm handshake_p50_us) / $(get storm handshake_p99_us) / $(get storm handshake_max_us) | | |"
    echo "| Failed setups | $(orna "$(get storm failed)") | 0 | $(verdict '==' "$(get storm failed)" 0) |"
    echo "| Server CPU per setup (µs) | $(orna "$(get storm server_cpu_us_per_setup)") | | |"
    echo "| Other programs' CPU during the run (cores) | $(orna "$(get storm other_cpu_cores)") | ≈ 0 | |"
    echo

    echo "## Protocol check: the auth ack is the first frame on a new socket"
    echo
    echo "| Run | Frames seen before the auth ack | Target | Result |"
    echo "|---|---|---|---|"
    for k in fanout idle persist_normal persist_normal_srv persist_full history storm; do
        v="$(get "$k" frames_before_auth_ack)"
        echo "| $k | $(orna "$v") | 0 | $(verdict '==' "$v" 0) |"
    done
    echo

    # What profiling found: kept by hand, next to the numbers it explains.
    if [[ -f bench/findings.md ]]; then
        cat bench/findings.md
        echo
    fi

    echo "## Raw results"
    echo
    echo "One JSON line per run, as printed by palaver-load."
    echo
    echo '```json'
    for k in fanout relay idle persist_normal persist_normal_srv persist_full history storm; do
        [[ -n "${RESULT[$k]:-}" ]] && echo "${RESULT[$k]}"
    done
    echo '```'
    echo
    echo "Load users (logins \`load<unix_ms>x<n>\`) are left in each temporary"
    echo "database: the API cannot delete users yet. Rooms are deleted and"
    echo "sessions logged out at the end of each run."
} >"$OUT"

log "wrote $OUT"
cat "$OUT"
if ((${#FAILED_RUNS[@]} > 0)); then
    log "some runs failed: ${FAILED_RUNS[*]}"
    exit 1
fi

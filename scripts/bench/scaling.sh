#!/bin/bash
# How oscar scales with cores: `oscar batch` reviews/s and `oscar serve` + `oscar loadtest`
# reviews/s, p99 and server CPU per review at 1, 2, 4, 8 and 16 threads.
#
#   scripts/bench/scaling.sh path/to/release/oscar > scaling.jsonl
#
# Needs only the binary, this repository's files (`examples/`, `tests/cases/` for the load
# mix) and a plain Linux userland (bash, coreutils, awk; `taskset` and `lscpu` are used
# where present): no cargo, no network, no Python. Prints one JSON object a line: the
# machine, the generated input, then one line per measurement. Each run at N threads is
# pinned to cores 0..N-1 with `taskset` where the machine has N cores (`"pinned": true`),
# so N is the number of cores it may use, not only its thread count; the load generator
# runs on the other cores (all of them at the largest N, where it shares the server's).
#
# Settings (environment): THREADS="1 2 4 8 16", COUNT=20000 generated applications,
# SEED=20261129, DURATION=10 s per load run after WARMUP=2 s, CONCURRENCY=64 clients,
# PORT=18190 (+ the thread count), LEDGER_SYNC=normal, WORK=a new temporary directory
# (removed at the end unless given).
# On 16 cores the whole run takes about 2 minutes: gen ~5 s, the five batch runs ~35 s, the
# five load runs ~15 s each (scaled from runs here at 1 and 2 threads on a debug build).
set -euo pipefail

oscar=$(realpath "${1:?usage: $0 path/to/oscar}")
cd "$(dirname "$0")/../.."
threads=${THREADS:-1 2 4 8 16}
count=${COUNT:-20000}
seed=${SEED:-20261129}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
concurrency=${CONCURRENCY:-64}
port=${PORT:-18190}
sync=${LEDGER_SYNC:-normal}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
server=
cleanup() {
    [ -z "$server" ] || kill -TERM "$server" 2>/dev/null || true
    [ -n "${WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
# oscar re-runs itself with this set anyway; set here, a pid stays the server's own.
export RAYON_NUM_THREADS=1 RUST_LOG=warn

cores=$(nproc)
started=$(date +%s)

# The command prefix that pins to cores FROM..TO, or nothing (no taskset, or too few cores).
pin() {
    if [ "$2" -lt "$cores" ] && command -v taskset >/dev/null; then
        echo "taskset -c $1-$2"
    fi
}

# Seconds since the epoch with nanoseconds.
now() { date +%s.%N; }

# `"steal": PERCENT` of all CPU time between two readings of /proc/stat's cpu line.
cpu_line() { head -1 /proc/stat; }
steal() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); total = 0
        for (i = 2; i <= n; i++) total += y[i] - x[i]
        printf "%.1f", (total > 0 ? 100 * (y[9] - x[9]) / total : 0) }'
}

# The number after `"KEY":` in a JSON text.
field() { sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" | head -1; }

model=$({ lscpu 2>/dev/null || true; } | sed -n 's/^Model name: *//p' | head -1)
[ -n "$model" ] || model=$(sed -n 's/^model name\s*: *//p' /proc/cpuinfo | head -1)
version=$("$oscar" --version)
printf '{"kind":"machine","cpu":"%s","cores":%s,"oscar":"%s","date":"%s"}\n' \
    "$model" "$cores" "$version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

t0=$(now)
"$oscar" gen --count "$count" --seed "$seed" --out "$work/apps.jsonl"
printf '{"kind":"gen","applications":%s,"seed":%s,"seconds":%s,"bytes":%s}\n' \
    "$count" "$seed" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')" \
    "$(wc -c <"$work/apps.jsonl")"

first_sum=
for n in $threads; do
    out="$work/batch-$n.jsonl"
    rm -f "$out"
    prefix=$(pin 0 $((n - 1)))
    before=$(cpu_line)
    status=0
    summary=$($prefix "$oscar" batch "$work/apps.jsonl" --out "$out" --threads "$n" 2>"$work/batch.log") || status=$?
    # Exit 2 (some lines not reviewable) is a result, not a failure.
    if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
        cat "$work/batch.log" >&2
        exit 1
    fi
    line=$(echo "$summary" | grep '^reviewed ')
    sum=$(cksum <"$out" | cut -d' ' -f1)
    first_sum=${first_sum:-$sum}
    printf '{"kind":"batch","threads":%s,"pinned":%s,"applications":%s,"seconds":%s,"reviews_per_s":%s,"same_output_as_first":%s,"steal_pct":%s}\n' \
        "$n" "$([ -n "$prefix" ] && echo true || echo false)" \
        "$(echo "$line" | sed 's/^reviewed \([0-9]*\) .*/\1/')" \
        "$(echo "$line" | sed 's/.* in \([0-9.]*\) s:.*/\1/')" \
        "$(echo "$line" | sed 's/.*: \([0-9]*\) reviews\/s.*/\1/')" \
        "$([ "$sum" = "$first_sum" ] && echo true || echo false)" "$(steal "$before" "$(cpu_line)")"
    rm -f "$out"
done

load() { $client_pin "$oscar" loadtest --url "http://127.0.0.1:$port" --concurrency "$concurrency" --duration "$1" --json; }
base_port=$port
for n in $threads; do
    # A port of its own: the last run's may still be closing.
    port=$((base_port + n))
    ledger="$work/ledger-$n.sqlite"
    rm -f "$ledger"*
    "$oscar" ledger init --ledger "$ledger" >/dev/null
    server_pin=$(pin 0 $((n - 1)))
    client_pin=$([ "$n" -lt "$cores" ] && pin "$n" $((cores - 1)) || true)
    TOKIO_WORKER_THREADS=$n $server_pin "$oscar" serve --no-auth --trust-submitted-at \
        --addr "127.0.0.1:$port" --ledger "$ledger" --ledger-sync "$sync" --review-threads "$n" \
        >"$work/serve-$n.log" 2>&1 &
    server=$!
    for _ in $(seq 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$server" 2>/dev/null || { cat "$work/serve-$n.log" >&2; exit 1; }
        sleep 0.1
    done
    load "$warmup" >/dev/null
    ticks_before=$(awk '{ print $14 + $15 }' "/proc/$server/stat")
    before=$(cpu_line)
    report=$(load "$duration")
    ticks=$(($(awk '{ print $14 + $15 }' "/proc/$server/stat") - ticks_before))
    steal_pct=$(steal "$before" "$(cpu_line)")
    kill -TERM "$server"
    wait "$server" || true
    server=
    rate=$(echo "$report" | field reviews_per_s)
    seconds=$(echo "$report" | field seconds)
    printf '{"kind":"serve","threads":%s,"pinned":%s,"client_pinned":%s,"clients":%s,"seconds":%s,"reviews_per_s":%s,"p50_ms":%s,"p99_ms":%s,"transport_errors":%s,"server_cpu_us_per_review":%s,"steal_pct":%s}\n' \
        "$n" "$([ -n "$server_pin" ] && echo true || echo false)" "$([ -n "$client_pin" ] && echo true || echo false)" \
        "$concurrency" "$seconds" "$rate" "$(echo "$report" | field p50_ms)" "$(echo "$report" | field p99_ms)" \
        "$(echo "$report" | field transport_errors)" \
        "$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" -v r="$rate" -v s="$seconds" \
            'BEGIN { printf "%.0f", (r * s > 0 ? 1e6 * t / hz / (r * s) : 0) }')" "$steal_pct"
done
printf '{"kind":"done","seconds":%s}\n' $(($(date +%s) - started))

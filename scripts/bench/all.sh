#!/bin/bash
# One benchmark command: every figure with its same-run baseline, the machine it ran on, a
# JSON file and the README's table.
#
#   scripts/bench/all.sh            # from the repository root or anywhere in it
#
# Runs, in order (release builds, `RAYON_NUM_THREADS=1` for the criterion benches):
#   1. the scale-test network (scripts/bench/scale_network.py; needs Python with `osmium`,
#      installed with pip if missing; skipped, with the largest real extract used instead,
#      where that fails): its import time, peak memory and file size;
#   2. criterion: benches/review.rs (a review against deserialising alone), benches/recheck.rs
#      (a new restriction against 250,000 approved permits, against the full scan),
#      benches/long_routes.rs (matching and full review of 10, 100 and 500 km routes, against a
#      1.4 km Helsinki route);
#   3. scripts/bench/scaling.sh at 1 thread and at every core: batch reviews/s against the
#      number of threads, and `oscar serve` + `oscar loadtest` reviews/s, p99 and server CPU
#      per request; beside it the CPU per review of `oscar batch --threads 1` on the same mix
#      (scripts/bench/mix_jsonl.py), the service overhead being the difference.
# Steal time (/proc/stat) is recorded over the whole run and for each load run.
#
# Writes OUT/bench.json and OUT/table.md (OUT=target/bench-all unless set) and puts the table
# into README.md between the `bench-all` markers. Settings (environment): OUT, MEASURE=3
# seconds a criterion bench, COUNT=4000 batch applications, DURATION=10 s a load run,
# README=0 to leave README.md alone, REPORT_ONLY=1 to write the file and table again from OUT.
# From a fresh clone: 26 minutes on a 2-core machine with little else running, an hour under a
# load average of 8 (the release builds, fat LTO, take most of it).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-target/bench-all}
measure=${MEASURE:-3}
mkdir -p "$out"
out=$(realpath "$out")
cpu_line() { head -1 /proc/stat; }
started_cpu=$(cpu_line)
started_load=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)

# REPORT_ONLY=1: only write the JSON file and the table again from OUT's last run.
if [ -z "${REPORT_ONLY:-}" ]; then
echo "== builds" >&2
cargo build --release >&2
cargo bench --no-run --bench review --bench recheck --bench long_routes >&2

echo "== scale-test network" >&2
scale="$out/scale-net"
rm -rf "$scale" "$out/import.txt"
if python3 -c 'import osmium' 2>/dev/null || pip install -q osmium==4.3.2 >&2; then
    python3 scripts/bench/scale_network.py "$out/scale.osm.pbf" 2>"$out/scale-network.txt"
    /usr/bin/time -v target/release/oscar import-osm "$out/scale.osm.pbf" --out "$scale" >/dev/null 2>"$out/import.txt"
    export OSCAR_SCALE_NETWORK="$scale"
else
    echo "no osmium: long routes on the largest real extract instead" >&2
fi

echo "== criterion" >&2
rm -rf target/criterion
RAYON_NUM_THREADS=1 cargo bench --bench review --bench recheck --bench long_routes -- \
    --warm-up-time 1 --measurement-time "$measure" --noplot 2>"$out/criterion.log" >&2

echo "== batch and service" >&2
THREADS="1 $(nproc)" COUNT=${COUNT:-4000} DURATION=${DURATION:-10} \
    scripts/bench/scaling.sh target/release/oscar >"$out/scaling.jsonl"
# The same mix in-process: CPU seconds (user + system) of one batch thread.
python3 scripts/bench/mix_jsonl.py 150 >"$out/mix.jsonl"
rm -f "$out/mix-reviews.jsonl"
RAYON_NUM_THREADS=1 /usr/bin/time -f "cpu_s %U %S" target/release/oscar batch "$out/mix.jsonl" \
    --out "$out/mix-reviews.jsonl" --threads 1 >"$out/mix.txt" 2>&1 || true
fi

python3 - "$out" "$started_cpu" "$(cpu_line)" "$(($(date +%s) - started))" "${README:-1}" \
    "${started_load:-}" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import glob, json, os, re, subprocess, sys

out, cpu0, cpu1, seconds, readme = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] != "0"
# Load averages (1, 5, 15 min) at the start and the end: other work on the machine shows here, not in steal.
load = {"start": sys.argv[6], "end": sys.argv[7]}
a, b = [list(map(int, l.split()[1:])) for l in (cpu0, cpu1)]
total = sum(y - x for x, y in zip(a, b))
steal = 100.0 * (b[7] - a[7]) / total if total else 0.0
lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = re.search(r"Model name:\s*(.*)", lscpu)
machine = {"cpu": model.group(1).strip() if model else "unknown", "cores": os.cpu_count(),
           "steal_pct": round(steal, 1), "seconds": seconds, "load_average": load,
           "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()}

benches = {}
for path in glob.glob("target/criterion/**/new/benchmark.json", recursive=True):
    meta = json.load(open(path))
    est = json.load(open(os.path.join(os.path.dirname(path), "estimates.json")))
    benches[meta["full_id"]] = est["median"]["point_estimate"] / 1e3  # µs
log = open(os.path.join(out, "criterion.log")).read()
printed = [l for l in log.splitlines() if re.match(r"(helsinki|heidelberg|scale test|baseline|loadtest mix)", l)]
mix_text = open(os.path.join(out, "mix.txt")).read()
mix_n = int(re.search(r"reviewed (\d+) applications", mix_text).group(1))
cpu = re.search(r"cpu_s ([\d.]+) ([\d.]+)", mix_text)

def find(pattern):
    return {k: v for k, v in sorted(benches.items()) if re.search(pattern, k)}

imp = {}
text = open(os.path.join(out, "import.txt")).read() if os.path.exists(os.path.join(out, "import.txt")) else ""
if text:
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
    imp = {"seconds": round((int(wall.group(1) or 0) * 60 + int(wall.group(2))) * 60 + float(wall.group(3)), 2)
           if wall.group(1) else round(int(wall.group(2)) * 60 + float(wall.group(3)), 2),
           "peak_mib": round(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024, 1),
           "pbf_mib": round(os.path.getsize(os.path.join(out, "scale.osm.pbf")) / 2**20, 1),
           "network_mib": round(os.path.getsize(os.path.join(out, "scale-net", "network.bin")) / 2**20, 1)}

scaling = [json.loads(l) for l in open(os.path.join(out, "scaling.jsonl"))]
batch = [s for s in scaling if s["kind"] == "batch"]
serve = [s for s in scaling if s["kind"] == "serve"]
per_review = 1e6 * (float(cpu.group(1)) + float(cpu.group(2))) / mix_n if cpu and mix_n else None
for s in serve:
    s["in_process_us_per_review"] = round(per_review, 1) if per_review else None
    s["service_overhead_x"] = round(s["server_cpu_us_per_review"] / per_review - 1, 2) if per_review else None

result = {"machine": machine, "criterion_us": benches, "printed": printed, "scale_import": imp,
          "batch": batch, "serve": serve}
json.dump(result, open(os.path.join(out, "bench.json"), "w"), indent=1)

def us(v):
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.1f} µs"

if os.environ.get("REPORT_ONLY"):
    machine["steal_pct"] = None  # this run only wrote the report
    how = "assembled from the outputs in target/bench-all (`REPORT_ONLY=1 scripts/bench/all.sh`)"
else:
    how = (f"steal {machine['steal_pct']} % over the run ({seconds} s), load average {load['start']} at the start and "
           f"{load['end']} at the end")
rows = [f"Machine: {machine['cpu']}, {machine['cores']} cores; {how}; commit `{machine['commit']}`; medians, "
        "batch and HTTP steal in bench.json.", "",
        "| what | figure | same-run baseline |", "|---|---:|---:|"]
def row(what, value, base):
    rows.append(f"| {what} | {value} | {base} |")
r = find(r"^review/")
if r:
    row("full review with map matching and model, 0.4 km Helsinki example",
        us(find(r"review/.*matching").popitem()[1]) if find(r"review/.*matching") else "-",
        "deserialise: " + us(find(r"review/baseline").popitem()[1]) if find(r"review/baseline") else "-")
if per_review:
    row(f"in-process review of the load mix, CPU per review (`oscar batch --threads 1`, {mix_n} applications)",
        us(per_review), "-")
def recheck(what, net):
    """The re-check bench `what` (benches/recheck.rs) on network `net`: (id, µs) or None."""
    return next(iter(find(r"^re-check a new restriction/" + what + r".*/" + re.escape(net) + "$").items()), None)
def scan_figure(key, value):
    n = int(re.search(r"full scan, (\d+)", key).group(1))
    return f"full scan of {n:,}: {us(value)} (×{250_000 // n} for 250,000)"
for k, v in find(r"^re-check a new restriction/R-tree of approved routes").items():
    net = k.rsplit("/", 1)[1]
    query, rematched, scan = (recheck(w, net) for w in ("R-tree query alone", "baseline: candidates matched again",
                                                         "baseline: full scan"))
    base = ([f"candidates matched again: {us(rematched[1])}"] if rematched else []) + ([scan_figure(*scan)] if scan else [])
    row(f"new restriction, 250,000 approved permits, {net}: R-tree query + decision from the kept paths",
        us(v) + (f" (query {us(query[1])})" if query else ""), "; ".join(base) or "-")
base_match = find(r"long routes/match/.*baseline")
base_review = find(r"long routes/full review/.*baseline")
def by_km(found):
    return sorted(found.items(), key=lambda kv: float(re.search(r"/([\d.]+) km", kv[0]).group(1)))
for k, v in by_km(find(r"long routes/match/")):
    if "baseline" in k:
        continue
    km = float(re.search(r"/([\d.]+) km", k).group(1))
    row(f"match {km:.1f} km ({k.split(', ', 1)[1]})", f"{us(v)} ({v / km:.1f} µs/km)",
        ("1.4 km Helsinki: " + us(next(iter(base_match.values())))) if base_match else "-")
for k, v in by_km(find(r"long routes/full review/")):
    if "baseline" in k:
        continue
    km = float(re.search(r"/([\d.]+) km", k).group(1))
    row(f"full review {km:.1f} km", us(v), ("1.4 km Helsinki: " + us(next(iter(base_review.values())))) if base_review else "-")
stages = ["parse + validate", "registry", "matching", "model", "items and decision"]
labels = sorted({k.split("/", 2)[2] for k in find(r"^long routes/stage ")},
                key=lambda l: float(re.search(r"([\d.]+) km", l).group(1)))
for label in labels:
    got = [(s, find(r"^long routes/stage " + re.escape(s) + "/" + re.escape(label) + "$")) for s in stages]
    parts = [f"{s} {us(next(iter(v.values())))}" for s, v in got if v]
    full = find(r"^long routes/full review/" + re.escape(label) + "$")
    row(f"review by stage, {label}", "; ".join(parts), ("full review: " + us(next(iter(full.values())))) if full else "-")
if imp:
    row("import of the scale-test network", f"{imp['seconds']} s, peak {imp['peak_mib']} MiB",
        f"{imp['pbf_mib']} MiB .osm.pbf → {imp['network_mib']} MiB network")
b1 = next((b for b in batch if b["threads"] == 1), None)
for b in batch:
    row(f"batch, {b['threads']} thread(s), {b['applications']} applications", f"{b['reviews_per_s']} reviews/s",
        f"1 thread: {b1['reviews_per_s']} reviews/s" if b1 else "-")
for s in serve:
    row(f"HTTP, {s['threads']} thread(s), {s['clients']} clients",
        f"{s['reviews_per_s']:.0f} reviews/s, p99 {s['p99_ms']:.1f} ms, server CPU {s['server_cpu_us_per_review']} µs/request",
        f"in-process {s['in_process_us_per_review']} µs/review: overhead {s['service_overhead_x']}×")
table = "\n".join(rows) + "\n"
open(os.path.join(out, "table.md"), "w").write(table)
print(table)
if readme:
    text = open("README.md").read()
    begin, end = "<!-- bench-all:begin -->\n", "<!-- bench-all:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + begin + table + end + rest.split(end, 1)[1]
        open("README.md", "w").write(text)
PY

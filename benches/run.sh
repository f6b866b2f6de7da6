#!/usr/bin/env bash
# End-to-end benchmark: generates large rosters with `hhrisk simulate`,
# scores them, calibrates on 100,000 households, and prints wall time,
# throughput, peak memory and the ratio to the csv-read floor (the csv crate
# alone reading the same two files record by record).
#
#   benches/run.sh            # 10k, 100k and 1M households
#   benches/run.sh --huge     # also 10M households (about 4 GB of CSV)
#
# Rosters go to $HHRISK_BENCH_DIR (default: a folder under the system's
# temporary directory); they are reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p hhrisk-cli >/dev/null 2>&1
bin=target/release/hhrisk
model=indicators/xiaochang.toml
dir=${HHRISK_BENCH_DIR:-${TMPDIR:-/tmp}/hhrisk-bench}
sizes=(10000 100000 1000000)
[ "${1:-}" = "--huge" ] && sizes+=(10000000)
mkdir -p "$dir"

# run LABEL HOUSEHOLDS FLOOR COMMAND...: one line of the table
run() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
label, households, floor, *cmd = sys.argv[1:]
start = time.perf_counter()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
n = int(households)
ratio = f"{wall / float(floor):5.2f}" if floor != "-" else "    -"
print(f"{label:<28} {n:>10,} {wall:8.2f} {n / wall:>12,.0f} {rss:9.0f} {floor:>7} {ratio}")
PY
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
printf '%-28s %10s %8s %12s %9s %7s %5s\n' task households wall_s households/s rss_MB floor_s ratio
for n in "${sizes[@]}"; do
  roster="$dir/flat_$n"
  if [ ! -f "$roster/members.csv" ]; then
    run "simulate" "$n" - "$bin" simulate --out "$roster" --households "$n" --flat
  fi
  "$bin" csv-floor --roster "$roster" >/dev/null   # warm the page cache
  floor=$("$bin" csv-floor --roster "$roster" | awk '{print $3}')
  run "score" "$n" "$floor" "$bin" score --model "$model" --roster "$roster" --out "$dir/scores_$n.csv"
done
run "calibrate (LOVO, 1000 boot.)" 100000 - "$bin" calibrate --model "$model" --samples "$dir/flat_100000" --out "$dir/calibration"

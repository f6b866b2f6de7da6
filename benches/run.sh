#!/usr/bin/env bash
# End-to-end benchmark: generates large rosters with `hhrisk simulate`,
# scores them, calibrates and fits points on 100,000 households, and prints wall time,
# throughput, peak memory and the ratio to the csv-read floor (the csv crate
# alone reading the same two files record by record, on one thread).
#
#   benches/run.sh            # 10k, 100k and 1M households
#   benches/run.sh --huge     # also 10M households (about 4 GB of CSV)
#
# Each timing is the best of $HHRISK_BENCH_REPEAT runs (default 3; 1 for
# 10M; 5 and 2 times as many at 10k and 100k, which take milliseconds),
# the floor too, measured just before: machines shared with other
# work vary from run to run, and the best run is the one least disturbed.
# Rosters go to $HHRISK_BENCH_DIR (default: a folder under the system's
# temporary directory); they are reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p hhrisk-cli >/dev/null 2>&1
bin=target/release/hhrisk
model=indicators/xiaochang.toml
dir=${HHRISK_BENCH_DIR:-${TMPDIR:-/tmp}/hhrisk-bench}
repeat=${HHRISK_BENCH_REPEAT:-3}
sizes=(10000 100000 1000000)
[ "${1:-}" = "--huge" ] && sizes+=(10000000)
mkdir -p "$dir"

# run LABEL HOUSEHOLDS FLOOR REPEAT COMMAND...: one line of the table (the
# best wall time of REPEAT runs, the largest peak memory)
run() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
label, households, floor, repeat, *cmd = sys.argv[1:]
best, rss = None, 0
for _ in range(int(repeat)):
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{label}: failed: {' '.join(cmd)}")
    best = wall if best is None else min(best, wall)
    rss = max(rss, usage.ru_maxrss / 1024)
n = int(households)
ratio = f"{best / float(floor):5.2f}" if floor != "-" else "    -"
print(f"{label:<30} {n:>10,} {best:8.2f} {n / best:>12,.0f} {rss:9.0f} {floor:>7} {ratio}", flush=True)
PY
}

# inside HOUSEHOLDS REPEAT COMMAND...: the best time of the households part
# of a `score --timings` run (read, check, score, write), timed inside the
# process, with what it takes a household: the scaling without process
# start, model loading and the final sync
inside() {
  python3 - "$@" <<'PY'
import re, subprocess, sys
households, repeat, *cmd = sys.argv[1:]
best = None
for _ in range(int(repeat)):
    err = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True).stderr
    ms = float(re.search(r"written ([0-9.]+) ms", err).group(1))
    best = ms if best is None else min(best, ms)
n = int(households)
print(f"{'  households part, inside':<30} {n:>10,} {best / 1000:8.3f} {n / best * 1000:>12,.0f}   ({best * 1000 / n:.3f} µs a household)", flush=True)
PY
}

# scaling SMALL LARGE CYCLES: the households part per household at 10k
# against 1M, measured in turn (ten 10k runs and two 1M runs a cycle, the
# best of each), so that both sizes see the same load on the machine; a
# round of `inside` lines above can catch one size in a busy spell
scaling() {
  python3 - "$@" <<'PY'
import re, statistics, subprocess, sys
small, large, cycles, *cmd = sys.argv[1:]
def inside(roster):
    err = subprocess.run([*cmd, "--roster", roster], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True).stderr
    return float(re.search(r"written ([0-9.]+) ms", err).group(1))
above = []
for _ in range(int(cycles)):
    a = min(inside(small) for _ in range(10)) / 10_000
    b = min(inside(large) for _ in range(2)) / 1_000_000
    above.append(100 * (a / b - 1))
each = ", ".join(f"{x:+.1f}" for x in above)
print(f"scaling: 10k households take {statistics.median(above):+.1f} % a household against 1M (median of {cycles} cycles: {each})", flush=True)
PY
}

# floor ROSTER REPEAT: the best csv-read time
floor() {
  local best=""
  for _ in $(seq "$2"); do
    t=$("$bin" csv-floor --roster "$1" | awk '{print $3}')
    best=$(python3 -c "print(min(float('$t'), float('${best:-$t}')))")
  done
  printf '%.3f' "$best"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
printf '%-30s %10s %8s %12s %9s %7s %5s\n' task households wall_s households/s rss_MB floor_s ratio
for n in "${sizes[@]}"; do
  roster="$dir/flat_$n"
  times=$repeat
  [ "$n" -ge 10000000 ] && times=1
  # a short run is disturbed by a moment's load: more runs for the best
  [ "$n" -le 10000 ] && times=$((repeat * 5))
  [ "$n" -gt 10000 ] && [ "$n" -le 100000 ] && times=$((repeat * 2))
  if [ ! -f "$roster/members.csv" ]; then
    run "simulate" "$n" - 1 "$bin" simulate --out "$roster" --households "$n" --flat
  fi
  "$bin" csv-floor --roster "$roster" >/dev/null   # warm the page cache
  f=$(floor "$roster" "$times")
  run "score" "$n" "$f" "$times" "$bin" score --model "$model" --roster "$roster" --out "$dir/scores_$n.csv"
  inside "$n" "$((times * 2))" "$bin" score --timings --model "$model" --roster "$roster" --out "$dir/scores_$n.csv"
  if [ "$n" -eq 1000000 ]; then
    run "score --threads 1" "$n" "$f" "$times" "$bin" score --threads 1 --model "$model" --roster "$roster" \
      --out "$dir/scores_${n}_1.csv"
    cmp -s "$dir/scores_$n.csv" "$dir/scores_${n}_1.csv" || { echo "threads changed the scores" >&2; exit 1; }
  fi
  if [ "$n" -ge 10000000 ]; then
    run "score --skip-duplicate-check" "$n" "$f" 1 "$bin" score --skip-duplicate-check --model "$model" \
      --roster "$roster" --out "$dir/scores_$n.csv"
  fi
  if [ "$n" -ge 1000000 ]; then
    # members.csv shuffled (exports sorted by person or village): the rows
    # are put in household order first; the same scores, byte for byte
    shuffled="$dir/shuffled_$n"
    if [ ! -f "$shuffled/members.csv" ]; then
      mkdir -p "$shuffled"
      cp "$roster/households.csv" "$shuffled/"
      { head -1 "$roster/members.csv"; tail -n +2 "$roster/members.csv" | shuf --random-source=<(yes); } \
        > "$shuffled/members.csv"
    fi
    run "score, members shuffled" "$n" "$f" "$times" "$bin" score --model "$model" --roster "$shuffled" \
      --out "$dir/scores_${n}_shuffled.csv"
    cmp -s "$dir/scores_$n.csv" "$dir/scores_${n}_shuffled.csv" || { echo "member order changed the scores" >&2; exit 1; }
  fi
done
run "calibrate (LOVO, 1000 boot.)" 100000 - "$repeat" "$bin" calibrate --model "$model" \
  --samples "$dir/flat_100000" --out "$dir/calibration"
run "calibrate --tune" 100000 - "$repeat" "$bin" calibrate --tune --model "$model" \
  --samples "$dir/flat_100000" --out "$dir/calibration_tuned"
run "fit (nested LOVO)" 100000 - "$repeat" "$bin" fit --model "$model" \
  --samples "$dir/flat_100000" --out "$dir/fitted/fitted.toml"
run "fit --normalise auto" 100000 - 1 "$bin" fit --normalise auto --model "$model" \
  --samples "$dir/flat_100000" --out "$dir/fitted/auto.toml"
scaling "$dir/flat_10000" "$dir/flat_1000000" 6 "$bin" score --timings --model "$model" --out "$dir/scores_scaling.csv"

#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 30) each, from the committed seeds in
# fuzz/corpus/<target>/ (read only) into a working corpus under fuzz/target/corpus/<target>/,
# and prints one line per target: executions, seconds, corpus size, crashes. Artifacts of a
# crash land in fuzz/artifacts/<target>/; the script exits non-zero if any target crashed.
#   FUZZ_SECONDS=300 fuzz/run.sh            every target for five minutes
#   fuzz/run.sh verify apigw_v2             only these (verify and normalize cover every provider)
# No sanitizer (-s none): the code under test is safe Rust, so AddressSanitizer finds nothing
# libFuzzer's panic detection does not, and costs build time and executions.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-30}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-+nightly}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo $TOOLCHAIN fuzz list)
fi
cargo $TOOLCHAIN fuzz build -s none || exit 2
# The working corpus of a target that takes every provider, counted by provider (the first
# byte of each input; names from `scribehook providers` when the binary is built).
by_provider() {
  python3 - "$1" "${CARGO_TARGET_DIR:-target}/debug/scribehook" <<'PYEOF'
import collections, json, pathlib, subprocess, sys
corpus, binary = pathlib.Path(sys.argv[1]), sys.argv[2]
try:
    out = subprocess.run([binary, "providers"], capture_output=True, check=True, text=True).stdout
    names = [json.loads(line)["name"] for line in out.splitlines()]
except (OSError, subprocess.CalledProcessError):
    names = []
counts = collections.Counter()
for f in corpus.iterdir():
    data = f.read_bytes()
    if data:
        counts[names[data[0] % len(names)] if names else f"#{data[0]}"] += 1
print("    corpus by provider: " + ", ".join(f"{n} {counts[n]}" for n in (names or sorted(counts))))
PYEOF
}

mkdir -p fuzz/target/logs
summary=fuzz/target/summary.txt
: > "$summary"
failed=0
printf '%-22s %12s %8s %8s %8s\n' target executions seconds corpus crashes | tee -a "$summary"
for t in "${targets[@]}"; do
  mkdir -p "fuzz/target/corpus/$t" "fuzz/corpus/$t"
  log="fuzz/target/logs/$t.log"
  started=$(date +%s)
  cargo $TOOLCHAIN fuzz run -s none "$t" "fuzz/target/corpus/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - started ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(ls "fuzz/target/corpus/$t" | wc -l)
  crashes=0
  if [ $rc -ne 0 ]; then crashes=1; failed=1; fi
  printf '%-22s %12s %8s %8s %8s\n' "$t" "${execs:-?}" "$elapsed" "$corpus" "$crashes" | tee -a "$summary"
  if [[ $t == verify || $t == normalize ]]; then
    by_provider "fuzz/target/corpus/$t" | tee -a "$summary"
  fi
  if [ $rc -ne 0 ]; then
    grep -m3 -E 'panicked|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
  fi
done
echo "(logs: fuzz/target/logs/, summary: $summary)"
exit $failed

#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 30) each, from the committed seeds in
# fuzz/corpus/<target>/ (read only) into a working corpus under fuzz/target/corpus/<target>/,
# and prints one line per target: executions, seconds, corpus size, crashes. Artifacts of a
# crash land in fuzz/artifacts/<target>/; the script exits non-zero if any target crashed.
#   FUZZ_SECONDS=300 fuzz/run.sh            every target for five minutes
#   fuzz/run.sh verify_prosa apigw_v2       only these
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
  if [ $rc -ne 0 ]; then
    grep -m3 -E 'panicked|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
  fi
done
echo "(logs: fuzz/target/logs/, summary: $summary)"
exit $failed

#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, in a build folder of their own (build-fuzz, beside
# the main build), and runs each target for a bounded time from its seed corpus
# (fuzz/corpus/<target>/). Fails on the first crash, sanitizer report, leak,
# timeout or broken property, naming the target and the input that did it
# (build-fuzz/artifacts/); that input goes into the target's corpus once the
# defect is fixed, with a unit test of its own.
#
#   fuzz/run.sh                      every target, SAMPLAN_FUZZ_SECONDS (20) each
#   fuzz/run.sh fuzz_token           one target
#   SAMPLAN_FUZZ_SECONDS=600 fuzz/run.sh fuzz_page_token   a longer hunt
#
# New inputs a run finds stay in the build folder; the repository's corpus only
# changes by hand.
set -euo pipefail
source "$(dirname "$0")/../deploy/local/common.sh"

FUZZ_DIR="${SAMPLAN_FUZZ_BUILD_DIR:-$BUILD_DIR-fuzz}"
SECONDS_EACH="${SAMPLAN_FUZZ_SECONDS:-20}"

log "building the fuzz targets in $FUZZ_DIR"
cmake -S "$ROOT" -B "$FUZZ_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER=clang++ -DSAMPLAN_FUZZ=ON >/dev/null
cmake --build "$FUZZ_DIR"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for corpus in "$ROOT"/fuzz/corpus/*/; do targets+=("$(basename "$corpus")"); done
fi

mkdir -p "$FUZZ_DIR/artifacts"
# Leaks are reported by the sanitizer at exit; UBSan's reports stop the run
# (the targets are built with -fno-sanitize-recover).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for target in "${targets[@]}"; do
  binary="$FUZZ_DIR/fuzz/$target"
  [ -x "$binary" ] || die "no fuzz target $target (fuzz/CMakeLists.txt)"
  found="$FUZZ_DIR/found/$target"
  mkdir -p "$found"
  log "fuzzing $target for ${SECONDS_EACH}s"
  if ! "$binary" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$FUZZ_DIR/artifacts/$target-" \
      "$found" "$ROOT/fuzz/corpus/$target" >"$FUZZ_DIR/$target.log" 2>&1; then
    tail -n 60 "$FUZZ_DIR/$target.log" >&2
    failed+=("$target")
    continue
  fi
  grep -E '^stat::number_of_executed_units' "$FUZZ_DIR/$target.log" | sed "s/^/  $target /" >&2 || true
done

if [ "${#failed[@]}" -gt 0 ]; then
  die "fuzzing found crashes in: ${failed[*]} (inputs in $FUZZ_DIR/artifacts/)"
fi
log "fuzzing: no crashes in ${#targets[@]} targets"

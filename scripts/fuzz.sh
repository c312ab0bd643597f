#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, -sanitize=fuzzer,address) of Flatline's parsers of untrusted
# bytes. Targets live in Fuzz/ (a package of its own: one LLVMFuzzerTestOneInput each); seed
# corpora in Fuzz/Corpus/TARGET (committed); what a run learns goes to .build/fuzz/corpus/TARGET,
# findings to .build/fuzz/findings/ (a finding fails the run and names its reproducer).
#   scripts/fuzz.sh --list
#   scripts/fuzz.sh TARGET SECONDS        # one target
#   scripts/fuzz.sh all SECONDS [JOBS]    # every target, SECONDS each, JOBS at a time (default 1)
#   scripts/fuzz.sh --reproduce TARGET FILE
# FUZZ_CONFIG=release: optimised targets (the stream tracker runs about 50 times faster; edges are
# counted after inlining, so their figures are not comparable with a debug build's). The test
# command's short slice stays in debug (a release build of the six targets takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(scenario duration recording stream-tracker pcap control-api)
product() {  # target name → product
    case "$1" in
        scenario) echo FuzzScenario ;; duration) echo FuzzDuration ;; recording) echo FuzzRecording ;;
        stream-tracker) echo FuzzStreamTracker ;; pcap) echo FuzzPcap ;; control-api) echo FuzzControlAPI ;;
        *) echo "fuzz: unknown target '$1' (one of: ${targets[*]})" >&2; exit 2 ;;
    esac
}
# swiftc keeps only the last of several -sanitize= flags (`-sanitize=fuzzer -sanitize=address` is
# address alone: no coverage counters in any Swift code), and SwiftPM's --sanitize passes one flag
# each; the C code (clang) gets both. So the Swift code also gets the one flag naming both, last.
sanitize=(--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
config=${FUZZ_CONFIG:-debug}
case "$config" in
    debug) scratch=.build-fuzz ;;
    release) scratch=.build-fuzz-release; sanitize=(-c release "${sanitize[@]}") ;;
    *) echo "fuzz: FUZZ_CONFIG is debug or release, not '$config'" >&2; exit 2 ;;
esac
build() {
    mkdir -p .build/fuzz
    swift build --package-path Fuzz --scratch-path "$scratch" "${sanitize[@]}" --product "$(product "$1")" >".build/fuzz/build-$1.log" 2>&1 \
        || { grep -E 'error' ".build/fuzz/build-$1.log" | head -n 20 >&2; echo "fuzz: cannot build $1 (.build/fuzz/build-$1.log)" >&2; exit 2; }
    local bin
    bin="$(swift build --package-path Fuzz --scratch-path "$scratch" "${sanitize[@]}" --show-bin-path)"
    # A target whose own Swift code has no coverage counters would fuzz blind (the C code linked in
    # would still report a few edges): refuse it rather than print figures that mean nothing.
    if command -v objdump >/dev/null && [ "$(objdump -h "$bin/$(product "$1").build/"*.o 2>/dev/null | grep -c __sancov_cntrs)" = 0 ]; then
        echo "fuzz: $1 was built without coverage counters in its Swift code (.build/fuzz/build-$1.log); delete $scratch and run again" >&2
        exit 2
    fi
    echo "$bin/$(product "$1")"
}
run() {  # TARGET SECONDS
    local target=$1 seconds=$2 binary log
    binary=$(build "$target")
    mkdir -p ".build/fuzz/corpus/$target" .build/fuzz/findings
    log=".build/fuzz/$target.log"
    local status=0
    # -rss_limit_mb: a target that grows past 2 GiB is a finding (bounded memory); -timeout: one input over 10 s is one too.
    local max_len=65536
    [ "$target" != stream-tracker ] || max_len=16384   # a stream this long already covers every state; longer ones only slow it
    # The control API opens the listeners a request asks for: in a network namespace of its own
    # (loopback only, nothing to reach), gone with the run.
    local inside=()
    if [ "$target" = control-api ]; then
        if [ "$(id -u)" = 0 ]; then inside=(unshare --net); else inside=(unshare --user --map-root-user --net); fi
        inside+=(sh -c 'ip link set lo up && exec "$@"' sh)
    fi
    "${inside[@]}" "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" -print_final_stats=1 \
        -artifact_prefix=".build/fuzz/findings/$target-" ".build/fuzz/corpus/$target" "Fuzz/Corpus/$target" >"$log" 2>&1 || status=$?
    local stats
    stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1)
    local execs cov features
    execs=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
    cov=$(echo "$stats" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    features=$(echo "$stats" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
    if [ "$status" != 0 ]; then
        echo "fuzz $target: FINDING after $(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1) runs:"
        grep -E 'ERROR|Fatal error|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 8
        return 1
    fi
    echo "fuzz $target ($config): ${seconds}s, $(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1) runs, ${execs:-?} execs/s, coverage ${cov:-?} edges, ${features:-?} features, corpus $(ls ".build/fuzz/corpus/$target" | wc -l) + $(ls "Fuzz/Corpus/$target" | wc -l) seeds, no finding"
}
case "${1:-}" in
    --list) printf '%s\n' "${targets[@]}" ;;
    --reproduce) binary=$(build "${2:?target}"); "$binary" "${3:?file}" ;;
    all)
        seconds=${2:?seconds}; jobs=${3:-1}
        for target in "${targets[@]}"; do build "$target" >/dev/null; done   # one build folder: build first, then run side by side
        status=0; running=0
        for target in "${targets[@]}"; do
            run "$target" "$seconds" >".build/fuzz/$target.result" &
            running=$((running + 1))
            if [ "$running" -ge "$jobs" ]; then wait -n || status=1; running=$((running - 1)); fi
        done
        while [ "$running" -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
        for target in "${targets[@]}"; do cat ".build/fuzz/$target.result"; done
        exit $status ;;
    "") echo "usage: scripts/fuzz.sh --list | TARGET SECONDS | all SECONDS | --reproduce TARGET FILE" >&2; exit 2 ;;
    *) run "$1" "${2:?usage: scripts/fuzz.sh TARGET SECONDS}" ;;
esac

#!/usr/bin/env bash
# Coverage-guided fuzzing of tedi's untrusted-input readers with libFuzzer (+ AddressSanitizer).
#
#   tools/fuzz.sh build                 build the four harnesses (Fuzz/, release, -sanitize=fuzzer,address)
#   tools/fuzz.sh run TARGET [SECONDS]  fuzz one target (default 300 s); extra libFuzzer flags after --
#   tools/fuzz.sh all [SECONDS]         every target in turn (default 300 s each)
#   tools/fuzz.sh corpus                regenerate the committed seed corpora (Fuzz/make_corpus.py)
#
# TARGET is graph | png | safetensors | npy. Seeds come from Fuzz/corpus/TARGET (committed); new
# inputs the fuzzer finds go to Fuzz/.work/TARGET (ignored), crashes to Fuzz/.work/crashes/.
# Long run (about an hour per target):   tools/fuzz.sh all 3600
# Reproduce a crash:                     Fuzz/.build/release/FuzzPNG Fuzz/.work/crashes/crash-…
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
# Swift's crash backtracer waits on the dying process; libFuzzer reports crashes itself.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"

build() {
    swift build -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld 2>&1 | grep -v "Cannot export local symbol" || true
    for t in FuzzGraph FuzzPNG FuzzSafeTensors FuzzNpy; do
        [[ -x .build/release/$t ]] || { echo "fuzz.sh: .build/release/$t was not built" >&2; exit 1; }
    done
}

binary() {
    case "$1" in
        graph) echo FuzzGraph ;; png) echo FuzzPNG ;; safetensors) echo FuzzSafeTensors ;; npy) echo FuzzNpy ;;
        *) echo "fuzz.sh: unknown target '$1' (graph, png, safetensors, npy)" >&2; exit 2 ;;
    esac
}

run() {
    local target="$1" seconds="${2:-300}"; shift 2 || shift $#
    [[ "${1:-}" == "--" ]] && shift
    local bin; bin="$(binary "$target")"
    build >/dev/null   # incremental: picks up changes in the project's sources too
    mkdir -p ".work/$target" .work/crashes
    # -rss_limit_mb: a reader that allocates past its documented limits is a finding.
    # -max_len: 64 KiB reaches every header path; bigger bodies only slow the loop.
    .build/release/"$bin" ".work/$target" "corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=65536 \
        -dict="dict/$target.dict" -artifact_prefix=.work/crashes/"$target"- -print_final_stats=1 "$@" 2>&1 | tee ".work/$target.log" | grep -E "INITED|DONE|stat::|ERROR|Test unit written|SUMMARY" || true
}

case "${1:-}" in
    build) build ;;
    run) shift; run "$@" ;;
    all) for t in graph png safetensors npy; do run "$t" "${2:-300}"; done ;;
    corpus) python3 make_corpus.py ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
esac

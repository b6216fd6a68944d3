#!/usr/bin/env bash
# Side-by-side StyleGAN2 generator benchmark: `tedi bench generator` vs tools/bench_torch.py with the
# same arguments, interleaved (tedi, torch, tedi, torch, …) so load from other work hits both;
# prints each side's best median / min and peak RSS, and the ratio Swift/PyTorch.
#   tools/bench_generator.sh --size 256 --channel-multiplier 1 --batch 1 --threads 2 [--backward] [--rounds 2]
# Env: TEDI (default .build/release/tedi), PYTHON (default /work/torchenv/bin/python, else python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tedi="${TEDI:-$here/../.build/release/tedi}"
python="${PYTHON:-/work/torchenv/bin/python}"
[ -x "$python" ] || python=python3
rounds=2
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -x "$tedi" ] || { echo "no tedi binary at $tedi; run: swift build -c release" >&2; exit 2; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
sm=(); smin=(); srss=(); tm=(); tmin=(); trss=()
for ((r = 0; r < rounds; r++)); do
  s="$("$tedi" bench generator "${args[@]}" | tee /dev/stderr | grep RESULT)"
  t="$("$python" "$here/bench_torch.py" "${args[@]}" | tee /dev/stderr | grep RESULT)"
  sm+=("$(field median_ms "$s")"); smin+=("$(field min_ms "$s")"); srss+=("$(field peak_rss_mib "$s")")
  tm+=("$(field median_ms "$t")"); tmin+=("$(field min_ms "$t")"); trss+=("$(field peak_rss_mib "$t")")
done
S=$(best "${sm[@]}"); SMIN=$(best "${smin[@]}"); SR=$(best "${srss[@]}")
T=$(best "${tm[@]}"); TMIN=$(best "${tmin[@]}"); TR=$(best "${trss[@]}")
echo "args: ${args[*]}"
printf '%-8s %12s %10s %14s\n' "" "median ms" "min ms" "peak RSS MiB"
printf '%-8s %12s %10s %14s\n' tedi "$S" "$SMIN" "$SR" torch "$T" "$TMIN" "$TR"
awk -v s="$S" -v t="$T" -v a="$SMIN" -v b="$TMIN" -v r="$SR" -v q="$TR" \
  'BEGIN { printf "ratio Swift/PyTorch: median %.2f, min %.2f, peak RSS %.2f\n", s / t, a / b, r / q }'

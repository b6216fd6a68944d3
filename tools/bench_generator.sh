#!/usr/bin/env bash
# Side-by-side StyleGAN2 generator benchmark: `tedi bench generator` vs tools/bench_torch.py with the
# same arguments, interleaved (tedi, torch, tedi, torch, …) so load from other work hits both;
# prints each side's best median / min and peak RSS, and the ratio Swift/PyTorch.
#   tools/bench_generator.sh --size 256 --channel-multiplier 1 --batch 1 --threads 2 [--backward] [--rounds 2]
#   tools/bench_generator.sh --matrix [--threads 2] [--rounds 1]
# --matrix runs BENCHMARKS.md's table (64 px batch 1 and 8, 256 px cm 1, 1024 px cm 2; forward and
# forward + backward to w+) and prints it as Markdown rows headed by the CPU, its flags, the
# OpenBLAS kernel and PyTorch's CPU capability.
# Env: TEDI (default .build/release/tedi), PYTHON (default /work/torchenv/bin/python, else python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tedi="${TEDI:-$here/../.build/release/tedi}"
python="${PYTHON:-/work/torchenv/bin/python}"
[ -x "$python" ] || python=python3
rounds=2
matrix=0
threads=2
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --matrix) matrix=1; shift ;;
    --threads) threads="$2"; args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -x "$tedi" ] || { echo "no tedi binary at $tedi; run: swift build -c release" >&2; exit 2; }
if [ "$matrix" = 1 ]; then
  [ "${#args[@]}" -le 2 ] || { echo "--matrix takes only --threads and --rounds" >&2; exit 2; }
  flags=$(grep -m1 '^flags' /proc/cpuinfo | grep -oE '\b(avx2|fma|avx512f|avx512bw|avx512vl|avx512_bf16|amx_tile)\b' | tr '\n' ' ')
  kernel=$("$tedi" bench generator --size 4 --channel-multiplier 1 --runs 1 | sed -n 's/.*(\(OpenBLAS[^)]*\)).*/\1/p' | head -1)
  torchisa=$("$python" -c 'import torch; print(torch.__version__, torch.backends.cpu.get_cpu_capability())' 2>/dev/null || echo "no torch")
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; flags: $flags"
  echo "tedi: $kernel; PyTorch: $torchisa; $threads threads; $(date -u +%F)"
  echo
  echo "| config | tedi median ms | PyTorch median ms | tedi / PyTorch | tedi peak RSS MiB | PyTorch peak RSS MiB | RSS ratio |"
  echo "|---|---|---|---|---|---|---|"
  for cfg in "64 1 1 5" "64 1 8 3" "256 1 1 3" "1024 2 1 2"; do
    set -- $cfg
    for bw in "" "--backward"; do
      runs=$4; [ -n "$bw" ] && [ "$1" = 1024 ] && runs=1
      out=$("$0" --size "$1" --channel-multiplier "$2" --batch "$3" --threads "$threads" --runs "$runs" --rounds "$rounds" $bw 2>/dev/null)
      tedi_row=$(grep '^tedi ' <<<"$out"); torch_row=$(grep '^torch ' <<<"$out")
      awk -v name="$1 px cm $2 batch $3 $([ -n "$bw" ] && echo "forward + backward" || echo forward)" -v s="$tedi_row" -v t="$torch_row" 'BEGIN {
        split(s, a, " +"); split(t, b, " +");
        printf "| %s | %.0f | %.0f | **%.2f** | %.0f | %.0f | %.2f |\n", name, a[2], b[2], a[2] / b[2], a[4], b[4], a[4] / b[4] }'
    done
  done
  exit 0
fi
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

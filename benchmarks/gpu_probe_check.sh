#!/usr/bin/env bash
# Probe-engine check on a CUDA machine: smoke suite with both SSM implementations, a slice of
# paper-desktop, and max-context searches under a 24 GiB budget. Bundles go to $OUT (or ./out).
# Usage: bash benchmarks/gpu_probe_check.sh [power|smoke|slice|maxctx]...   (default: all)
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
EP=(python3 -m edgeprobe)
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(power smoke slice maxctx)

for step in "${steps[@]}"; do
  case $step in
    smoke)
      "${EP[@]}" run --suite smoke --impl both --device cuda --no-thermal-guard --profile \
        --out "$OUT/smoke-cuda.epb" \
        > "$OUT/smoke.log" 2>&1
      code=$?
      echo "smoke exit $code"; grep -E "kernel path|warning|error" "$OUT/smoke.log" | head -20
      [ $code -eq 0 ] || { tail -30 "$OUT/smoke.log"; exit 1; }
      ;;
    slice)
      "${EP[@]}" run --suite paper-desktop --impl both --device cuda \
        --models qwen2.5-0.5b mamba-790m mamba2-780m falcon-h1-0.5b --lengths 1K 8K 32K \
        --warmup 1 --repeats 3 --no-thermal-guard --out "$OUT/paper-slice.epb" \
        > "$OUT/slice.log" 2>&1
      echo "slice exit $?"; grep -E "kernel path|warning|error" "$OUT/slice.log" | head -20
      ;;
    power)
      # Read-only checks of the power side: never change the lent card's settings.
      "${EP[@]}" info > "$OUT/info.txt" 2>&1; echo "info exit $?"; head -40 "$OUT/info.txt"
      "${EP[@]}" power-modes; echo "power-modes exit $?"
      "${EP[@]}" run --suite smoke --device cuda --power-limit 99999 --out "$OUT/refused.epb"
      echo "power-limit 99999 W exit $? (bundle written: $([ -e "$OUT/refused.epb" ] && echo yes || echo no))"
      ;;
    maxctx)
      timeout "${MAXCTX_TIMEOUT_S:-400}" "${EP[@]}" run --suite paper-desktop --impl "${IMPL:-both}" \
        --device cuda --models qwen2.5-0.5b mamba2-780m --lengths 32K --decode-tokens 0 \
        --warmup 0 --repeats 1 --find-max-context --memory-budget 24GiB --search-limit 512K \
        --point-timeout 120 --no-thermal-guard --out "$OUT/maxctx-24GiB.epb" \
        > "$OUT/maxctx.log" 2>&1
      echo "maxctx exit $?"; grep -E "max context|kernel_error|crashed" "$OUT/maxctx.log" | head -20
      ;;
  esac
done

#!/usr/bin/env bash
# Per-kernel latency on a CUDA machine with the fused kernels: mamba-130m and mamba2-130m (HF and
# mamba_ssm's own model) and qwen2.5-0.5b at 256, 4K and 32K tokens, one timed prefill each
# (all-position logits, as the study), then a torch.profiler pass per point with the study's
# schedule. Writes to $OUT (default ./out):
#   kernels-<gpu>.epb            the bundle (edgeprobe show --kernels reads it)
#   kernels-<gpu>.log            the run's output; kernels-<gpu>.worker.log the worker's
#   kernel-names-<gpu>.txt       every kernel name seen, with the ops that launched it
#                                (the tests/fixtures/kernels format)
#   two Chrome traces (mamba2-130m/mamba_ssm and mamba-130m/hf at 4K; open in Perfetto)
# and prints the category shares beside the study's figures. <gpu> is h200, h100 or gpu.
# Usage: bash benchmarks/gpu_kernel_breakdown.sh
# (DEVICE, MODELS and LENGTHS override the defaults, e.g. for a dry run on the CPU with tiny models)
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 COLUMNS=${COLUMNS:-160}
TRACES=${TRACES:-/tmp/edgeprobe-kernel-traces}
rm -rf "$TRACES"
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" in
  *H200*) gpu=h200 ;;
  *H100*) gpu=h100 ;;
  *) gpu=gpu ;;
esac
bundle="$OUT/kernels-$gpu.epb"
rm -f "$bundle"

started=$(date +%s)
# shellcheck disable=SC2086  # word splitting of MODELS and LENGTHS is meant
timeout "${BREAKDOWN_TIMEOUT_S:-500}" python3 -m edgeprobe run --suite smoke \
  --device "${DEVICE:-cuda}" --models ${MODELS:-mamba-130m mamba2-130m qwen2.5-0.5b} \
  --impl both --lengths ${LENGTHS:-256 4K 32K} \
  --variants published --decode-tokens 0 --warmup 0 --repeats 1 --point-timeout 300 \
  --profile --trace-dir "$TRACES" --no-thermal-guard --out "$bundle" > "$OUT/kernels-$gpu.log" 2>&1
code=$?
echo "run exit $code after $(( $(date +%s) - started )) s on $gpu"
grep -E "kernel path|warning|error|  kernels " "$OUT/kernels-$gpu.log" | head -30
[ $code -eq 0 ] || tail -15 "$OUT/kernels-$gpu.log"

# At most 8 files come back from the device: keep two traces, the rest stay in $TRACES.
for pattern in "mamba2-130m_mamba_ssm_4096tok" "mamba-130m_hf_4096tok"; do
  for trace in "$TRACES"/*"$pattern"*; do [ -f "$trace" ] && cp "$trace" "$OUT/"; done
done
ls -l "$TRACES" 2>/dev/null | tail -n +2 | awk '{s += $5} END {print "traces:", NR, "files,", s, "bytes"}'

[ -s "$bundle" ] || { echo "no bundle written"; exit 1; }
python3 benchmarks/kernel_report.py "$bundle" --names "$OUT/kernel-names-$gpu.txt"

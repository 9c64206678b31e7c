#!/usr/bin/env bash
# Do two eager decodes on one host slow each other, and does giving each its own physical
# cores stop it? The same small run (MODELS at 1K tokens, 256 decode tokens) on GPU 0 alone,
# then on GPU 0 and GPU 1 at once unpinned, then at once pinned to separate cores (as
# gpu_sweep.sh pins). Needs two GPUs; prints warm and cold TPOT per phase last.
#
#   OUT=out bash benchmarks/gpu_contention.sh
#
# Wheels in $WHEELS (default .whl) are installed first (benchmarks/device_env.sh).
set -u
# shellcheck source=benchmarks/device_env.sh
. "$(dirname "$0")/device_env.sh"
MODELS=${MODELS:-qwen2.5-0.5b mamba-130m}
mapfile -t groups < <(cpu_groups 2)
echo "CPU groups: ${groups[0]} | ${groups[1]}"; lscpu | grep -iE "^(model name|thread|core|socket|numa)" || true

one() {  # one NAME GPU CPUS: the small run into $OUT/NAME.epb
  local name=$1 gpu=$2 cpus=$3
  # shellcheck disable=SC2086  # MODELS is a list
  timeout 240 "${PINNED[@]}" "$cpus" "${EP[@]}" run --suite paper-desktop \
    --device "cuda:$gpu" --models $MODELS --lengths 1K --variants lean --warmup 1 --repeats 1 \
    --no-thermal-guard --out "$OUT/$name.epb" > "$OUT/$name.log" 2>&1
  echo "== $name: exit $?"
}

one solo-gpu0 0 all
one pair-gpu0 0 all & one pair-gpu1 1 all & wait
one pinned-gpu0 0 "${groups[0]}" & one pinned-gpu1 1 "${groups[1]}" & wait

python3 - "$OUT" <<'PY'
import sys
from pathlib import Path
from edgeprobe.bundle import read_bundle
print(f"\n{'run':<14} {'model':<14} {'warm TPOT':>10} {'cold TPOT':>10} {'GPU busy':>9}")
for name in ("solo-gpu0", "pair-gpu0", "pair-gpu1", "pinned-gpu0", "pinned-gpu1"):
    path = Path(sys.argv[1]) / f"{name}.epb"
    if not path.exists():
        print(f"{name:<14} no bundle"); continue
    for point in read_bundle(path).points:
        decode = point.get("decode") or {}
        if decode.get("tpot_s"):
            print(f"{name:<14} {point['model']:<14} {decode['tpot_s'] * 1e3:>8.2f}ms "
                  f"{(decode.get('tpot_cold_s') or 0) * 1e3:>8.2f}ms {decode.get('busy_share') or 0:>9.3f}")
PY

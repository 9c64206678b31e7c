#!/usr/bin/env bash
# The study's whole sweeps on a CUDA machine, one suite per GPU at once, each resumable across
# device commands: a bundle found in $RESUME_DIR (default resume/) is continued with
# `run --resume`, any other starts afresh. Every run is stopped with SIGTERM before BUDGET_S
# seconds (default 580) so it closes its bundle "interrupted, resumable"; copy the bundles
# from $OUT back into resume/ for the next command.
#
#   OUT=out BUDGET_S=585 ANCHOR=1 bash benchmarks/gpu_sweep.sh paper-edge:8GiB paper-desktop:24GiB
#
# Each argument is SUITE:BUDGET; the i-th runs on GPU i, at once (with fewer GPUs than suites,
# the rest run on GPU 0 after them). ANCHOR=1 first times edgeprobe beside a plain loop on GPU 0
# (qwen2.5-0.5b, 1K and 32K) while the other GPUs start, so the figures have a reference from
# the same command.
# SERIAL=1 runs the suites one after another on GPU 0: two eager decodes on one host slowed each
# other (README, "Where the time goes"), so use it where decode figures matter.
# Sweeps that run at once each get their own physical cores (SMT siblings kept together;
# PIN=0 turns it off): eager decode is bound by the host's CPU. The groups are printed first.
# Wheels in $WHEELS (default .whl) are installed first (benchmarks/device_env.sh).
set -u
# shellcheck source=benchmarks/device_env.sh
. "$(dirname "$0")/device_env.sh"
RESUME_DIR=${RESUME_DIR:-resume}
BUDGET_S=${BUDGET_S:-580}
PREFIX=${PREFIX:-h200}
gpus=$(python3 -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
echo "GPUs: $gpus"; nvidia-smi --query-gpu=index,pci.bus_id,name --format=csv,noheader
[ "${SERIAL:-0}" = 1 ] && gpus=1  # one suite at a time, on GPU 0

anchor() {  # edgeprobe beside a plain loop on GPU 0, before that GPU's sweep
  timeout 150 "${PINNED[@]}" "${groups[0]:-all}" "${EP[@]}" fidelity --models qwen2.5-0.5b \
    --impl study --device cuda:0 \
    --lengths 1K 32K --rounds 3 --decode-rounds 2 --decode-tokens 32 \
    --attention-backend flash,efficient,math \
    --out "$OUT/fidelity-anchor.json" --markdown "$OUT/fidelity-anchor.md" \
    > "$OUT/anchor.log" 2>&1
  echo "== anchor: exit $?"; tail -n 12 "$OUT/anchor.log"
}

sweep() {  # sweep SUITE BUDGET GPU [CPUS]: one suite into $OUT/$PREFIX-SUITE-BUDGET.epb
  local suite=$1 budget=$2 gpu=$3 cpus=${4:-all} name="$PREFIX-$1-$2"
  local left=$((BUDGET_S - SECONDS - 10))
  if [ "$left" -lt 30 ]; then echo "$name: not run, time budget spent" > "$OUT/$name.log"; return; fi
  local run=(--suite "$suite" --device "cuda:$gpu" --memory-budget "$budget" --no-thermal-guard)
  [ "$suite" = paper-desktop ] && run+=(--find-max-context)
  if [ -f "$RESUME_DIR/$name.epb" ]; then
    cp "$RESUME_DIR/$name.epb" "$OUT/$name.epb"
    run=(--resume "$OUT/$name.epb" --device "cuda:$gpu")
  else
    run+=(--out "$OUT/$name.epb")
  fi
  # SIGTERM closes the bundle as interrupted; the kill after 30 s only guards a hung worker.
  timeout -s TERM -k 30 "$left" "${PINNED[@]}" "$cpus" "${EP[@]}" run "${run[@]}" \
    > "$OUT/$name.log" 2>&1
  echo "== $name on GPU $gpu (CPUs $cpus): exit $? after $SECONDS s"; tail -n 6 "$OUT/$name.log"
}

concurrent=$(( $# < gpus ? $# : gpus ))
groups=()
if [ "${PIN:-1}" = 1 ] && [ "$concurrent" -gt 1 ]; then
  mapfile -t groups < <(cpu_groups "$concurrent")
  printf 'CPU group %s\n' "${groups[@]}"
fi
i=0
pids=()
later=()
for spec in "$@"; do
  suite=${spec%%:*} budget=${spec#*:}
  if [ "$i" -lt "$gpus" ]; then
    { [ "$i" = 0 ] && [ "${ANCHOR:-0}" = 1 ] && anchor
      sweep "$suite" "$budget" "$i" "${groups[$i]:-all}"; } & pids+=($!)
  else
    later+=("$spec")
  fi
  i=$((i + 1))
done
for pid in "${pids[@]}"; do wait "$pid"; done
for spec in "${later[@]}"; do sweep "${spec%%:*}" "${spec#*:}" 0; done

echo
printf '%-28s %-12s %7s %s\n' bundle status points "timed work"
for spec in "$@"; do
  name="$PREFIX-${spec%%:*}-${spec#*:}"
  [ -f "$OUT/$name.epb" ] || { printf '%-28s %s\n' "$name" "no bundle"; continue; }
  "${EP[@]}" show --timing "$OUT/$name.epb" > "$OUT/$name.timing.txt" 2>&1
  python3 - "$OUT/$name.epb" "$OUT/$name.timing.txt" <<'EOF'
import re, sys
from edgeprobe.bundle import read_bundle
bundle = read_bundle(sys.argv[1])
footer = bundle.footer or {}
timed = re.search(r"timed work.*?: ([\d.]+%)", open(sys.argv[2]).read())
# the GPU of the last session: a resumed run records its own in its "resumed" event
last = (bundle.resumed_events[-1].get("data") or {}) if bundle.resumed_events else {}
device = last.get("device") or bundle.header["device"]
print(f"{sys.argv[1].rsplit('/', 1)[-1]:<28} {footer.get('status', 'open'):<12} "
      f"{len(bundle.points):>7} {timed.group(1) if timed else '-'}  "
      f"GPU {device.get('pci_bus_id')}")
EOF
done

#!/usr/bin/env bash
# Timing fidelity on a CUDA machine: edgeprobe beside a plain loop in one process, eager vs
# CUDA-graph decode, and the paper-desktop slice re-run, each step in its own time limit.
# Results go to $OUT (default ./out); a table of what ran is printed last.
#
#   bash benchmarks/gpu_fidelity.sh sanity gate fidelity
#
# Steps: sanity, fidelity (or fidelity-qwen and fidelity-mamba2, one model each with more
# decode rounds), graph, slice, anchor (a plain loop in the same call as the slice); gate
# stops after a failed step.
#
# Wheels in $WHEELS (default .whl) are installed first (benchmarks/device_env.sh says which).
# Steps share BUDGET_S seconds (default 580); a step cut short keeps what it wrote (fidelity
# writes its report after every model and length). A suite
# step whose bundle is in $RESUME_DIR (default resume/) continues it with `run --resume`
# instead of starting afresh: copy an interrupted bundle there to go on in the next call.
set -u
# shellcheck source=benchmarks/device_env.sh
. "$(dirname "$0")/device_env.sh"
RESUME_DIR=${RESUME_DIR:-resume}
declare -A result
order=()

BUDGET_S=${BUDGET_S:-580}  # the whole script ends within this (a device command's limit)
step() {  # step NAME LIMIT_S COMMAND...: run with a time limit, log to $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  order+=("$name")
  local left=$((BUDGET_S - SECONDS - 5))
  if [ "$left" -lt 20 ]; then result[$name]="not run: time budget spent"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local started=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local code=$?
  result[$name]="exit $code in $((SECONDS - started)) s"
  echo "== $name: ${result[$name]}"; tail -n 25 "$OUT/$name.log"
}

suite_step() {  # suite_step NAME LIMIT_S RUN-ARGS...: a suite run into $OUT/NAME.epb, resumed
  local name=$1 limit=$2; shift 2
  if [ -f "$RESUME_DIR/$name.epb" ]; then
    cp "$RESUME_DIR/$name.epb" "$OUT/$name.epb"
    step "$name" "$limit" "${EP[@]}" run --resume "$OUT/$name.epb"
  else
    step "$name" "$limit" "${EP[@]}" run "$@" --out "$OUT/$name.epb"
  fi
}

for what in "$@"; do
  case $what in
    sanity)
      step sanity-run 240 "${EP[@]}" run --suite smoke --device cuda --impl both \
        --models tiny-qwen2 tiny-mamba2 tiny-falcon-h1 --lengths 512 --decode-mode both \
        --decode-tokens 16 --no-thermal-guard --out "$OUT/sanity.epb"
      step sanity-fidelity 180 "${EP[@]}" fidelity --models tiny-qwen2 tiny-mamba2 --impl both \
        --lengths 512 --rounds 3 --decode-rounds 2 --decode-tokens 16 --quiet
      step sanity-pin 180 "${EP[@]}" run --suite paper-desktop --device cuda \
        --models qwen2.5-0.5b --lengths 1K --variants lean --decode-tokens 16 --warmup 1 \
        --repeats 2 --no-thermal-guard --out "$OUT/sanity-pin.epb"
      python3 - "$OUT" <<'EOF'
import sys
from edgeprobe.bundle import read_bundle
for name in ("sanity.epb", "sanity-pin.epb"):
    try:
        bundle = read_bundle(f"{sys.argv[1]}/{name}")
    except Exception as exc:
        print(name, "unreadable:", exc); continue
    for p in bundle.points:
        pre, dec, gr = p.get("prefill") or {}, p.get("decode") or {}, p.get("decode_graph") or {}
        print(name, p["model"], p["implementation"], p["length_tokens"], p["variant"], p["status"],
              "attn", pre.get("attention_backend"), dec.get("attention_backend"),
              "busy", pre.get("busy_share"), "lb", pre.get("launch_bound"),
              "warm", dec.get("tpot_s"), "cold", dec.get("tpot_cold_s"),
              "graph", gr.get("status"), gr.get("tpot_s"), (gr.get("error") or "")[:120])
EOF
      ;;
    fidelity)  # every model in one report, few decode rounds: a quick look (about 7 min)
      step fidelity 560 "${EP[@]}" fidelity --models qwen2.5-0.5b mamba2-780m --impl both \
        --lengths 1K 8K 32K --rounds 5 --decode-rounds 2 --decode-tokens 32 \
        --out "$OUT/fidelity-h200.json" --markdown "$OUT/fidelity-h200.md"
      ;;
    fidelity-qwen|fidelity-mamba2)  # one model per command, enough decode rounds for 5 %
      # (H200: qwen with 10 rounds about 4 min; mamba2-780m, both implementations, with 6
      # rounds about 5.5 min, so DECODE_ROUNDS=6 keeps it inside one device command)
      model=qwen2.5-0.5b; [ "$what" = fidelity-mamba2 ] && model=mamba2-780m
      step "$what" 560 "${EP[@]}" fidelity --models "$model" --impl both \
        --lengths 1K 8K 32K --rounds 5 --decode-rounds "${DECODE_ROUNDS:-10}" --decode-tokens 32 \
        --out "$OUT/$what.json" --markdown "$OUT/$what.md"
      ;;
    graph)
      # shellcheck disable=SC2086  # GRAPH_MODELS is a list
      suite_step h200-graph-vs-eager 420 --suite paper-desktop --device cuda --impl both \
        --models ${GRAPH_MODELS:-qwen2.5-0.5b mamba2-780m} --lengths 1K 32K --variants lean \
        --decode-mode both --decode-tokens 128 --attention-backend auto --warmup 1 --repeats 3 \
        --no-thermal-guard
      ;;
    slice)
      suite_step h200-paper-slice 540 --suite paper-desktop --device cuda --impl both \
        --models qwen2.5-0.5b mamba-790m mamba2-780m falcon-h1-0.5b --lengths 1K 8K 32K \
        --decode-tokens 64 --warmup 1 --repeats 3 --no-thermal-guard
      ;;
    anchor)  # a plain loop beside edgeprobe in the same call as the slice
      step anchor 240 "${EP[@]}" fidelity --models qwen2.5-0.5b mamba2-780m --impl study \
        --lengths 1K 32K --rounds 3 --decode-rounds 1 --decode-tokens 32 \
        --attention-backend flash,efficient,math \
        --out "$OUT/fidelity-anchor.json" --markdown "$OUT/fidelity-anchor.md"
      ;;
    gate)  # stop here unless every step so far exited 0
      for name in "${order[@]}"; do
        case ${result[$name]} in "exit 0 "*) ;; *) echo "gate: $name ${result[$name]}"; break 2 ;; esac
      done
      ;;
    *) echo "unknown step $what"; exit 2 ;;
  esac
done
echo
printf '%-18s %s\n' step result
for name in "${order[@]}"; do printf '%-18s %s\n' "$name" "${result[$name]}"; done

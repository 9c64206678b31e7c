#!/usr/bin/env bash
# TUI check on a CUDA machine: `edgeprobe agent` (NVML telemetry) runs the smoke suite on CUDA
# (`edgeprobe run --detach`) while `edgeprobe tui` at 100x30 shows it; after WAIT_S seconds
# (default 20) the screen is written to $OUT/tui-screen.txt (default ./out) and printed, then
# everything stops. tmux captures the screen when installed, else a pseudo-terminal read by
# pyte (benchmarks/tui_screen.py). Takes about 40-60 s.
#
# Wheels it installs (--no-index --no-deps) when Textual or pyte is missing, from $WHEELS
# (default .whl/tui; fetch on a machine with PyPI: pip download --no-deps -d .whl/tui LIST):
#   textual==8.2.8 mdit-py-plugins==0.7.0 linkify-it-py==2.2.0 uc-micro-py==2.0.0
#   platformdirs==4.14.8 pyte==0.8.2 wcwidth==0.9.4 rich==15.0.0 pygments==2.21.0
#   markdown-it-py==4.3.0 mdurl==0.1.2
# All are py3-none-any except wcwidth (cp310-abi3 manylinux x86_64). Textual needs
# rich>=14.2 and pygments>=2.19.2; typing-extensions comes with torch.
#
# Usage: bash benchmarks/gpu_tui_check.sh      (NO_TMUX=1 uses pyte even where tmux is)
set -u
OUT=${OUT:-out}
WAIT_S=${WAIT_S:-20}
WHEELS=${WHEELS:-.whl/tui}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}  # DEVICE=cpu tries the script on a machine without a GPU
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
declare -A result

if ! "$PY" -c "import textual, pyte" 2>/dev/null; then
  if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps "$WHEELS"/*.whl > "$OUT/wheels.log" 2>&1
    result[wheels]="installed from $WHEELS (exit $?)"
  else
    result[wheels]="missing: no $WHEELS/*.whl"
  fi
else
  result[wheels]="already installed"
fi
"$PY" -c "import textual; print('textual', textual.__version__)" || true

RUNDIR=$(mktemp -d)
export EDGEPROBE_SOCKET="$RUNDIR/agent.sock"
export EDGEPROBE_DATA_DIR="$OUT/tui-check-data"
"$PY" -m edgeprobe agent --socket "$EDGEPROBE_SOCKET" > "$OUT/agent.log" 2>&1 &
AGENT=$!
cleanup() {
  "$PY" -m edgeprobe jobs --cancel 1 > /dev/null 2>&1
  kill -TERM "$AGENT" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$AGENT" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$AGENT" 2>/dev/null
  rm -rf "$RUNDIR"
}
trap cleanup EXIT

for _ in $(seq 1 150); do [ -S "$EDGEPROBE_SOCKET" ] && break; sleep 0.2; done
if [ -S "$EDGEPROBE_SOCKET" ]; then result[agent]="serving"; else
  result[agent]="did not start"; tail -20 "$OUT/agent.log"; fi
"$PY" -m edgeprobe info > "$OUT/info.txt" 2>&1
grep -iE "nvml|power" "$OUT/info.txt" | head -8

"$PY" -m edgeprobe run --detach --suite smoke --device "$DEVICE" --out "$OUT/tui-smoke-$DEVICE.epb" \
  > "$OUT/run.log" 2>&1
result[run]="detach exit $?: $(head -1 "$OUT/run.log")"

timeout 120 "$PY" benchmarks/tui_screen.py --size 100x30 --wait "$WAIT_S" \
  ${NO_TMUX:+--no-tmux} --out "$OUT/tui-screen.txt" -- "$PY" -m edgeprobe tui \
  > "$OUT/tui.log" 2>&1
result[tui]="capture exit $?: $(tail -1 "$OUT/tui.log")"
echo "---- $OUT/tui-screen.txt ----"
cat "$OUT/tui-screen.txt" 2>/dev/null
echo "-----------------------------"
"$PY" -m edgeprobe jobs > "$OUT/jobs.txt" 2>&1; cat "$OUT/jobs.txt"

screen=$(cat "$OUT/tui-screen.txt" 2>/dev/null)
check() { if grep -qE "$2" <<< "$screen"; then result[$1]="yes"; else result[$1]="NO"; fi; }
check "screen: agent"        "agent \(edgeprobe"
check "screen: GPU power"    "[0-9.]+ W GPU"
check "screen: sparkline"    "[▁▂▃▄▅▆▇█]{10}"
check "screen: GPU temp"     "GPU +[0-9.]+ °C"
check "screen: job running"  "job 1 (running|completed)"
check "screen: results row"  "tiny-[a-z0-9-]+ +[0-9K]+ +[0-9.]+ (ms|s)"

echo
printf '%-22s %s\n' "check" "result"
for key in wheels agent run tui "screen: agent" "screen: GPU power" "screen: sparkline" \
           "screen: GPU temp" "screen: job running" "screen: results row"; do
  printf '%-22s %s\n' "$key" "${result[$key]:-?}"
done

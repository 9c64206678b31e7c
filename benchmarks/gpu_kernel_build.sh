#!/usr/bin/env bash
# GPU check for install/: build causal-conv1d and mamba-ssm from their PyPI sources for this
# GPU's architecture only, against the torch already installed, then ask `edgeprobe doctor`
# whether the fused path is in use. Copies nothing into the system; no network.
#
# Needs on the GPU machine: python3 with a CUDA torch, nvcc, and a folder (--from) holding the
# two source distributions plus any build tool the machine lacks. Fill it on a networked
# machine, from the project root, with the project's venv:
#   .venv/bin/pip install -q wheel packaging
#   MAMBA_SKIP_CUDA_BUILD=TRUE CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE .venv/bin/pip download \
#     --no-deps --no-build-isolation --no-binary :all: -d .whl \
#     mamba-ssm==2.3.2.post1 causal-conv1d==1.7.0
#   .venv/bin/pip download --no-deps --only-binary :all: --python-version 3.12 \
#     --platform manylinux_2_17_x86_64 -d .whl ninja wheel platformdirs
# (the SKIP variables only let pip read the sources' metadata without CUDA; nothing is built).
#
# Usage: bash benchmarks/gpu_kernel_build.sh --from .whl
#        (BUILD_TIMEOUT_S, DOCTOR_TIMEOUT_S, FORCE_KERNELS=0 to reuse wheels from a prior call)
# Writes to $OUT (default ./out): logs/ (one build log per package, build-times.tsv),
# build.txt (the installer's output), doctor.json, and prints a table at the end.
set -uo pipefail

FROM=''
while (($#)); do
  case $1 in
    --from) FROM=${2:?}; shift 2 ;;
    *) echo "usage: $0 --from DIR" >&2; exit 2 ;;
  esac
done
[[ -d $FROM ]] || { echo "gpu_kernel_build: --from DIR with the sdists is required" >&2; exit 2; }
FROM=$(cd "$FROM" && pwd)
OUT=${OUT:-out}
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
BUILD_TIMEOUT_S=${BUILD_TIMEOUT_S:-470}
DOCTOR_TIMEOUT_S=${DOCTOR_TIMEOUT_S:-110}
# 1 (default): compile even if wheels from an earlier call are cached; 0: reuse them (a second
# call after a build that ran out of time then compiles only what is missing).
FORCE_KERNELS=${FORCE_KERNELS:-1}
export PYTHONUNBUFFERED=1

python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda,
      torch.cuda.get_device_name(0), "cc %d.%d" % torch.cuda.get_device_capability(0))' ||
  { echo "gpu_kernel_build: python3 has no CUDA torch" >&2; exit 1; }

# A venv that sees the system's torch, transformers and triton; kernels install into it only.
# When python3 is itself a venv (whose packages a new venv would not see), use it directly.
PY=$(python3 -c 'import sys; print(sys.executable)')
if python3 -c 'import sys; sys.exit(sys.prefix != sys.base_prefix)'; then
  VENV=${VENV:-/tmp/edgeprobe-kernels-venv}
  if python3 -m venv --system-site-packages --without-pip "$VENV" &&
    "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    PY=$VENV/bin/python
  else
    export PIP_BREAK_SYSTEM_PACKAGES=1
  fi
fi
echo "building into the environment of $PY"
for module in platformdirs msgpack rich psutil; do
  "$PY" -c "import $module" 2>/dev/null ||
    "$PY" -m pip install -q --no-index --find-links "$FROM" "$module" ||
    echo "gpu_kernel_build: $module missing and not in $FROM: doctor will fail" >&2
done

began=$(date +%s)
force=()
[[ $FORCE_KERNELS == 1 ]] && force=(--force-kernels)
timeout "$BUILD_TIMEOUT_S" bash install/install.sh --kernels-only --python "$PY" --from "$FROM" \
  --log-dir "$OUT/logs" "${force[@]}" 2>&1 | tee "$OUT/build.txt"
build_rc=${PIPESTATUS[0]}
build_s=$(($(date +%s) - began))
echo "kernel build exit $build_rc after ${build_s} s"

timeout "$DOCTOR_TIMEOUT_S" "$PY" -m edgeprobe doctor --json >"$OUT/doctor.json" 2>"$OUT/doctor.err"
doctor_rc=$?
echo "doctor exit $doctor_rc"
[[ -s $OUT/doctor.err ]] && tail -n 5 "$OUT/doctor.err"

"$PY" - "$OUT" "$build_rc" "$build_s" "$doctor_rc" <<'PYCODE'
import json, pathlib, sys
out, build_rc, build_s, doctor_rc = pathlib.Path(sys.argv[1]), *sys.argv[2:]
print("\n== summary ==")
print(f"{'what':<28} {'result'}")
times = out / "logs" / "build-times.tsv"
for line in (times.read_text().splitlines() if times.exists() else []):
    name, version, sm, seconds = line.split("\t")
    print(f"{'build ' + name + ' ' + version:<28} {seconds} s for {sm}")
for line in (out / "build.txt").read_text(errors="replace").splitlines():
    if "GPU code for" in line:
        print(f"{'cubins':<28} {line.strip()}")
print(f"{'install.sh --kernels-only':<28} exit {build_rc}, {build_s} s wall")
try:
    report = json.loads((out / "doctor.json").read_text())
except (OSError, ValueError) as exc:
    print(f"{'doctor':<28} no report ({exc}); exit {doctor_rc}")
    sys.exit(0)
checks = {c["id"]: c for c in report["checks"]}
for key in ("gpu", "kernels"):
    check = checks.get(key, {})
    print(f"{'doctor ' + key:<28} {check.get('status')}: {check.get('detail')}")
for model, path in (checks.get("kernels", {}).get("data", {}).get("models") or {}).items():
    path = path or {}
    print(f"{'  ' + model:<28} summary {path.get('summary')}, scan {path.get('ssm_scan')}, "
          f"conv1d {path.get('conv1d')}")
print(f"{'doctor ready':<28} {report['ready']} (exit {doctor_rc})")
PYCODE

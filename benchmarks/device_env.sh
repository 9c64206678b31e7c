# shellcheck shell=bash
# shellcheck disable=SC2034  # EP and PINNED are for the scripts that source this
# Sourced by the gpu_*.sh benchmarks: the output folder, the device's wheels, and CPU pinning.
#
# Wheels for the device are installed from $WHEELS (default .whl) when present: mamba-ssm and
# causal-conv1d built for it, and the pure dependencies its image lacks, fetched with
#   pip download --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#     --no-deps -d .whl msgspec platformdirs
OUT=${OUT:-out}
WHEELS=${WHEELS:-.whl}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site \
    "$WHEELS"/*.whl > "$OUT/wheels.log" 2>&1 && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
EP=(python3 -m edgeprobe)

cpu_groups() {  # cpu_groups K: K lines, each a list of CPUs made of whole physical cores
  python3 - "$1" <<'PY'
import os, sys
groups = int(sys.argv[1])
allowed = sorted(os.sched_getaffinity(0))
cores = {}
for cpu in allowed:
    try:
        with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
            key = f.read().strip()
    except OSError:
        key = str(cpu)
    cores.setdefault(key, []).append(cpu)
physical = sorted(cores.values())
for i in range(groups):
    mine = [cpu for core in physical[i::groups] for cpu in core] or allowed
    print(",".join(map(str, mine)))
PY
}

# "${PINNED[@]}" CPUS COMMAND...: COMMAND on those CPUs only (all of them when CPUS is "all")
PINNED=(python3 -c 'import os, sys
if sys.argv[1] != "all":
    os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(",")})
os.execvp(sys.argv[2], sys.argv[2:])')

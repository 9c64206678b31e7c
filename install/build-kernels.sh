#!/usr/bin/env bash
# Build the fused SSM kernels (causal-conv1d, mamba-ssm) from their PyPI sources against the
# torch already in an environment, for this machine's GPU architecture only.
#
# Usage: install/build-kernels.sh --python PY --arch 8.7 [--from DIR] [--jobs N] [--force]
#                                 [--log-dir DIR] [--cache DIR] [--dry-run]
#
# The packages' setup.py files pass their own -gencode list (nine architectures on CUDA 13),
# which makes torch ignore TORCH_CUDA_ARCH_LIST; install/nvcc-local-arch, run through
# PYTORCH_NVCC, swaps that list for the local architecture. MAMBA_FORCE_BUILD and
# CAUSAL_CONV1D_FORCE_BUILD stop setup.py from fetching a prebuilt all-architecture wheel.
# Built wheels are kept per torch version and architecture, so a second run reinstalls them
# without compiling.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=install/lib/common.sh
. "$HERE/lib/common.sh"
# shellcheck source=install/lib/platform.sh
. "$HERE/lib/platform.sh"

CAUSAL_CONV1D_SPEC=causal-conv1d==1.7.0
MAMBA_SSM_SPEC=mamba-ssm==2.3.2.post1
# Rough build time of one ninja round for one architecture on an x86 server core, seconds.
# causal-conv1d has 4 compile units (one heavy), mamba-ssm 10 of similar weight.
ROUND_S_CAUSAL_CONV1D=240
ROUND_S_MAMBA_SSM=90
UNITS_CAUSAL_CONV1D=4
UNITS_MAMBA_SSM=10
GIB_PER_JOB=2  # nvcc on these templates peaks near 2 GiB per compile unit

PY='' ARCHS='' FROM_DIR='' JOBS='' FORCE=0
LOG_DIR=${HOME:-/tmp}/.cache/edgeprobe/install-logs
CACHE_DIR=${HOME:-/tmp}/.cache/edgeprobe/kernel-wheels

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($#)); do
  case $1 in
    --python) PY=${2:?}; shift 2 ;;
    --arch) ARCHS=${2:?}; shift 2 ;;
    --from) FROM_DIR=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --force) FORCE=1; shift ;;
    --log-dir) LOG_DIR=${2:?}; shift 2 ;;
    --cache) CACHE_DIR=${2:?}; shift 2 ;;
    --causal-conv1d) CAUSAL_CONV1D_SPEC=${2:?}; shift 2 ;;
    --mamba-ssm) MAMBA_SSM_SPEC=${2:?}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
done
[[ -n $PY ]] || die 2 "--python PY is required: the interpreter of the environment to build into"
[[ -n $ARCHS ]] || die 2 "--arch is required, e.g. --arch 8.7 (Orin) or --arch 8.9 (RTX 40)"
[[ $ARCHS =~ ^[0-9]+\.[0-9]+(\+PTX)?(\;[0-9]+\.[0-9]+(\+PTX)?)*$ ]] ||
  die 2 "--arch '$ARCHS' is not a compute capability list such as 8.7 or 8.6;8.9"
[[ -z $JOBS || $JOBS =~ ^[1-9][0-9]*$ ]] || die 2 "--jobs needs a positive number"
PIP_SOURCE=()
if [[ -n $FROM_DIR ]]; then
  [[ -d $FROM_DIR ]] || die 2 "--from $FROM_DIR is not a folder"
  FROM_DIR=$(cd "$FROM_DIR" && pwd)
  PIP_SOURCE=(--no-index --find-links "$FROM_DIR")
fi
SM=$(sm_names "$ARCHS")

# --- the environment: torch, nvcc ---------------------------------------------------------
TORCH_VERSION='' TORCH_CUDA=''
if [[ -x $PY ]] || command -v "$PY" >/dev/null 2>&1; then
  if answer=$("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda or "none")' 2>/dev/null); then
    read -r TORCH_VERSION TORCH_CUDA <<<"$answer"
  fi
fi
if [[ -z $TORCH_VERSION ]]; then
  [[ $DRY_RUN == 1 ]] || die 1 "torch does not import in $PY: install the CUDA build of torch first"
  TORCH_VERSION=unknown TORCH_CUDA=unknown
  note "torch is not installed in $PY yet; the commands below run once it is"
elif [[ $TORCH_CUDA == none ]]; then
  die 1 "torch $TORCH_VERSION in $PY is a CPU build: install a CUDA build (on a Jetson, NVIDIA's wheel for your JetPack) first"
fi

# The toolkit folder, as nvcc itself reports it (nvcc on PATH is often a wrapper script).
cuda_root_of() {
  local top
  top=$("$1" --dryrun -x cu -E /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -n 1)
  [[ -n $top && -e $top/include/cuda_runtime.h ]] && (cd "$top" && pwd)
}
NVCC='' CUDA_DIR=''
for candidate in "${CUDA_HOME:+$CUDA_HOME/bin/nvcc}" /usr/local/cuda/bin/nvcc "$(command -v nvcc 2>/dev/null || true)"; do
  if [[ -n $candidate && -x $candidate ]] && CUDA_DIR=$(cuda_root_of "$candidate"); then
    NVCC=$CUDA_DIR/bin/nvcc
    break
  fi
done
if [[ -z $NVCC ]]; then
  [[ $DRY_RUN == 1 ]] || die 1 "nvcc not found (looked at \$CUDA_HOME/bin, /usr/local/cuda/bin, PATH): install the CUDA toolkit matching torch's CUDA $TORCH_CUDA (on a Jetson: sudo apt-get install nvidia-jetpack)"
  CUDA_DIR=/usr/local/cuda NVCC=/usr/local/cuda/bin/nvcc
  note "nvcc not found; the commands below assume $NVCC"
else
  nvcc_version=$("$NVCC" --version | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p' | head -n 1)
  if [[ $TORCH_CUDA != unknown && ${nvcc_version%%.*} != "${TORCH_CUDA%%.*}" ]]; then
    die 1 "nvcc is CUDA $nvcc_version but torch $TORCH_VERSION was built for CUDA $TORCH_CUDA: install the matching toolkit or point CUDA_HOME at it"
  fi
fi
PY_BIN_DIR=$(dirname "$(command -v "$PY" 2>/dev/null || echo "$PY")")

# --- how many compile jobs fit --------------------------------------------------------------
cores=$(nproc 2>/dev/null || echo 2)
available_kib=$(read_sensor /proc/meminfo 2>/dev/null | awk '/^MemAvailable:/ {print $2}' || true)
memory_jobs=$(((${available_kib:-4194304} / 1048576) / GIB_PER_JOB))
((memory_jobs >= 1)) || memory_jobs=1
if [[ -z $JOBS ]]; then
  JOBS=$((cores < memory_jobs ? cores : memory_jobs))
fi
cpu_factor=1
[[ $(uname -m) == aarch64 ]] && cpu_factor=3
arch_count=$(wc -w <<<"$SM")

prior_estimate_s() {  # prior_estimate_s ROUND_S UNITS JOBS
  local rounds=$((($2 + $3 - 1) / $3))
  echo $(($1 * rounds * cpu_factor * arch_count))
}

# --- which packages need work --------------------------------------------------------------
NAMES=(causal-conv1d mamba-ssm)
declare -A SPEC=([causal-conv1d]=$CAUSAL_CONV1D_SPEC [mamba-ssm]=$MAMBA_SSM_SPEC)
declare -A EXTENSION=([causal-conv1d]=causal_conv1d_cuda [mamba-ssm]=selective_scan_cuda)
declare -A ROUND_S=([causal-conv1d]=$ROUND_S_CAUSAL_CONV1D [mamba-ssm]=$ROUND_S_MAMBA_SSM)
declare -A UNITS=([causal-conv1d]=$UNITS_CAUSAL_CONV1D [mamba-ssm]=$UNITS_MAMBA_SSM)
WHEEL_DIR="$CACHE_DIR/torch$TORCH_VERSION-${SM// /-}"

installed_and_working() {  # the wanted version is installed and its CUDA extension loads
  local name=$1 version=${SPEC[$1]##*==}
  "$PY" - "$name" "$version" "${EXTENSION[$name]}" >/dev/null 2>&1 <<'PYCODE'
import importlib, importlib.metadata as md, sys
name, version, extension = sys.argv[1:]
assert md.version(name) == version
import torch  # noqa: F401  (the extension links against torch's libraries)
importlib.import_module(extension)
PYCODE
}

cached_wheel() {  # path of a wheel built earlier for this torch and architecture, if any
  local stem=${SPEC[$1]%%==*} version=${SPEC[$1]##*==}
  compgen -G "$WHEEL_DIR/${stem//-/_}-${version}-*.whl" | head -n 1 || true
}

say "fused kernels for $SM, torch $TORCH_VERSION (CUDA $TORCH_CUDA), nvcc $NVCC"
TO_BUILD=()
TO_INSTALL=()
for name in "${NAMES[@]}"; do
  if [[ $FORCE == 0 && $DRY_RUN == 0 ]] && installed_and_working "$name"; then
    note "${SPEC[$name]} is installed and its kernels load: nothing to do (--force rebuilds)"
  elif [[ $FORCE == 0 && -n $(cached_wheel "$name") ]]; then
    note "${SPEC[$name]}: reusing $(cached_wheel "$name")"
    TO_INSTALL+=("$name")
  else
    TO_BUILD+=("$name")
    TO_INSTALL+=("$name")
  fi
done
if ((${#TO_INSTALL[@]} == 0)); then
  exit 0
fi

# --- build prerequisites (no build isolation: the build must see the installed torch) -------
missing=()
for module in setuptools wheel packaging einops; do
  if [[ $DRY_RUN == 1 ]] || ! "$PY" -c "import $module" >/dev/null 2>&1; then
    missing+=("$module")
  fi
done
if [[ $DRY_RUN == 1 ]] || ! PATH="$PY_BIN_DIR:$PATH" command -v ninja >/dev/null 2>&1; then
  missing+=(ninja)
fi
if ((${#missing[@]})); then
  run "$PY" -m pip install "${PIP_SOURCE[@]}" "${missing[@]}"
fi
if [[ $DRY_RUN == 0 ]] && ! "$PY" -c 'import triton' >/dev/null 2>&1; then
  warn "triton does not import in $PY: Mamba2's fused path needs it (pip install triton matching torch $TORCH_VERSION)"
fi

# --- build ----------------------------------------------------------------------------------
run mkdir -p "$LOG_DIR" "$WHEEL_DIR"
build_env=(
  MAMBA_FORCE_BUILD=TRUE CAUSAL_CONV1D_FORCE_BUILD=TRUE
  "TORCH_CUDA_ARCH_LIST=$ARCHS"
  "PYTORCH_NVCC=$HERE/nvcc-local-arch" "EDGEPROBE_NVCC_REAL=$NVCC" "EDGEPROBE_CUDA_ARCHS=$ARCHS"
  "CUDA_HOME=$CUDA_DIR" "NINJA_STATUS=[ninja %f/%t] " "PATH=$PY_BIN_DIR:$CUDA_DIR/bin:$PATH"
)
build_command() {  # build_command NAME JOBS
  local stem=${SPEC[$1]%%==*}
  printf '%s\0' env "${build_env[@]}" "MAX_JOBS=$2" "$PY" -m pip wheel -v --no-cache-dir \
    --no-build-isolation --no-deps --no-binary "$stem" "${PIP_SOURCE[@]}" -w "$WHEEL_DIR" "${SPEC[$1]}"
}

# Both at once when there are cores to spare (causal-conv1d has only 4 compile units).
parallel=0
if ((${#TO_BUILD[@]} == 2 && JOBS >= 8)); then parallel=1; fi
declare -A JOBS_FOR PRIOR_S STARTED FINISHED_S
for name in "${TO_BUILD[@]}"; do
  if ((parallel)); then
    if [[ $name == causal-conv1d ]]; then JOBS_FOR[$name]=${UNITS[$name]}; else JOBS_FOR[$name]=$((JOBS - ${UNITS[causal-conv1d]})); fi
  else
    JOBS_FOR[$name]=$JOBS
  fi
  PRIOR_S[$name]=$(prior_estimate_s "${ROUND_S[$name]}" "${UNITS[$name]}" "${JOBS_FOR[$name]}")
done

if ((${#TO_BUILD[@]})); then
  total_prior=0
  for name in "${TO_BUILD[@]}"; do
    if ((parallel)); then
      ((PRIOR_S[$name] > total_prior)) && total_prior=${PRIOR_S[$name]}
    else
      total_prior=$((total_prior + PRIOR_S[$name]))
    fi
  done
  say "building ${TO_BUILD[*]} for $SM with $JOBS compile jobs$( ((parallel)) && echo ', side by side'); rough estimate $(fmt_duration "$total_prior"); logs in $LOG_DIR"
fi

if [[ $DRY_RUN == 1 ]]; then
  for name in "${TO_BUILD[@]}"; do
    mapfile -d '' -t command < <(build_command "$name" "${JOBS_FOR[$name]}")
    run "${command[@]}"
  done
else
  progress() {  # progress NAME -> "done/total" compile steps seen in its log
    local seen
    seen=$(grep -o '\[ninja [0-9]*/[0-9]*\]' "$LOG_DIR/$1.log" 2>/dev/null | tail -n 1 | tr -d '[]' || true)
    echo "${seen#ninja }"
  }
  start_build() {
    local name=$1
    mapfile -d '' -t command < <(build_command "$name" "${JOBS_FOR[$name]}")
    STARTED[$name]=$SECONDS
    {
      status=0
      "${command[@]}" >"$LOG_DIR/$name.log" 2>&1 || status=$?
      echo "$status" >"$LOG_DIR/$name.rc"
    } &
  }
  queue=("${TO_BUILD[@]}")
  running=()
  for name in "${queue[@]}"; do rm -f "$LOG_DIR/$name.rc"; done
  began=$SECONDS
  last_line='' last_print=0
  while ((${#queue[@]} || ${#running[@]})); do
    if ((${#running[@]} == 0 || (parallel && ${#queue[@]}))); then
      start_build "${queue[0]}"
      running+=("${queue[0]}")
      queue=("${queue[@]:1}")
      continue
    fi
    sleep 1
    parts=() left_s=0 still=()
    for name in "${running[@]}"; do
      elapsed=$((SECONDS - STARTED[$name]))
      if [[ -f $LOG_DIR/$name.rc ]]; then
        FINISHED_S[$name]=$elapsed
        [[ $(cat "$LOG_DIR/$name.rc") == 0 ]] || queue=()  # no point starting the next one
        continue
      fi
      still+=("$name")
      step=$(progress "$name")
      done_steps=${step%/*} total_steps=${step#*/}
      if [[ -n $step && $done_steps -gt 0 && $total_steps -ge $done_steps ]]; then
        remaining=$((elapsed * (total_steps - done_steps) / done_steps))
      else
        remaining=$((PRIOR_S[$name] > elapsed ? PRIOR_S[$name] - elapsed : 0))
      fi
      ((remaining > left_s)) && left_s=$remaining
      parts+=("$name ${step:-starting}")
    done
    running=("${still[@]}")
    for name in "${queue[@]}"; do left_s=$((left_s + PRIOR_S[$name])); done
    ((${#parts[@]})) || continue
    joined=$(printf '%s, ' "${parts[@]}")
    line="compiling for $SM: ${joined%, } | $(fmt_duration $((SECONDS - began))) elapsed, about $(fmt_duration "$left_s") left"
    if [[ -t 1 ]]; then
      printf '\r\033[K%s' "$line"
    elif [[ ${line%% |*} != "${last_line%% |*}" ]] || ((SECONDS - last_print >= 30)); then
      say "$line"
      last_print=$SECONDS
    fi
    last_line=$line
  done
  [[ -t 1 ]] && printf '\r\033[K'
  wait
  for name in "${TO_BUILD[@]}"; do
    rc=$(cat "$LOG_DIR/$name.rc" 2>/dev/null || echo 1)
    if [[ $rc != 0 ]]; then
      tail -n 25 "$LOG_DIR/$name.log" >&2
      hint=''
      grep -qiE 'killed|out of memory|cannot allocate' "$LOG_DIR/$name.log" && hint=' (it ran out of memory: try --jobs 1)'
      die 1 "building ${SPEC[$name]} failed$hint; full log: $LOG_DIR/$name.log"
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "${SPEC[$name]##*==}" "$SM" "${FINISHED_S[$name]:-0}" >>"$LOG_DIR/build-times.tsv"
    say "built ${SPEC[$name]} for $SM in ${FINISHED_S[$name]:-0} s"
  done
fi

# --- install and verify ---------------------------------------------------------------------
wheels=()
for name in "${TO_INSTALL[@]}"; do
  if [[ $DRY_RUN == 1 ]]; then
    stem=${SPEC[$name]%%==*}
    wheels+=("$WHEEL_DIR/${stem//-/_}-${SPEC[$name]##*==}-*.whl")
  else
    wheel=$(cached_wheel "$name")
    [[ -n $wheel ]] || die 1 "no wheel for ${SPEC[$name]} in $WHEEL_DIR after the build"
    wheels+=("$wheel")
  fi
done
run "$PY" -m pip install --no-deps --force-reinstall --no-index "${wheels[@]}"
[[ $DRY_RUN == 1 ]] && exit 0

for name in "${TO_INSTALL[@]}"; do
  installed_and_working "$name" || die 1 "${SPEC[$name]} installed but ${EXTENSION[$name]} does not load: see $LOG_DIR/$name.log"
  library=$("$PY" -c "import torch, ${EXTENSION[$name]} as m; print(m.__file__)" 2>/dev/null || true)
  if [[ -n $library && -x $CUDA_DIR/bin/cuobjdump ]]; then
    cubins=$("$CUDA_DIR/bin/cuobjdump" --list-elf "$library" 2>/dev/null | grep -o 'sm_[0-9]*[a-z]*' | sort -u | paste -sd ' ' -)
    note "${EXTENSION[$name]}: GPU code for ${cubins:-?}"
  fi
done
say "fused kernels ready for $SM"

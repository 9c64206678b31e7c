# shellcheck shell=bash
# Platform detection for install/*.sh. Reads /etc and /proc under $EDGEPROBE_SYSFS_ROOT (the
# sensor root, as edgeprobe itself does) and asks nvidia-smi on PATH, so tests can point both
# at recorded fixture trees and a stand-in program.
#
# detect_platform sets:
#   PLATFORM      jetson | gpu | cpu
#   BOARD         Jetson model or GPU name(s)
#   L4T           L4T release, e.g. 36.4.3 (Jetson only)
#   JETPACK_MAJOR 4 | 5 | 6 | 7 (Jetson only)
#   CUDA_ARCHS    compute capabilities to build for, e.g. "8.7" or "8.6;8.9" (empty on cpu)

sensor_path() { printf '%s/%s' "${EDGEPROBE_SYSFS_ROOT:-}" "${1#/}"; }

read_sensor() {
  local file
  file=$(sensor_path "$1")
  [[ -r $file ]] || return 1
  tr -d '\000' <"$file"
}

# "R36 (release), REVISION: 4.3" -> 36.4.3
parse_l4t() {
  sed -n 's/^.*R\([0-9][0-9]*\) (release), REVISION: \([0-9.]*\).*$/\1.\2/p' | head -n 1
}

jetpack_major_for_l4t() {
  case ${1%%.*} in
    32) echo 4 ;;
    35) echo 5 ;;
    36) echo 6 ;;
    38) echo 7 ;;
    *) echo "" ;;
  esac
}

# Jetson module -> CUDA compute capability of its integrated GPU.
cuda_arch_for_jetson_model() {
  local model
  model=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
  case $model in
    *thor*) echo 11.0 ;;
    *orin*) echo 8.7 ;;
    *xavier*) echo 7.2 ;;
    *tx2*) echo 6.2 ;;
    *nano* | *tx1*) echo 5.3 ;;
    *) echo "" ;;
  esac
}

# Distinct compute capabilities and names of the GPUs nvidia-smi sees; fails without a driver.
query_nvidia_smi() {
  command -v nvidia-smi >/dev/null 2>&1 || return 1
  nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null
}

# shellcheck disable=SC2034 # the variables are this function's output, read by the caller
detect_platform() {
  PLATFORM=cpu BOARD='' L4T='' JETPACK_MAJOR='' CUDA_ARCHS=''
  local release model answer
  release=$(read_sensor /etc/nv_tegra_release 2>/dev/null || true)
  model=$(read_sensor /proc/device-tree/model 2>/dev/null || true)
  if [[ -n $release || ${model,,} == *jetson* ]]; then
    PLATFORM=jetson
    BOARD=${model:-unknown Jetson}
    L4T=$(printf '%s\n' "$release" | parse_l4t)
    JETPACK_MAJOR=$(jetpack_major_for_l4t "$L4T")
    CUDA_ARCHS=$(cuda_arch_for_jetson_model "$model")
    return 0
  fi
  if answer=$(query_nvidia_smi) && [[ -n $answer ]]; then
    PLATFORM=gpu
    BOARD=$(printf '%s\n' "$answer" | cut -d, -f1 | sed 's/^ *//; s/ *$//' | sort -u | paste -sd '+' -)
    CUDA_ARCHS=$(printf '%s\n' "$answer" | cut -d, -f2 | tr -d ' ' | grep -E '^[0-9]+\.[0-9]+$' |
      sort -u | paste -sd ';' -)
  fi
}

# "8.7" -> "sm_87"; "8.6;8.9" -> "sm_86 sm_89"
sm_names() {
  local arch out=''
  for arch in ${1//;/ }; do out+="sm_${arch//./} "; done
  printf '%s' "${out% }"
}

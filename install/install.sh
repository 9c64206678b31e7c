#!/usr/bin/env bash
# Install edgeprobe on a Jetson, an x86 machine with an NVIDIA GPU, or a CPU-only machine.
#
# Usage: sudo install/install.sh [options]
#   --dry-run              print every command it would run; change nothing
#   --uninstall            remove the service, its user and group, sudoers rule and the
#                          environment (bundles in /var/lib/edgeprobe stay)
#   --kernels-only         build the fused kernels into the current environment and stop
#   --detect               print what this machine is (key=value lines) and stop
#   --prefix DIR           where the environment goes (default /opt/edgeprobe; venv in DIR/venv)
#   --python PY            with --kernels-only: the environment's interpreter
#                          (default: $VIRTUAL_ENV/bin/python, else python3)
#   --torch-wheel FILE|URL install torch from this wheel (a Jetson needs NVIDIA's build)
#   --torch-index URL      install torch from this package index
#   --from DIR             take packages and kernel sources from DIR only (no network)
#   --cuda-arch X.Y        build kernels for this compute capability instead of the detected one
#   --jobs N               parallel compile jobs for the kernels (default: by cores and memory)
#   --system-site-packages let the environment see system packages (e.g. a system torch)
#   --no-kernels --no-service --no-jtop   skip those steps
#   --force-kernels        rebuild the kernels even when they are installed and load
#   --log-dir DIR          build logs (default ~/.cache/edgeprobe/install-logs)
# Running it again is safe: every step checks what is already in place.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
# shellcheck source=install/lib/common.sh
. "$HERE/lib/common.sh"
# shellcheck source=install/lib/platform.sh
. "$HERE/lib/platform.sh"

SERVICE=edgeprobe-agent.service
GROUP=edgeprobe
SERVICE_USER=edgeprobe
STATE_DIR=/var/lib/edgeprobe
# jetson_clocks --store/--restore (as root, through sudo) keep the clocks here: a folder only
# root may write, since a restore writes whatever the file says (the unit names the file).
CLOCKS_DIR=/var/lib/edgeprobe-clocks
CLOCKS_FILE=$CLOCKS_DIR/jetson_clocks.conf
UNIT_PATH=/etc/systemd/system/$SERVICE
SYSUSERS_PATH=/etc/sysusers.d/edgeprobe.conf
SUDOERS_PATH=/etc/sudoers.d/edgeprobe
LINK_PATH=/usr/local/bin/edgeprobe
COMPLETION_PATH=/usr/share/bash-completion/completions/edgeprobe
JTOP_SOCKET=/run/jtop.sock

MODE=install PREFIX=/opt/edgeprobe PYTHON_ARG='' TORCH_WHEEL='' TORCH_INDEX='' FROM_DIR=''
CUDA_ARCH_ARG='' JOBS='' SYSTEM_SITE=0 KERNELS=1 SERVICE_STEP=1 JTOP=1 FORCE_KERNELS=0
LOG_DIR=${HOME:-/tmp}/.cache/edgeprobe/install-logs

usage() { sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --uninstall) MODE=uninstall; shift ;;
    --kernels-only) MODE=kernels; shift ;;
    --detect) MODE=detect; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --python) PYTHON_ARG=${2:?--python needs an interpreter}; shift 2 ;;
    --torch-wheel) TORCH_WHEEL=${2:?--torch-wheel needs a file or URL}; shift 2 ;;
    --torch-index) TORCH_INDEX=${2:?--torch-index needs a URL}; shift 2 ;;
    --from) FROM_DIR=${2:?--from needs a folder}; shift 2 ;;
    --cuda-arch) CUDA_ARCH_ARG=${2:?--cuda-arch needs e.g. 8.7}; shift 2 ;;
    --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
    --system-site-packages) SYSTEM_SITE=1; shift ;;
    --no-kernels) KERNELS=0; shift ;;
    --no-service) SERVICE_STEP=0; shift ;;
    --no-jtop) JTOP=0; shift ;;
    --force-kernels) FORCE_KERNELS=1; shift ;;
    --log-dir) LOG_DIR=${2:?--log-dir needs a folder}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
done
export DRY_RUN
[[ -z $FROM_DIR || -d $FROM_DIR ]] || die 2 "--from $FROM_DIR is not a folder"
[[ -n $FROM_DIR ]] && FROM_DIR=$(cd "$FROM_DIR" && pwd)
PIP_SOURCE=()
[[ -n $FROM_DIR ]] && PIP_SOURCE=(--no-index --find-links "$FROM_DIR")
VENV=$PREFIX/venv
VPY=$VENV/bin/python
INVOKING_USER=${SUDO_USER:-}
[[ $INVOKING_USER == root ]] && INVOKING_USER=''

detect_platform
[[ -n $CUDA_ARCH_ARG ]] && CUDA_ARCHS=$CUDA_ARCH_ARG

describe_platform() {
  case $PLATFORM in
    jetson) say "platform: Jetson ($BOARD), L4T ${L4T:-unknown}, JetPack ${JETPACK_MAJOR:-unknown}, GPU $(sm_names "$CUDA_ARCHS")" ;;
    gpu) say "platform: NVIDIA GPU ($BOARD), $(sm_names "$CUDA_ARCHS")" ;;
    cpu) say "platform: CPU only (no NVIDIA driver answered; no Jetson release file)" ;;
  esac
}

build_kernels() {  # build_kernels PYTHON
  [[ -n $CUDA_ARCHS ]] || die 2 "cannot tell this GPU's compute capability: pass --cuda-arch X.Y"
  local args=(--python "$1" --arch "$CUDA_ARCHS" --log-dir "$LOG_DIR")
  [[ -n $FROM_DIR ]] && args+=(--from "$FROM_DIR")
  [[ -n $JOBS ]] && args+=(--jobs "$JOBS")
  ((FORCE_KERNELS)) && args+=(--force)
  [[ $DRY_RUN == 1 ]] && args+=(--dry-run)
  "$HERE/build-kernels.sh" "${args[@]}"
}

# --- torch ------------------------------------------------------------------------------------
torch_status() {  # prints "VERSION CUDA" of the venv's torch, fails when it does not import
  [[ -x $VPY ]] && "$VPY" -c 'import torch; print(torch.__version__, torch.version.cuda or "none")' 2>/dev/null
}

install_torch() {
  local present version cuda
  if present=$(torch_status); then
    read -r version cuda <<<"$present"
    if [[ $PLATFORM == cpu || $cuda != none ]]; then
      note "torch $version already installed (CUDA $cuda)"
      return 0
    fi
    warn "torch $version in $VENV is a CPU build on a machine with an NVIDIA GPU: replacing it"
  fi
  if [[ -n $TORCH_WHEEL ]]; then
    run "$VPY" -m pip install "${PIP_SOURCE[@]}" "$TORCH_WHEEL"
  elif [[ -n $TORCH_INDEX ]]; then
    run "$VPY" -m pip install --index-url "$TORCH_INDEX" torch
  elif [[ $PLATFORM == jetson ]]; then
    die 2 "no torch for this Jetson: pass --torch-wheel FILE or --torch-index URL"
  elif [[ $PLATFORM == gpu ]]; then
    run "$VPY" -m pip install "${PIP_SOURCE[@]}" torch
  else
    run "$VPY" -m pip install --index-url https://download.pytorch.org/whl/cpu torch
  fi
}

# --- the environment and edgeprobe ------------------------------------------------------------
install_environment() {
  if [[ $PLATFORM == jetson ]] && ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
    as_root apt-get install -y libopenblas-dev  # NVIDIA's torch wheels link against OpenBLAS
  fi
  if [[ -x $VPY ]]; then
    note "environment $VENV exists"
  else
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
      command -v apt-get >/dev/null 2>&1 || die 1 "python3 has no venv module: install it (python3-venv)"
      as_root apt-get install -y python3-venv python3-pip
    fi
    local venv_args=()
    ((SYSTEM_SITE)) && venv_args+=(--system-site-packages)
    run mkdir -p "$PREFIX"
    run python3 -m venv "${venv_args[@]}" "$VENV"
    run "$VPY" -m pip install "${PIP_SOURCE[@]}" --upgrade pip setuptools wheel
  fi
  install_torch
  local extras=probe
  [[ $PLATFORM == jetson && $JTOP == 1 ]] && extras=probe,jetson
  run "$VPY" -m pip install "${PIP_SOURCE[@]}" "${REPO}[$extras]"
}

# --- jetson-stats: the jtop service is system-wide, its client goes into the environment ------
install_jtop() {
  if [[ -S $(sensor_path $JTOP_SOCKET) ]]; then
    note "jtop service is running ($JTOP_SOCKET)"
  else
    local pip_args=(-m pip install -U)
    # Ubuntu 24.04 marks the system Python externally managed; jetson-stats documents this flag.
    compgen -G "/usr/lib/python3*/EXTERNALLY-MANAGED" >/dev/null && pip_args+=(--break-system-packages)
    as_root python3 "${pip_args[@]}" "${PIP_SOURCE[@]}" jetson-stats
    as_root systemctl enable --now jtop.service
  fi
  if [[ -n $INVOKING_USER ]]; then
    as_root usermod -aG jtop "$INVOKING_USER"
  fi
}

# --- the agent as a system service ------------------------------------------------------------
# Bash completion of commands, options, model presets and suites (argcomplete), for every user.
install_completion() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '+ %s > %s\n' "$(quote_command "$VENV/bin/register-python-argcomplete" edgeprobe)" \
      "$COMPLETION_PATH"
    return
  fi
  local script
  script=$(mktemp)
  "$VENV/bin/register-python-argcomplete" edgeprobe >"$script"
  as_root install -D -m 0644 "$script" "$COMPLETION_PATH"
  rm -f "$script"
}

render_unit() {  # the unit file with ExecStart pointing into this environment
  sed "s|/opt/edgeprobe/venv/bin/edgeprobe|$VENV/bin/edgeprobe|" "$REPO/systemd/$SERVICE"
}

install_service() {
  if [[ ! -d /run/systemd/system && $DRY_RUN == 0 ]]; then
    warn "systemd is not running here: skipping the agent service (start it with 'edgeprobe agent')"
    return 0
  fi
  case $VENV in
    /home/* | /root/*) warn "the service cannot reach $VENV (ProtectHome): use --prefix outside home folders" ;;
  esac
  install_service_user
  if [[ $DRY_RUN == 1 ]]; then
    say "+ [root] install -m 0644 <systemd/$SERVICE with ExecStart=$VENV/bin/edgeprobe> $UNIT_PATH"
  elif ! render_unit | cmp -s - "$UNIT_PATH"; then
    render_unit | as_root tee "$UNIT_PATH" >/dev/null
    as_root chmod 0644 "$UNIT_PATH"
  fi
  if [[ $PLATFORM == jetson ]]; then
    as_root install -d -m 0755 -o root -g root "$CLOCKS_DIR"
  fi
  if [[ $PLATFORM != cpu ]]; then
    install_sudoers
  fi
  as_root ln -sfn "$VENV/bin/edgeprobe" "$LINK_PATH"
  install_completion
  if [[ -n $INVOKING_USER ]]; then
    as_root usermod -aG "$GROUP" "$INVOKING_USER"
  fi
  as_root systemctl daemon-reload
  as_root systemctl enable "$SERVICE"
  as_root systemctl restart "$SERVICE"
}

# The service user (and its group, whose members are the people who use the agent). The
# agent runs suites as this user: it needs the GPU devices (group video on a Jetson, render
# for /dev/dri) and jtop's socket (group jtop), where those groups exist.
install_service_user() {
  as_root install -D -m 0644 "$REPO/systemd/edgeprobe.sysusers.conf" "$SYSUSERS_PATH"
  if command -v systemd-sysusers >/dev/null 2>&1; then
    as_root systemd-sysusers "$SYSUSERS_PATH"
  else
    getent group "$GROUP" >/dev/null 2>&1 || as_root groupadd --system "$GROUP"
    getent passwd "$SERVICE_USER" >/dev/null 2>&1 ||
      as_root useradd --system --gid "$GROUP" --home-dir "$STATE_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "edgeprobe agent" "$SERVICE_USER"
  fi
  local group groups=(video render)
  [[ $PLATFORM == jetson && $JTOP == 1 ]] && groups+=(jtop)
  for group in "${groups[@]}"; do
    if [[ $DRY_RUN == 1 ]] || getent group "$group" >/dev/null 2>&1; then
      as_root usermod -aG "$group" "$SERVICE_USER"
    fi
  done
}

# The power commands edgeprobe runs through `sudo -n`, exactly as it runs them, for the
# group edgeprobe (the service user and the people in the group); nothing else. In sudoers,
# [0-9] stands for one digit and "" for no arguments at all.
sudoers_rule() {
  local commands
  if [[ $PLATFORM == jetson ]]; then
    local nvpmodel jetson_clocks
    nvpmodel=$(command -v nvpmodel || echo /usr/sbin/nvpmodel)
    jetson_clocks=$(command -v jetson_clocks || echo /usr/bin/jetson_clocks)
    commands="$nvpmodel -m [0-9], $nvpmodel -m [0-9][0-9], $jetson_clocks \"\", \\
    $jetson_clocks --store $CLOCKS_FILE, $jetson_clocks --restore $CLOCKS_FILE"
  else
    local smi
    smi=$(command -v nvidia-smi || echo /usr/bin/nvidia-smi)
    commands="$smi -i [0-9] -pl [1-9][0-9], $smi -i [0-9] -pl [1-9][0-9][0-9], \\
    $smi -i [0-9] -pl [1-9][0-9][0-9][0-9]"
  fi
  printf '# Written by edgeprobe install/install.sh: the power commands edgeprobe runs.\n'
  printf 'Cmnd_Alias EDGEPROBE_POWER = %s\n' "$commands"
  printf '%%%s ALL=(root) NOPASSWD: EDGEPROBE_POWER\n' "$GROUP"
}

install_sudoers() {
  if [[ $DRY_RUN == 1 ]]; then
    say "+ [root] install -m 0440 <the rule below> $SUDOERS_PATH (checked with visudo -cf)"
    sudoers_rule | sed 's/^/    /'
    return 0
  fi
  local staged
  staged=$(mktemp)
  sudoers_rule >"$staged"
  visudo -cf "$staged" >/dev/null || die 1 "the sudoers rule did not validate: $(tr '\n' ' ' <"$staged")"
  as_root install -m 0440 "$staged" "$SUDOERS_PATH"
  rm -f "$staged"
}

uninstall() {
  if [[ -e $UNIT_PATH || $DRY_RUN == 1 ]]; then
    # Runs outlive the agent (KillMode=process): end them too (SIGTERM: each restores its
    # power settings and closes its bundle), then wait for them to go.
    as_root systemctl kill --kill-whom=all "$SERVICE" || true
    as_root systemctl disable --now "$SERVICE"
    if [[ $DRY_RUN == 0 ]]; then
      wait_for_runs
    fi
    as_root rm -f "$UNIT_PATH"
    as_root systemctl daemon-reload
  fi
  as_root rm -f "$SUDOERS_PATH" "$SYSUSERS_PATH"
  as_root rm -rf "$CLOCKS_DIR"
  if [[ -L $LINK_PATH || $DRY_RUN == 1 ]]; then
    as_root rm -f "$LINK_PATH" "$COMPLETION_PATH"
  fi
  if getent passwd "$SERVICE_USER" >/dev/null 2>&1 || [[ $DRY_RUN == 1 ]]; then
    as_root userdel "$SERVICE_USER" || warn "could not remove user $SERVICE_USER: remove it with 'userdel $SERVICE_USER' once its processes are gone"
  fi
  if getent group "$GROUP" >/dev/null 2>&1 || [[ $DRY_RUN == 1 ]]; then
    as_root groupdel "$GROUP"
  fi
  if [[ -d $VENV || $DRY_RUN == 1 ]]; then
    as_root rm -rf "$VENV"
  fi
  say "edgeprobe removed; bundles in /var/lib/edgeprobe and ~/.local/share/edgeprobe were kept"
}

wait_for_runs() {  # up to 90 s for the service user's processes to end
  local waited=0
  while pgrep -u "$SERVICE_USER" >/dev/null 2>&1 && ((waited < 90)); do
    sleep 1
    waited=$((waited + 1))
  done
}

# --- main -------------------------------------------------------------------------------------
case $MODE in
  detect)
    printf 'platform=%s\nboard=%s\nl4t=%s\njetpack=%s\ncuda_archs=%s\n' \
      "$PLATFORM" "$BOARD" "$L4T" "$JETPACK_MAJOR" "$CUDA_ARCHS"
    exit 0
    ;;
  uninstall)
    uninstall
    exit 0
    ;;
  kernels)
    describe_platform
    [[ $PLATFORM != cpu || -n $CUDA_ARCH_ARG ]] ||
      die 2 "no NVIDIA GPU found (nvidia-smi did not answer, no Jetson release file): the fused kernels need one; pass --cuda-arch X.Y to build anyway"
    python=${PYTHON_ARG:-${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}}
    build_kernels "${python:-python3}"
    exit 0
    ;;
esac

describe_platform
if [[ $PLATFORM == jetson && -z $TORCH_WHEEL && -z $TORCH_INDEX ]] && ! torch_status >/dev/null &&
  ! ((SYSTEM_SITE)); then
  die 2 "a Jetson needs NVIDIA's torch build for JetPack ${JETPACK_MAJOR:-?} (L4T ${L4T:-?}); PyPI's aarch64 torch has no CUDA for Tegra. Download the wheel NVIDIA publishes for your JetPack ('PyTorch for Jetson') and pass --torch-wheel FILE, or --torch-index URL of an index that serves it; or, with torch installed system-wide, pass --system-site-packages"
fi
install_environment
if [[ $PLATFORM == jetson && $JETPACK_MAJOR == 4 ]]; then
  warn "JetPack 4 ships CUDA 10.2; mamba-ssm and causal-conv1d need CUDA 11.6 or newer: SSM models will run the reference path"
elif [[ $PLATFORM != cpu && $KERNELS == 1 ]]; then
  build_kernels "$VPY"
fi
if [[ $PLATFORM == jetson && $JTOP == 1 ]]; then
  install_jtop
fi
if ((SERVICE_STEP)); then
  install_service
fi
say "checking the installation:"
if [[ $DRY_RUN == 1 ]]; then
  run "$VENV/bin/edgeprobe" doctor
  exit 0
fi
exec "$VENV/bin/edgeprobe" doctor

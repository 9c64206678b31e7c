# shellcheck shell=bash
# Shared helpers for install/*.sh: messages, dry-run aware command runner, root escalation.

DRY_RUN=${DRY_RUN:-0}

say() { printf '%s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
warn() { printf 'edgeprobe-install: warning: %s\n' "$*" >&2; }
die() {
  # die CODE MESSAGE: one line on stderr, then exit with CODE (2: bad input, 1: failure).
  local code=$1
  shift
  printf 'edgeprobe-install: %s\n' "$*" >&2
  exit "$code"
}

quote_command() {
  local out='' word
  for word in "$@"; do
    if [[ $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+="$word "
    else
      out+="'${word//\'/\'\\\'\'}' "
    fi
  done
  printf '%s' "${out% }"
}

# run CMD...: run it, or under --dry-run print it as "+ CMD" and change nothing.
run() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '+ %s\n' "$(quote_command "$@")"
  else
    "$@"
  fi
}

# as_root CMD...: run as root (directly, or through sudo); dry-run prints "+ [root] CMD".
as_root() {
  if [[ $DRY_RUN == 1 ]]; then
    printf '+ [root] %s\n' "$(quote_command "$@")"
  elif [[ $(id -u) -eq 0 ]]; then
    "$@"
  else
    command -v sudo >/dev/null 2>&1 || die 1 "'$1' needs root and sudo is missing: run this script as root"
    sudo "$@"
  fi
}

# fmt_duration SECONDS -> "4m05s" / "38s"
fmt_duration() {
  local s=$1
  if ((s >= 60)); then
    printf '%dm%02ds' $((s / 60)) $((s % 60))
  else
    printf '%ds' "$s"
  fi
}

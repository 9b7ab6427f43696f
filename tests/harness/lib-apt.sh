#!/usr/bin/env bash
# Sourced by the ensure-*tools.sh scripts: install_missing LABEL PACKAGE... installs the named Debian
# packages with apt as root, or says what to install and fails where that cannot be done here.
install_missing() {
  local label=$1
  shift
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$label: missing $*; install them (Debian/Ubuntu: apt-get install $*)" >&2
    return 1
  fi
  echo "$label: installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

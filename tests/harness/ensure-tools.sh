#!/usr/bin/env bash
# Host tools the tests need beyond Python: shellcheck (ansible-test sanity's shellcheck test skips
# itself without it) and debootstrap (test images where no registry answers). apt, when missing.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap debian-archive-keyring)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -eq 0 ]; then
  echo "tools: shellcheck, debootstrap, git present"
  exit 0
fi
# shellcheck source=tests/harness/lib-apt.sh
source "$(dirname "$0")/lib-apt.sh"
install_missing tools "${missing[@]}"

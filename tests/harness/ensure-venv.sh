#!/usr/bin/env bash
# Create (or reuse) a project-local virtual environment from a pinned requirements file:
#   ensure-venv.sh                 .venv from requirements-dev.txt (the developer tool chain)
#   ensure-venv.sh VENV REQS       any other, e.g. the publishing tools (tests/harness/requirements-publish.txt)
# Reused while the requirements file is unchanged (its sha256 is stamped in the venv).
set -euo pipefail

cd "$(dirname "$0")/../.."
venv=${1:-${DLSTACK_VENV:-.venv}}
reqs=${2:-requirements-dev.txt}
python=${PYTHON:-python3}
want=$(sha256sum "$reqs" | cut -d' ' -f1)
stamp=$venv/.labops-requirements.sha256

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "venv: $venv up to date"
  exit 0
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "venv: $python is $("$python" --version 2>&1); ansible-core 2.19 needs Python 3.11 or newer" >&2
  exit 1
fi
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "venv: installing python3-venv"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

start=$SECONDS
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q -r "$reqs" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$want" >"$stamp"
echo "venv: $venv built from $reqs in $((SECONDS - start))s ($("$venv/bin/ansible" --version | head -n1))"

#!/usr/bin/env bash
# Create (or reuse) the project-local virtual environment .venv from the pinned requirements.txt.
# Reused while requirements.txt is unchanged (its sha256 is stamped in the venv).
set -euo pipefail

cd "$(dirname "$0")/../.."
venv=${DLSTACK_VENV:-.venv}
python=${PYTHON:-python3}
want=$(sha256sum requirements.txt | cut -d' ' -f1)
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
"$venv/bin/python" -m pip install -q -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$want" >"$stamp"
echo "venv: $venv built in $((SECONDS - start))s ($("$venv/bin/ansible" --version | head -n1))"

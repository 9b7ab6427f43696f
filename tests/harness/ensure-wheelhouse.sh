#!/usr/bin/env bash
# A complete offline wheelhouse for the test containers and the demo lab: the CPU build of torch
# and every wheel it depends on, collected once on this connected machine and then mounted
# read-only into containers, which install from it with no index at all (what an air-gapped lab
# does with a wheelhouse carried in). Wheels for CPython 3.11 on x86_64 (Debian 12 python3),
# whatever Python runs this. Reused while the torch pin is unchanged.
#   DLSTACK_TORCH_PIN    torch requirement (default torch==2.13.0+cpu, cp311 like Debian 12's python3)
#   DLSTACK_TORCH_INDEX  index holding that build where no local find-links folder has it
#                        (default https://download.pytorch.org/whl/cpu)
#   DLSTACK_WHEELHOUSE_EXTRA  the other pins (default: uv, pip and NumPy, below)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/.cache/wheelhouse}
pin=${DLSTACK_TORCH_PIN:-torch==2.13.0+cpu}
# uv for pytorch_env's tool venv (keep equal to the role's pytorch_env_uv_version), pip, which
# every shared torch layer carries so users can add packages with `python -m pip`, and NumPy in the
# range pytorch_env installs with torch 2.13 on Python 3.11 (numpy_requirement in
# plugins/module_utils/_pytorch_env.py; a unit test keeps the two equal)
read -r -a extra_pins <<<"${DLSTACK_WHEELHOUSE_EXTRA:-uv==0.13.9 pip==26.3 numpy>=1.26.2,<3}"
python=${PYTHON:-python3}
stamp=$dest/.labops-pin
wheels() { find "$dest/" -maxdepth 1 -name '*.whl' | wc -l; }

if [ "$(cat "$stamp" 2>/dev/null)" = "$pin ${extra_pins[*]}" ]; then
  echo "wheelhouse: $dest up to date ($pin, $(wheels) wheels)"
  exit 0
fi
mkdir -p "$dest"
extra=()
# pip's own find-links (this machine has one holding the CPU torch build): no index needed for torch
links=$("$python" -m pip config get global.find-links 2>/dev/null || true)
version=${pin#*==}
if [ -z "$(find "${links:-/nonexistent}" -maxdepth 1 -name "torch-${version}-*.whl" 2>/dev/null)" ]; then
  extra=(--extra-index-url "${DLSTACK_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}")
fi
start=$SECONDS
"$python" -m pip download -q --disable-pip-version-check --only-binary=:all: --dest "$dest" \
  --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any "${extra[@]}" "$pin" "${extra_pins[@]}" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$pin ${extra_pins[*]}" >"$stamp"
echo "wheelhouse: $dest ($pin, ${extra_pins[*]} and their dependencies: $(wheels) wheels, $(du -sh "$dest/" | cut -f1)) in $((SECONDS - start))s"

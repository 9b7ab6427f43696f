#!/usr/bin/env bash
# ansible-test sanity for the collection, run from a copy laid out as
# .cache/ansible-test/ansible_collections/labops/dlstack (ansible-test needs that path).
# Offline-safe: pre-seeds ansible-test's pip bootstrap cache with tests/harness/get_pip_shim.py.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${DLSTACK_VENV:-$root/.venv}
dest=$root/.cache/ansible-test/ansible_collections/labops/dlstack
py=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ansible-test asks for pip 24.2 in 2.19; seed every version it may ask for with the shim.
pipver=$("$venv/bin/python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class P:  # stand-in for PythonConfig: only .version is read
    version = ''
print(get_venv_packages(P())['pip'])
PY
)
cache=$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py
mkdir -p "$(dirname "$cache")"
cmp -s "$root/tests/harness/get_pip_shim.py" "$cache" 2>/dev/null || cp "$root/tests/harness/get_pip_shim.py" "$cache"

# Lay out the collection: the files git tracks or would track (not ignored), nothing else.
rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z -co --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$dest" -xf -

cd "$dest"
# ansible-test finds its targets through git; the copy gets a throwaway index of exactly these files.
git init -q . && git add -A
export PATH=$venv/bin:$PATH
exec ansible-test sanity --python "$py" --color no "$@"

#!/usr/bin/env bash
# The offline kit tests/gpu/reference-host.sh installs from (the reference GPU host has no network):
#   - ansible-core at the version requirements-dev.txt pins (what CI tests), with its dependencies at
#     requirements-dev.txt's versions, as binary wheels for one CPython on manylinux x86_64;
#   - pip, run from its own wheel to install them (neither python3 on the host needs pip);
#   - community.general, a dependency of the collection (galaxy.yml; cuda_toolkit uses its
#     alternatives module), as a collection tarball made from the venv's `ansible` package.
#
#   bash tests/gpu/fetch-kit.sh 3.12 [DEST]   # the reference host (Ubuntu 24.04, /usr/bin/python3 3.12)
#   bash tests/gpu/fetch-kit.sh 3.11 [DEST]   # the rehearsal (labops-dlstack/debian:12, python3 3.11)
# DEST defaults to .cache/gpu-kit/cpXY (ignored by git). Reused while its MANIFEST matches.
set -euo pipefail
cd "$(dirname "$0")/../.."
pyver=${1:-3.12}
case $pyver in 3.1[0-9]) ;; *) echo "fetch-kit: python version '$pyver' is not 3.10..3.19" >&2; exit 2 ;; esac
tag=cp${pyver/./}
dest=${2:-.cache/gpu-kit/$tag}
venv=${DLSTACK_VENV:-.venv}
# pip bootstraps from its wheel (python3 pip-X.whl/pip install ..., as pip's documentation describes)
pip_pin=${DLSTACK_GPU_KIT_PIP:-25.3}
# The controller's runtime dependencies of ansible-core, pinned as requirements-dev.txt pins them.
names='ansible-core|jinja2|markupsafe|pyyaml|packaging|cryptography|cffi|pycparser|resolvelib'
constraints=$(grep -iE "^($names)==" requirements-dev.txt | sed 's/ *#.*//')
ansible_core=$(sed -n 's/^ansible-core==\([^ ]*\).*/\1/p' requirements-dev.txt)
cg_dir=$("$venv/bin/python" -c 'import ansible_collections, os; print(os.path.join(list(ansible_collections.__path__)[0], "community", "general"))')
cg_version=$("$venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["collection_info"]["version"])' "$cg_dir/MANIFEST.json")
want="python=$pyver ansible-core=$ansible_core pip=$pip_pin community.general=$cg_version $(echo "$constraints" | tr '\n' ' ')"
if [ -f "$dest/MANIFEST" ] && [ "$(head -1 "$dest/MANIFEST")" = "$want" ]; then
  echo "fetch-kit: $dest is current ($want)"
  exit 0
fi
rm -rf "$dest"
mkdir -p "$dest"
printf '%s\n' "$constraints" > "$dest/constraints.txt"
# glibc: Ubuntu 24.04 has 2.39, Debian 12 2.36; manylinux_2_35 and older run on both.
platforms=()
for p in manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_28_x86_64 manylinux_2_27_x86_64 \
         manylinux_2_17_x86_64 manylinux2014_x86_64; do platforms+=(--platform "$p"); done
"$venv/bin/python" -m pip download --disable-pip-version-check --quiet --only-binary=:all: \
  --python-version "$pyver" --implementation cp "${platforms[@]}" \
  -c "$dest/constraints.txt" -d "$dest" "ansible-core==$ansible_core" "pip==$pip_pin"
# A wheel with a .data directory would need more than unpacking; say so rather than half-install.
for w in "$dest"/*.whl; do
  "$venv/bin/python" - "$w" <<'PY'
import sys, zipfile
if any(n.split('/', 1)[0].endswith('.data') for n in zipfile.ZipFile(sys.argv[1]).namelist()):
    sys.exit('fetch-kit: %s carries a .data directory: check that it installs completely' % sys.argv[1])
PY
done
# community.general exactly as the venv's `ansible` package ships it (that package leaves out some
# files its FILES.json lists, so `ansible-galaxy collection install` would refuse it: the host
# unpacks it into its collections path instead).
tar -C "$(dirname "$(dirname "$cg_dir")")" --exclude=__pycache__ -czf "$dest/community-general-$cg_version.tar.gz" community/general
{
  echo "$want"
  (cd "$dest" && sha256sum -- *.whl *.tar.gz)
} > "$dest/MANIFEST"
echo "fetch-kit: $dest ($(du -sh "$dest" | cut -f1)):"
(cd "$dest" && ls -1 -- *.whl *.tar.gz)

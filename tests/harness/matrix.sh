#!/usr/bin/env bash
# The ansible-core version matrix (`make matrix`): ansible-test sanity and the unit tests on each
# release given (the Makefile's MATRIX_CORE_VERSIONS), beside the venv's 2.19 on Python 3.11 that
# `make sanity` and `make unit` cover. ansible-core 2.20 and later need Python 3.12+, so each runs in
# a container from the Debian 13 test image (python3 3.13) with that release in a venv:
#   matrix.sh 2.20.10 2.21.5
# Heavy (containers, both cores): run it under the shared lock. One image per release
# (labops-dlstack/matrix:core-X.Y.Z), cached by recipe; ansible-test's own sanity venvs are kept in
# .cache/matrix/X.Y.Z/ between runs. Packages come from PyPI, trusting DLSTACK_CA_BUNDLE.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
base=${DLSTACK_MATRIX_BASE:-labops-dlstack/debian:13}
ca=${DLSTACK_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
work=$root/.cache/matrix
[ $# -gt 0 ] || { echo "usage: $0 ANSIBLE_CORE_VERSION..." >&2; exit 2; }
docker image inspect "$base" >/dev/null || { echo "matrix: $base missing (make images)" >&2; exit 1; }
mkdir -p "$work"

# The collection as sanity.sh lays it out: the files git tracks or would track, nothing else.
git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf "$work/collection.tar" 2>/dev/null

cat >"$work/in-container.sh" <<'SH'
#!/bin/bash
# Runs inside the matrix container: lay out the collection, seed ansible-test's pip bootstrap with
# the shim (as tests/harness/sanity.sh does), then sanity and the unit tests.
set -euo pipefail
dest=/work/ansible_collections/labops/dlstack
mkdir -p "$dest" && cd "$dest" && tar -xf /in/collection.tar
git init -q . && git add -A
py=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pipver=$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
class P:  # stand-in for PythonConfig: only .version is read
    version = ''
print(get_venv_packages(P())['pip'])
PY
)
mkdir -p ~/.ansible/test/cache && cp /in/get_pip_shim.py ~/.ansible/test/cache/get_pip_${pipver//./_}.py
echo "== ansible-core $(python -c 'import ansible; print(ansible.__version__)') on Python $py: ansible-test sanity"
ansible-test sanity --python "$py" --color no
echo "== ansible-core $(python -c 'import ansible; print(ansible.__version__)') on Python $py: unit tests"
python -m pytest tests/unit -q -p no:cacheprovider
SH

for version in "$@"; do
  image=labops-dlstack/matrix:core-$version
  ctx=$work/image-$version
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$ca" "$ctx/build-ca.crt"
  cp tests/harness/requirements-matrix.txt "$ctx/"
  cat >"$ctx/Dockerfile" <<EOF
FROM $base
COPY build-ca.crt /usr/local/share/ca-certificates/labops-dlstack-build-ca.crt
RUN update-ca-certificates >/dev/null \\
 && printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\ndisable-pip-version-check = true\\n' >/etc/pip.conf \\
 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    python3-venv git shellcheck >/dev/null && rm -rf /var/lib/apt/lists/*
COPY requirements-matrix.txt /tmp/requirements-matrix.txt
RUN python3 -m venv /opt/ansible-core \\
 && /opt/ansible-core/bin/pip install -q -r /tmp/requirements-matrix.txt ansible-core==$version
ENV PATH=/opt/ansible-core/bin:\$PATH
EOF
  recipe=$( { cat "$ctx/Dockerfile" "$ctx/requirements-matrix.txt" "$ctx/build-ca.crt"; docker image inspect -f '{{.Id}}' "$base"; } | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{ index .Config.Labels "org.labops.dlstack.recipe" }}' "$image" 2>/dev/null || true)
  if [ "$have" != "$recipe" ]; then
    start=$SECONDS
    docker build -q --label "org.labops.dlstack.recipe=$recipe" -t "$image" "$ctx" >/dev/null
    echo "matrix: $image built in $((SECONDS - start))s"
  fi
  mkdir -p "$work/$version/ansible-test"
  start=$SECONDS
  status=0
  docker run --rm --name "dlstack-publish-matrix-${version//./-}" \
    -v "$work/collection.tar:/in/collection.tar:ro" \
    -v "$work/in-container.sh:/in/run.sh:ro" \
    -v "$root/tests/harness/get_pip_shim.py:/in/get_pip_shim.py:ro" \
    -v "$work/$version/ansible-test:/root/.ansible/test" \
    "$image" bash /in/run.sh >"$work/$version.log" 2>&1 || status=$?
  if [ "$status" != 0 ]; then
    tail -n 60 "$work/$version.log" >&2
    echo "matrix: ansible-core $version failed (log $work/$version.log)" >&2
    exit 1
  fi
  units=$(grep -E '^[0-9]+ passed' "$work/$version.log" | tail -n1)
  sanity=$(grep -c '^Running sanity test' "$work/$version.log" || true)
  echo "matrix: ansible-core $version (Python 3.13): ansible-test sanity clean ($sanity tests), unit tests $units ($((SECONDS - start))s)"
done

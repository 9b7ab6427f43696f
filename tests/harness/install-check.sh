#!/usr/bin/env bash
# A new user's first steps, from the built tarball and nothing of this checkout (`make install-check`):
# what README.md's "Installing the collection" says, in a fresh directory outside the checkout, with
# a fresh venv holding only ansible-core (the pin of requirements-dev.txt) and none of the harness's
# ANSIBLE_* settings:
#   1. ansible-galaxy collection install --offline the tarball and community.general's (the bundle
#      `ansible-galaxy collection download` makes on a connected machine; rebuilt here from the
#      pinned ansible package by tests/harness/dep_collections.py), into ./collections via ansible.cfg;
#   2. ansible-doc shows a role's example and a module's docs from the installed copy;
#   3. the example localhost inventory copied out of the installed collection, and
#      labops.dlstack.gpu_report run with it: the probe on this machine (read-only, no become),
#      the fleet report written beside the inventory; no warning on the way.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
version=$(sed -n 's/^version: *//p' "$root/galaxy.yml")
tarball=$root/.cache/build/labops-dlstack-$version.tar.gz
[ -f "$tarball" ] || { echo "install-check: $tarball missing (make build first)" >&2; exit 1; }
core=$(sed -n 's/^ansible-core==\([0-9.]*\).*/\1/p' "$root/requirements-dev.txt")
fresh=$(mktemp -d "${TMPDIR:-/tmp}/labops-dlstack-newuser.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
trap 'echo "install-check: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
start=$SECONDS

mkdir -p "$fresh/bundle" "$fresh/lab"
cp "$tarball" "$fresh/bundle/"
"$root/.venv/bin/python" "$root/tests/harness/dep_collections.py" --artifacts "$fresh/bundle" >/dev/null
python3 -m venv "$fresh/venv"
"$fresh/venv/bin/pip" install -q "ansible-core==$core" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

cd "$fresh/lab"
# From here on, only what the README tells a user to type, in a clean environment.
run() { env -i HOME="$fresh/home" PATH="$fresh/venv/bin:/usr/bin:/bin" LANG=C.UTF-8 "$@"; }
cat >ansible.cfg <<'EOF'
[defaults]
collections_path = ./collections
EOF
run ansible-galaxy collection install --offline "$fresh"/bundle/*.tar.gz >install.log 2>&1 \
  || { cat install.log >&2; exit 1; }
run ansible-galaxy collection list labops.dlstack >list.log 2>&1
grep -q "^labops.dlstack  *$version" list.log || { cat list.log >&2; echo "install-check: labops.dlstack $version not installed" >&2; exit 1; }
run ansible-doc -t role labops.dlstack.pytorch_env >role-doc.log 2>&1
grep -q "EXAMPLES" role-doc.log || { head -n 40 role-doc.log >&2; echo "install-check: no example in ansible-doc -t role" >&2; exit 1; }
run ansible-doc labops.dlstack.gpu_facts >module-doc.log 2>&1

mkdir -p inventories
cp -r collections/ansible_collections/labops/dlstack/inventories/localhost inventories/localhost
run ansible-playbook -i inventories/localhost/hosts.yml labops.dlstack.gpu_report >run.log 2>&1 \
  || { cat run.log >&2; echo "install-check: labops.dlstack.gpu_report failed" >&2; exit 1; }
if grep -q '\[WARNING\]\|\[DEPRECATION WARNING\]' run.log install.log; then
  grep -h '\[WARNING\]\|\[DEPRECATION WARNING\]' run.log install.log >&2
  echo "install-check: warnings on a new user's first run" >&2
  exit 1
fi
report=inventories/localhost/reports/gpu_report.json
[ -s "$report" ] || { cat run.log >&2; echo "install-check: no $report" >&2; exit 1; }
status=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d host(s), status %s" % (r["summary"]["hosts"], r["rows"][0]["status"]))' "$report")
echo "install-check: tarball + community.general installed offline into a fresh directory with ansible-core $core only;" \
  "ansible-doc reads them; gpu_report from the copied localhost inventory wrote $report ($status), no warnings ($((SECONDS - start))s)"

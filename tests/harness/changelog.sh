#!/usr/bin/env bash
# The changelog and the release procedure (antsibull-changelog; config in changelogs/config.yaml).
#   changelog.sh check     `make changelog`: lint the fragments and changelog.yaml, check CHANGELOG.rst
#                          is what changelog.yaml generates (absent before the first release), and try
#                          the release of galaxy.yml's version in a scratch copy of the checkout
#   changelog.sh release   `make release`: the release itself, in this checkout (then commit and tag)
# A release takes the version from galaxy.yml, gathers every fragment of changelogs/fragments/ (and
# the modules, plugins and roles whose version_added is that version) into changelogs/changelog.yaml,
# deletes the fragments and writes CHANGELOG.rst.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${DLSTACK_VENV:-$root/.venv}
export PATH=$venv/bin:$PATH
mode=${1:-check}
version=$(sed -n 's/^version: *//p' "$root/galaxy.yml")

released() {  # is $version in changelog.yaml of directory $1?
  "$venv/bin/python" - "$1/changelogs/changelog.yaml" "$version" <<'PY'
import sys, yaml
releases = (yaml.safe_load(open(sys.argv[1])) or {}).get('releases') or {}
sys.exit(0 if sys.argv[2] in releases else 1)
PY
}

fragments() { find "$1/changelogs/fragments" -maxdepth 1 -type f -name '*.yml' | sort; }

# A copy of the checkout (the files git tracks or would track) that resolves as labops.dlstack,
# for antsibull-changelog, which asks ansible-doc about the collection's plugins and roles.
scratch_copy() {
  local dest=$1
  rm -rf "$dest" && mkdir -p "$dest/tree" "$dest/collections/ansible_collections/labops"
  (cd "$root" && git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) \
    | tar -C "$dest/tree" -xf -
  ln -sfn "$dest/tree" "$dest/collections/ansible_collections/labops/dlstack"
}

release_in() {  # the release procedure on directory $1, resolved through collections path $2
  (cd "$1" && ANSIBLE_COLLECTIONS_PATH=$2 antsibull-changelog release --version "$version")
}

case $mode in
check)
  (cd "$root" && antsibull-changelog lint && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml)
  # outside the checkout: antsibull-changelog copies the collection with git's view of it, and
  # inside the checkout's ignored .cache/ git would show it nothing
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/labops-dlstack-changelog.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  if "$venv/bin/python" -c 'import sys, yaml; sys.exit(0 if (yaml.safe_load(open(sys.argv[1])) or {}).get("releases") else 1)' \
      "$root/changelogs/changelog.yaml"; then
    # CHANGELOG.rst must be what changelog.yaml generates
    scratch_copy "$scratch"
    (cd "$scratch/tree" && ANSIBLE_COLLECTIONS_PATH=$scratch/collections antsibull-changelog generate >/dev/null)
    if ! cmp -s "$scratch/tree/CHANGELOG.rst" "$root/CHANGELOG.rst"; then
      echo "changelog: CHANGELOG.rst is not what changelogs/changelog.yaml generates (run antsibull-changelog generate):" >&2
      diff -u "$root/CHANGELOG.rst" "$scratch/tree/CHANGELOG.rst" >&2 || true
      exit 1
    fi
    echo "changelog: CHANGELOG.rst is current"
  elif [ -e "$root/CHANGELOG.rst" ]; then
    echo "changelog: CHANGELOG.rst exists but changelogs/changelog.yaml has no release" >&2
    exit 1
  fi
  if released "$root"; then
    echo "changelog: $version is released; bump galaxy.yml's version before the next release ($(fragments "$root" | wc -l) fragment(s) waiting)"
    exit 0
  fi
  # Try the release in a scratch copy: it must gather every fragment and list every role, module
  # and plugin, and leave a changelog that lints and generates.
  scratch_copy "$scratch"
  mapfile -t pending < <(fragments "$scratch/tree")
  [ "${#pending[@]}" -gt 0 ] || { echo "changelog: no fragments for $version in changelogs/fragments/" >&2; exit 1; }
  release_in "$scratch/tree" "$scratch/collections" >/dev/null
  tree=$scratch/tree
  fail() { echo "changelog: release dry-run of $version: $*" >&2; exit 1; }
  released "$tree" || fail "changelog.yaml has no release $version"
  [ -z "$(fragments "$tree")" ] || fail "fragments left behind: $(fragments "$tree" | xargs -n1 basename | tr '\n' ' ')"
  grep -qx "v$version" "$tree/CHANGELOG.rst" || fail "CHANGELOG.rst has no v$version section"
  (cd "$tree" && antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml) || fail "changelog.yaml does not lint"
  "$venv/bin/python" - "$tree/changelogs/changelog.yaml" "$version" "${pending[@]}" <<'PY' || fail "fragments missing from the release"
import os, sys, yaml
changes = yaml.safe_load(open(sys.argv[1]))['releases'][sys.argv[2]]
kept = set(changes.get('fragments') or [])
missing = [os.path.basename(f) for f in sys.argv[3:] if os.path.basename(f) not in kept]
if missing:
    sys.exit('not in the release: %s' % ', '.join(missing))
PY
  for role in "$tree"/roles/*/; do
    case $(basename "$role") in _*) continue ;; esac  # internal (roles/_common): no argument_specs, not documented
    grep -q "^- labops.dlstack.$(basename "$role") - " "$tree/CHANGELOG.rst" || fail "role $(basename "$role") not under New Roles"
  done
  for module in "$tree"/plugins/modules/*.py; do
    grep -q "^- labops.dlstack.$(basename "$module" .py) - " "$tree/CHANGELOG.rst" || fail "module $(basename "$module" .py) not under New Modules"
  done
  echo "changelog: fragments lint; release $version tried in a scratch copy: ${#pending[@]} fragment(s) gathered, CHANGELOG.rst of $(wc -l <"$tree/CHANGELOG.rst") lines (make release does it here)"
  ;;
release)
  cd "$root"
  released "$root" && { echo "release: $version is already in changelogs/changelog.yaml; bump version in galaxy.yml" >&2; exit 1; }
  [ -z "$(git status --porcelain -- changelogs galaxy.yml CHANGELOG.rst)" ] \
    || { echo "release: commit or stash the changes under changelogs/ and galaxy.yml first" >&2; exit 1; }
  make -s collection >/dev/null
  release_in "$root" "$root/.cache/collections"
  rm -f changelogs/.plugin-cache.yaml
  bash "$0" check
  echo "release: $version written. Now: git add -A changelogs CHANGELOG.rst && git commit -m 'Release $version' && git tag -a $version -m 'labops.dlstack $version'"
  ;;
*)
  echo "usage: $0 check|release" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# Build the collection tarball and fail if test, CI or cache files slipped into it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.cache/build
rm -rf "$out" && mkdir -p "$out"
cd "$root"
ansible-galaxy collection build --force --output-path "$out" >/dev/null
tarball=$(ls "$out"/labops-dlstack-*.tar.gz)
listing=$(tar -tzf "$tarball")
bad=$(echo "$listing" | grep -E '(^|/)(tests|molecule|bench|\.ci|\.cache|\.venv|\.git|__pycache__|\.pytest_cache)(/|$)|\.pyc$|^Makefile$|^requirements\.txt$' || true)
if [ -n "$bad" ]; then
  echo "build: $tarball holds files that must not ship:" >&2
  echo "$bad" >&2
  exit 1
fi
for need in MANIFEST.json FILES.json README.md meta/runtime.yml roles/ plugins/ playbooks/; do
  grep -q "^$need" <<<"$listing" || { echo "build: $tarball lacks $need" >&2; exit 1; }
done
echo "build: $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(wc -l <<<"$listing") entries), no test or cache files"

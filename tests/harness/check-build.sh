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
# Never shipped: tests, developer tools (tools/), CI and developer files; caches (Python, pytest, ansible-test, ansible-lint,
# antsibull-changelog's plugin cache); run output (fleet and PyTorch reports wherever a run wrote
# them, retry files, logs, Molecule and navigator artifacts); editor and merge leftovers.
bad=$(echo "$listing" | grep -E \
  -e '(^|/)(tests|tools|molecule|bench|demo|\.ci|\.config|\.cache|\.venv|\.git|\.github|\.ansible|__pycache__|\.pytest_cache|\.mypy_cache|\.ruff_cache|\.tox|\.nox)(/|$)' \
  -e '(^|/)reports(/|$)|(^|/)[^/]+_report\.(json|html)$|(^|/)playbook-artifact[^/]*\.json$' \
  -e '\.(pyc|pyo|retry|log|orig|rej|swp|tar\.gz)$|~$|(^|/)\.plugin-cache\.yaml$' \
  -e '^(Makefile|requirements-dev\.txt|requirements\.txt|\.gitignore|\.ansible-lint|\.yamllint)$' || true)
if [ -n "$bad" ]; then
  echo "build: $tarball holds files that must not ship:" >&2
  echo "$bad" >&2
  exit 1
fi
# what a user and Galaxy read: docs, metadata, the EE definition, release notes once released
for need in MANIFEST.json FILES.json README.md LICENSE meta/runtime.yml execution-environment.yml changelogs/changelog.yaml \
    roles/ plugins/ playbooks/ $(cd "$root" && ls -d roles/*/README.md) $(cd "$root" && ls CHANGELOG.rst 2>/dev/null); do
  grep -q "^$need" <<<"$listing" || { echo "build: $tarball lacks $need" >&2; exit 1; }
done
echo "build: $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(wc -l <<<"$listing") entries), no test, cache or report files"

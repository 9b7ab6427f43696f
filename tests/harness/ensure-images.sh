#!/usr/bin/env bash
# Build the Molecule test images when missing:
#   labops-dlstack/debian:12 (bookworm) and labops-dlstack/debian:13 (trixie), python3 inside.
# Official image first, when a registry answers; otherwise debootstrap from Debian's archive and
# `docker import`. Cached by tag plus a recipe label: a second run costs nothing, a changed recipe
# rebuilds. Env: DLSTACK_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DLSTACK_IMAGES ("12 13"), DLSTACK_IMAGE_REBUILD=1 to force.
set -euo pipefail

mirror=${DLSTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DLSTACK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
releases=${DLSTACK_IMAGES:-12 13}
# What every test image holds beyond Debian's minimal base: Ansible needs python3; apt over https,
# pip and the CA role need ca-certificates; testinfra and the roles use procps, sudo (become), gpg.
packages=python3,python3-apt,ca-certificates,procps,sudo,gnupg,curl,kmod,pciutils
recipe=$( { cat "$0" "$(dirname "$0")/lib-debian.sh"; echo "$mirror $packages"; } | sha256sum | cut -c1-16)

# shellcheck source=tests/harness/lib-debian.sh
source "$(dirname "$0")/lib-debian.sh"

from_registry() {  # official image + our packages; fails fast where no registry answers
  local rel=$1 code=$2 tag=$3 ctx
  timeout 60 docker pull -q "debian:$code" >/dev/null 2>&1 || return 1
  ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile" <<EOD
FROM debian:$code
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo "$packages" | tr , ' ') && rm -rf /var/lib/apt/lists/*
EOD
  docker build -q --label "org.labops.dlstack.recipe=$recipe" -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

from_debootstrap() {
  local rel=$1 code=$2 tag=$3 root
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "images: installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap debian-archive-keyring >/dev/null
  fi
  root=$(mktemp -d /var/tmp/dlstack-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  debootstrap --variant=minbase --include="$packages" \
    --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$code" "$root" "$mirror" >"$root.log" 2>&1 || {
      echo "images: debootstrap $code failed; last lines:" >&2; tail -n 20 "$root.log" >&2; rm -f "$root.log"; return 1; }
  rm -f "$root.log"
  rm -f "$root/etc/apt/sources.list"
  debian_sources "$mirror" "$security_mirror" "$code" >"$root/etc/apt/sources.list.d/debian.sources"
  # like the official image: no apt lists or caches baked in, a hostname-neutral machine-id
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  : >"$root/etc/machine-id"
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/bin/bash"]' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.labops.dlstack.recipe=$recipe org.labops.dlstack.release=$rel" \
    - "$tag" >/dev/null
}

for rel in $releases; do
  code=$(debian_codename "$rel")
  tag=labops-dlstack/debian:$rel
  have=$(docker image inspect -f '{{ index .Config.Labels "org.labops.dlstack.recipe" }}' "$tag" 2>/dev/null || true)
  if [ "$have" = "$recipe" ] && [ "${DLSTACK_IMAGE_REBUILD:-0}" != 1 ]; then
    echo "images: $tag cached"
    continue
  fi
  start=$SECONDS
  if [ "${DLSTACK_IMAGE_SOURCE:-auto}" != debootstrap ] && from_registry "$rel" "$code" "$tag"; then
    how="official debian:$code"
  else
    echo "images: building $tag with debootstrap from $mirror"
    from_debootstrap "$rel" "$code" "$tag"
    how="debootstrap"
  fi
  docker run --rm "$tag" python3 --version >/dev/null
  echo "images: $tag built from $how in $((SECONDS - start))s ($(docker run --rm "$tag" python3 --version))"
done

#!/usr/bin/env bash
# Build the host-mode test images when missing (layer 1 of the real-host tests, molecule/driver_host):
#   labops-dlstack/debian-kernel:12 and :13 = labops-dlstack/debian:<rel> plus a Debian kernel that
#   the container does not run: linux-image-amd64, linux-headers-amd64 (the metapackages, so the
#   kernel release is today's), dkms and its compiler. What the role installs itself (the NVIDIA
#   packages, the DKMS build, the initramfs with the nouveau blacklist) is NOT in the image.
# The .debs go to a docker volume per release (dlstack-apt-cache-<rel>, mounted at
# /var/cache/apt/archives), which the scenario mounts too: one download per machine, not per run.
# Cached by tag plus a recipe label (this script, the base image's id): a second run costs nothing.
# Env: DLSTACK_KERNEL_IMAGES ("12 13"), DLSTACK_IMAGE_REBUILD=1 to force.
set -euo pipefail

releases=${DLSTACK_KERNEL_IMAGES:-12 13}
packages="linux-image-amd64 linux-headers-amd64 dkms"

for rel in $releases; do
  base=labops-dlstack/debian:$rel
  tag=labops-dlstack/debian-kernel:$rel
  volume=dlstack-apt-cache-$rel
  base_id=$(docker image inspect -f '{{ .Id }}' "$base")
  recipe=$( { cat "$0"; echo "$base_id $packages"; } | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{ index .Config.Labels "org.labops.dlstack.recipe" }}' "$tag" 2>/dev/null || true)
  if [ "$have" = "$recipe" ] && [ "${DLSTACK_IMAGE_REBUILD:-0}" != 1 ]; then
    echo "kernel-images: $tag cached ($(docker image inspect -f '{{ index .Config.Labels "org.labops.dlstack.kernel" }}' "$tag"))"
    continue
  fi
  start=$SECONDS
  name=dlstack-kernel-image-build-$rel
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker volume create "$volume" >/dev/null
  echo "kernel-images: building $tag ($packages)"
  # Keep the downloaded .debs (in the volume); the official image's docker-clean would delete them.
  docker run --name "$name" -v "$volume:/var/cache/apt/archives" "$base" bash -euc "
    rm -f /etc/apt/apt.conf.d/docker-clean
    echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' >/etc/apt/apt.conf.d/10labops-keep-debs
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
    rm -rf /var/lib/apt/lists/*
    ls /lib/modules" >"/tmp/$name.log" 2>&1 || {
      echo "kernel-images: building $tag failed; last lines:" >&2; tail -n 20 "/tmp/$name.log" >&2; docker rm -f "$name" >/dev/null; exit 1; }
  kernel=$(tail -n 1 "/tmp/$name.log")
  rm -f "/tmp/$name.log"
  docker commit --change "LABEL org.labops.dlstack.recipe=$recipe org.labops.dlstack.kernel=$kernel" \
    --change 'CMD ["/bin/bash"]' "$name" "$tag" >/dev/null
  docker rm -f "$name" >/dev/null
  echo "kernel-images: $tag built in $((SECONDS - start))s (kernel $kernel, not running)"
done

#!/usr/bin/env bash
# Host tools of the VM lab (make vm): QEMU (system emulator and qemu-img), GRUB's BIOS images
# (grub-pc-bin: boot.img, grub-mkimage's i386-pc modules), debootstrap, sfdisk, an SSH client. apt, when missing.
set -euo pipefail
missing=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
[ -f /usr/lib/grub/i386-pc/boot.img ] && command -v grub-mkimage >/dev/null 2>&1 || missing+=(grub-pc-bin grub-common)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap debian-archive-keyring)
command -v sfdisk >/dev/null 2>&1 || missing+=(fdisk)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
if [ ${#missing[@]} -eq 0 ]; then
  echo "vm-tools: qemu, grub-pc-bin, debootstrap, sfdisk, ssh present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "vm-tools: missing ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "vm-tools: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

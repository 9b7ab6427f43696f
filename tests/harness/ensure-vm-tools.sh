#!/usr/bin/env bash
# Host tools of the VM lab (make vm): QEMU (system emulator and qemu-img), GRUB's BIOS images
# (grub-pc-bin: boot.img, grub-mkimage's i386-pc modules), debootstrap, sfdisk, an SSH client; for the Secure Boot
# VM (make vm-secureboot) the UEFI firmware (ovmf: OVMF_CODE_4M.secboot.fd, OVMF_VARS_4M.ms.fd with Microsoft's keys),
# mtools (the ESP, without a vfat kernel module) and openssl (the lab's MOK). apt, when missing.
set -euo pipefail
missing=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
[ -f /usr/lib/grub/i386-pc/boot.img ] && command -v grub-mkimage >/dev/null 2>&1 || missing+=(grub-pc-bin grub-common)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap debian-archive-keyring)
command -v sfdisk >/dev/null 2>&1 || missing+=(fdisk)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
[ -f /usr/share/OVMF/OVMF_CODE_4M.secboot.fd ] && [ -f /usr/share/OVMF/OVMF_VARS_4M.ms.fd ] || missing+=(ovmf)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then
  echo "vm-tools: qemu, grub-pc-bin, debootstrap, sfdisk, ssh, ovmf, mtools, openssl present"
  exit 0
fi
# shellcheck source=tests/harness/lib-apt.sh
source "$(dirname "$0")/lib-apt.sh"
install_missing vm-tools "${missing[@]}"

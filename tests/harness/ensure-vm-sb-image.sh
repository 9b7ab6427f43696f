#!/usr/bin/env bash
# The Secure Boot disk image of the VM lab (make vm-secureboot, molecule/vm_secureboot): Debian 12 booting through
# Debian's signed shim and GRUB under UEFI, made from the BIOS base image of ensure-vm-images.sh (which it builds
# first when missing):
#   .cache/vm/debian-12-uefi.raw    GPT: an EFI system partition (FAT, 1 MiB to 64 MiB) and the base image's root
#                                   filesystem (copied sparse, same UUID), with shim-signed, grub-efi-amd64-signed
#                                   and mokutil installed from Debian's archive in a chroot at native speed
#   .cache/vm/mok/mok.key, mok.der  the lab's Machine Owner Key (the commands the role's MOK steps give)
# The ESP holds the removable-media boot path: \EFI\BOOT\BOOTX64.EFI is shimx64.efi.signed (signed by Microsoft's
# UEFI CA, which the ovmf package's OVMF_VARS_4M.ms.fd trusts), grubx64.efi beside it is Debian's signed GRUB (it
# verifies Debian's signed kernel through shim), mmx64.efi is MokManager; grub.cfg boots /vmlinuz and /initrd.img.
# The ESP is written with mtools: the kernel here has no vfat, and loop devices get no partition nodes.
# Cached by a recipe (this script, the base image's recipe, the MOK): a second run costs nothing.
# Env: DLSTACK_DEBIAN_MIRROR, DLSTACK_IMAGE_REBUILD=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/../.." && pwd)
dir=${DLSTACK_VM_DIR:-$root_dir/.cache/vm}
rel=12
base=$dir/debian-$rel.raw
img=$dir/debian-$rel-uefi.raw
packages=(shim-signed grub-efi-amd64-signed mokutil)
esp_mib=63  # the ESP: 1 MiB to 64 MiB

DLSTACK_VM_RELEASES=$rel bash "$here/ensure-vm-images.sh"
bash "$here/ensure-vm-tools.sh"
mkdir -p "$dir/mok"
if [ ! -f "$dir/mok/mok.key" ] || [ ! -f "$dir/mok/mok.der" ]; then
  # as the role's MOK steps say (plugins/module_utils/_nvidia_driver.py), with the lab's own name
  openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=labops.dlstack VM lab MOK/" \
    -outform DER -keyout "$dir/mok/mok.key" -out "$dir/mok/mok.der" 2>/dev/null
  chmod 0600 "$dir/mok/mok.key"
fi

recipe=$( { cat "$0"; cat "$base.recipe"; sha256sum <"$dir/mok/mok.der"; } | sha256sum | cut -c1-16)
if [ -f "$img" ] && [ "$(cat "$img.recipe" 2>/dev/null)" = "$recipe" ] && [ "${DLSTACK_IMAGE_REBUILD:-0}" != 1 ]; then
  echo "vm-sb-image: $img cached"
  exit 0
fi

start=$SECONDS
tmp=$img.tmp
mnt=$(mktemp -d /var/tmp/dlstack-vm-uefi.XXXXXX)
loop=
cleanup() {
  umount -R "$mnt" 2>/dev/null || true
  [ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true
  rmdir "$mnt" 2>/dev/null || true
}
trap cleanup EXIT
rm -f "$tmp"
base_bytes=$(stat -c %s "$base")
truncate -s $(( base_bytes + 64 * 1048576 )) "$tmp"
# the ESP, then the root partition at 64 MiB to the end (the backup GPT takes the last 33 sectors)
sfdisk -q "$tmp" <<EOP
label: gpt
start=2048, size=$(( esp_mib * 2048 )), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
start=$(( (esp_mib + 1) * 2048 )), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
EOP
# the base image's root filesystem (its partition starts at 1 MiB), sparse
dd if="$base" of="$tmp" bs=1M skip=1 seek=$(( esp_mib + 1 )) conv=sparse,notrunc status=none
loop=$(losetup -f --show -o $(( (esp_mib + 1) * 1048576 )) "$tmp")
uuid=$(blkid -s UUID -o value "$loop")
mount "$loop" "$mnt"
for f in proc sys dev; do mount --rbind "/$f" "$mnt/$f"; mount --make-rslave "$mnt/$f"; done
mount --bind /etc/resolv.conf "$mnt/etc/resolv.conf"
echo "vm-sb-image: ${packages[*]} into $img"
if ! chroot "$mnt" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages[*]}" \
    >"$dir/sb-image-apt.log" 2>&1; then
  echo "vm-sb-image: apt in the chroot failed; last lines:" >&2; tail -n 20 "$dir/sb-image-apt.log" >&2; exit 1
fi
chroot "$mnt" apt-get clean
# shellcheck disable=SC2016  # dpkg-query's own format fields
versions=$(chroot "$mnt" dpkg-query -W -f='${Package} ${Version}, ' "${packages[@]}" | sed 's/, $//')
efi=$(mktemp -d)
cp "$mnt/usr/lib/shim/shimx64.efi.signed" "$efi/BOOTX64.EFI"
cp "$mnt/usr/lib/shim/mmx64.efi.signed" "$efi/mmx64.efi"
cp "$mnt/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$efi/grubx64.efi"
# Debian's signed GRUB reads grub.cfg from its prefix /EFI/debian on the ESP; the copy in \EFI\BOOT is for the
# removable path's $cmdpath. Lockdown: no insmod from disk, so only what the signed image carries (it has these).
cat >"$efi/grub.cfg" <<EOG
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
search --no-floppy --fs-uuid --set=root $uuid
menuentry "Debian $rel, Secure Boot (labops.dlstack VM lab)" {
  linux /vmlinuz root=UUID=$uuid ro console=ttyS0,115200n8 net.ifnames=0 systemd.show_status=1
  initrd /initrd.img
}
EOG
umount -R "$mnt"
losetup -d "$loop"; loop=
esp="$tmp@@1M"
mformat -i "$esp" -T $(( esp_mib * 2048 )) -H 2048 -h 64 -s 32 -F -v ESP ::
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
mcopy -i "$esp" "$efi/BOOTX64.EFI" "$efi/mmx64.efi" "$efi/grubx64.efi" "$efi/grub.cfg" ::/EFI/BOOT/
mcopy -i "$esp" "$efi/grub.cfg" ::/EFI/debian/
rm -rf "$efi"
mv "$tmp" "$img"
echo "$recipe" >"$img.recipe"
echo "vm-sb-image: $img built in $((SECONDS - start))s (root UUID $uuid; $versions)"

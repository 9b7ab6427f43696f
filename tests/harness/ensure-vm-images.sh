#!/usr/bin/env bash
# Disk images of the VM lab (make vm, molecule/vm): Debian 12 and 13 that boot their own GRUB and kernel.
#   .cache/vm/debian-<rel>.raw   8 GiB sparse, one msdos partition from 1 MiB (ext4), GRUB in the MBR gap
#   .cache/vm/id_ed25519         the harness's SSH key (root's authorized key in every image)
# Built from Debian's archive with debootstrap, at native speed, with what the slow emulated guest should not
# have to do itself: the kernel and its headers (the metapackages), dkms and its compiler, python3, openssh.
# Not in the image: anything of labops.dlstack (the lab applies the roles). The initramfs the image boots
# is built here with Debian's defaults at native speed; the lab's create step then sets MODULES=dep and lz4
# for rebuilds inside the emulated guest (Debian's MODULES=most + zstd took over 14 minutes under TCG).
# Loop devices get no partition nodes here, so the filesystem is made through `losetup -o 1048576`, and GRUB
# is installed by writing boot.img (446 bytes) and a grub-mkimage core image to sector 1; grub.cfg boots
# /vmlinuz and /initrd.img, the links Debian moves to each new kernel.
# Cached by a recipe (this script, mirror, packages, key): a second run costs nothing.
# Env: DLSTACK_VM_RELEASES ("12 13"), DLSTACK_DEBIAN_MIRROR, DLSTACK_IMAGE_REBUILD=1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root_dir=$(cd "$here/../.." && pwd)
dir=${DLSTACK_VM_DIR:-$root_dir/.cache/vm}
mirror=${DLSTACK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DLSTACK_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
releases=${DLSTACK_VM_RELEASES:-12 13}
size=8G
packages=systemd-sysv,dbus,linux-image-amd64,linux-headers-amd64,dkms,initramfs-tools,lz4,openssh-server,python3,python3-apt,sudo,ca-certificates,gnupg,curl,kmod,pciutils,procps,iproute2,zstd

mkdir -p "$dir"
bash "$here/ensure-vm-tools.sh"
[ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C labops-dlstack-vm -f "$dir/id_ed25519"

# shellcheck source=tests/harness/lib-debian.sh
source "$here/lib-debian.sh"

build() {
  local rel=$1 code=$2 img=$3 tmp mnt loop uuid start=$SECONDS
  tmp=$img.tmp
  mnt=$(mktemp -d /var/tmp/dlstack-vm-root.XXXXXX)
  rm -f "$tmp"
  truncate -s "$size" "$tmp"
  echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$tmp"
  loop=$(losetup -f --show -o 1048576 "$tmp")
  # shellcheck disable=SC2064  # expand now: the trap must undo exactly these
  trap "umount -R '$mnt' 2>/dev/null || true; losetup -d '$loop' 2>/dev/null || true; rmdir '$mnt' 2>/dev/null || true" RETURN
  local features=()
  grep -q orphan_file /etc/mke2fs.conf 2>/dev/null && features=(-O ^orphan_file)  # GRUB 2.06 cannot read it
  mkfs.ext4 -q -L dlstack-root "${features[@]}" "$loop"
  uuid=$(blkid -s UUID -o value "$loop")
  mount "$loop" "$mnt"
  echo "vm-images: debootstrap $code into $img ($packages)"
  if ! debootstrap --variant=minbase --include="$packages" --components=main \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg "$code" "$mnt" "$mirror" >"$dir/debootstrap-$rel.log" 2>&1; then
    echo "vm-images: debootstrap $code failed; last lines:" >&2; tail -n 20 "$dir/debootstrap-$rel.log" >&2; return 1
  fi
  rm -f "$mnt/etc/apt/sources.list"
  debian_sources "$mirror" "$security_mirror" "$code" >"$mnt/etc/apt/sources.list.d/debian.sources"
  echo "dlstack-vm-debian$rel" >"$mnt/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 dlstack-vm-debian%s\n' "$rel" >"$mnt/etc/hosts"
  echo "UUID=$uuid / ext4 errors=remount-ro 0 1" >"$mnt/etc/fstab"
  : >"$mnt/etc/machine-id"  # a fresh one at first boot
  # user-mode networking: DHCP from QEMU's slirp, its DNS at 10.0.2.3
  mkdir -p "$mnt/etc/systemd/network"
  printf '[Match]\nName=e*\n\n[Network]\nDHCP=ipv4\n' >"$mnt/etc/systemd/network/20-wired.network"
  ln -sf /lib/systemd/system/systemd-networkd.service "$mnt/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  rm -f "$mnt/etc/resolv.conf"; echo 'nameserver 10.0.2.3' >"$mnt/etc/resolv.conf"
  # root over SSH with the harness's key only
  install -d -m 0700 "$mnt/root/.ssh"
  install -m 0600 "$dir/id_ed25519.pub" "$mnt/root/.ssh/authorized_keys"
  printf 'PasswordAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n' >"$mnt/etc/ssh/sshd_config.d/labops-dlstack-vm.conf"
  # the image's own initramfs, at native speed (Debian's MODULES=most: dep mode needs the running guest)
  for f in proc sys dev; do mount --rbind "/$f" "$mnt/$f"; done
  local kernel
  kernel=$(basename "$(readlink -f "$mnt/vmlinuz")" | sed 's/^vmlinuz-//')
  chroot "$mnt" update-initramfs -u -k "$kernel" >/dev/null
  umount -R "$mnt/proc" "$mnt/sys" "$mnt/dev"
  # GRUB: core image (biosdisk, msdos partition, ext2/4, linux) in the gap after the MBR; modules in /boot/grub
  mkdir -p "$mnt/boot/grub/i386-pc"
  cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst "$mnt/boot/grub/i386-pc/"
  cat >"$mnt/boot/grub/grub.cfg" <<EOG
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
menuentry "Debian $rel (labops.dlstack VM lab)" {
  insmod part_msdos
  insmod ext2
  linux /vmlinuz root=UUID=$uuid ro console=ttyS0,115200n8 net.ifnames=0 systemd.show_status=1
  initrd /initrd.img
}
EOG
  echo "$kernel" >"$dir/debian-$rel.kernel"
  umount "$mnt"
  losetup -d "$loop"
  grub-mkimage -O i386-pc -o "$dir/core-$rel.img" -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 normal linux serial
  dd if=/usr/lib/grub/i386-pc/boot.img of="$tmp" bs=446 count=1 conv=notrunc status=none
  dd if="$dir/core-$rel.img" of="$tmp" bs=512 seek=1 conv=notrunc status=none
  rm -f "$dir/core-$rel.img"
  mv "$tmp" "$img"
  echo "vm-images: $img built in $((SECONDS - start))s (kernel $kernel)"
}

for rel in $releases; do
  code=$(debian_codename "$rel")
  img=$dir/debian-$rel.raw
  recipe=$( { cat "$0" "$here/lib-debian.sh"; echo "$mirror $security_mirror $packages $size"; cat "$dir/id_ed25519.pub"; } | sha256sum | cut -c1-16)
  if [ -f "$img" ] && [ "$(cat "$img.recipe" 2>/dev/null)" = "$recipe" ] && [ "${DLSTACK_IMAGE_REBUILD:-0}" != 1 ]; then
    echo "vm-images: $img cached (kernel $(cat "$dir/debian-$rel.kernel"))"
    continue
  fi
  build "$rel" "$code" "$img"
  echo "$recipe" >"$img.recipe"
done

#!/usr/bin/env bash
# Start and stop one VM of the VM lab (molecule/vm create.yml / destroy.yml call it; usable by hand).
#   vm.sh accel DISK                  -> kvm or tcg: KVM only where it boots a stock Debian kernel (cached verdict)
#   vm.sh start NAME DISK PORT [VARS] -> QEMU in the background; SSH on 127.0.0.1:PORT; serial console in
#                                        .cache/vm/NAME.console.log; pid in .cache/vm/NAME.pid. With VARS (a copy
#                                        of OVMF_VARS_4M.ms.fd: Secure Boot on, Microsoft's keys), UEFI with Secure
#                                        Boot: q35 with SMM, OVMF_CODE_4M.secboot.fd read-only, VARS read-write;
#                                        else SeaBIOS (the BIOS image of ensure-vm-images.sh)
#   vm.sh stop NAME                   -> stops the QEMU started for NAME (its pid file only)
#   vm.sh mount NAME DISK MNT         -> DISK's root filesystem (its last partition: at 1 MiB in the BIOS image, after
#                                        the ESP in the UEFI one) on a loop device at MNT, with
#                                        /proc, /sys, /dev and the host's resolv.conf for a chroot; the loop device
#                                        in .cache/vm/NAME.loop (losetup makes no partition nodes here)
#   vm.sh umount NAME MNT             -> undoes mount (the VM must be stopped while its disk is mounted)
# One vCPU less than the host has (at least 1): TCG runs one host thread per vCPU and starves the host otherwise.
# User-mode networking (no root networking set-up, no bridge): the guest reaches the archive through QEMU's NAT.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${DLSTACK_VM_DIR:-$(cd "$here/../.." && pwd)/.cache/vm}
mem=${DLSTACK_VM_MEMORY:-3072}
cpus=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
mkdir -p "$dir"

qemu_base() {  # accel disk [vars]
  local accel=$1 disk=$2 vars=${3:-}
  local opts=(-m "$mem" -smp "$cpus" -display none -no-user-config -nodefaults)
  if [ -n "$vars" ]; then
    # Secure Boot firmware needs SMM and a flash that only SMM code may write (OVMF's README.Debian)
    # shellcheck disable=SC2054  # the commas are inside QEMU's option values
    opts+=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on
           -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
           -drive "if=pflash,format=raw,unit=1,file=$vars"
           -drive "file=$disk,format=raw,if=none,id=disk0,cache=unsafe" -device virtio-blk-pci,drive=disk0,bootindex=0)
  else
    opts+=(-machine pc -drive "file=$disk,format=raw,if=virtio,cache=unsafe")
  fi
  if [ "$accel" = kvm ]; then
    opts+=(-accel kvm -cpu host)
  else
    opts+=(-accel "tcg,thread=multi" -cpu max)
  fi
  printf '%s\n' "${opts[@]}"
}

accel() {
  local disk=$1 vars=${2:-} key verdict_file log pid
  key="$(uname -r) $(qemu-system-x86_64 --version | head -n 1)"
  verdict_file=$dir/accel.verdict
  if [ -f "$verdict_file" ] && [ "$(head -n 1 "$verdict_file")" = "$key" ]; then
    tail -n 1 "$verdict_file"; return
  fi
  verdict=tcg
  if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    # Boot the image read-only (snapshot) under KVM for 60 s: a KVM that runs a stock kernel prints
    # "Linux version" within seconds; a PVM host hangs after "Probing EDD" or QEMU aborts.
    log=$(mktemp)
    mapfile -t opts < <(qemu_base kvm "$disk" "$vars")
    timeout 60 qemu-system-x86_64 "${opts[@]}" -snapshot -serial "file:$log" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 60); do
      if grep -q "Linux version" "$log" 2>/dev/null; then verdict=kvm; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    echo "vm: KVM probe: $( [ "$verdict" = kvm ] && echo 'boots a stock kernel' || echo "no kernel output in 60 s ($(tr -d '\r' <"$log" | grep -v '^$' | tail -n 1))"), using $verdict" >&2
    rm -f "$log"
  fi
  printf '%s\n%s\n' "$key" "$verdict" >"$verdict_file"
  echo "$verdict"
}

start() {
  local name=$1 disk=$2 port=$3 vars=${4:-} accel opts
  accel=$(accel "$disk" "$vars")
  mapfile -t opts < <(qemu_base "$accel" "$disk" "$vars")
  local nic=virtio-net-pci,netdev=n0
  [ -z "$vars" ] || nic+=,romfile=  # no network boot ROM: OVMF goes to the disk without trying PXE first
  rm -f "$dir/$name.pid"
  qemu-system-x86_64 "${opts[@]}" -name "$name" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device "$nic" \
    -serial "file:$dir/$name.console.log" -pidfile "$dir/$name.pid" -daemonize
  echo "vm: $name started ($accel, $( [ -n "$vars" ] && echo "UEFI Secure Boot" || echo BIOS), $cpus vCPU, ${mem} MiB, ssh -p $port root@127.0.0.1, console $dir/$name.console.log)"
}

stop() {
  local name=$1 pid
  [ -f "$dir/$name.pid" ] || { echo "vm: $name not running"; return 0; }
  pid=$(cat "$dir/$name.pid")
  if kill -0 "$pid" 2>/dev/null && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/$name.pid"
  echo "vm: $name stopped"
}

mount_disk() {
  local name=$1 disk=$2 mnt=$3 loop f start
  start=$(sfdisk -d "$disk" | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | tail -n 1)
  loop=$(losetup -f --show -o $(( start * 512 )) "$disk")
  echo "$loop" >"$dir/$name.loop"
  mkdir -p "$mnt"
  mount "$loop" "$mnt"
  for f in proc sys dev; do mount --rbind "/$f" "$mnt/$f"; mount --make-rslave "$mnt/$f"; done
  mount --bind /etc/resolv.conf "$mnt/etc/resolv.conf"
  echo "vm: $disk mounted at $mnt ($loop)"
}

umount_disk() {
  local name=$1 mnt=$2
  umount -R "$mnt"
  losetup -d "$(cat "$dir/$name.loop")"
  rm -f "$dir/$name.loop"
  rmdir "$mnt"
  echo "vm: $mnt unmounted"
}

case "${1:-}" in
  accel) accel "$2" "${3:-}" ;;
  start) start "$2" "$3" "$4" "${5:-}" ;;
  stop) stop "$2" ;;
  mount) mount_disk "$2" "$3" "$4" ;;
  umount) umount_disk "$2" "$3" ;;
  *) echo "usage: $0 accel DISK [VARS] | start NAME DISK PORT [VARS] | stop NAME | mount NAME DISK MNT | umount NAME MNT" >&2; exit 2 ;;
esac

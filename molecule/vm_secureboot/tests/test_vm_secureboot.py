"""Secure Boot on the VM lab's Debian 12 guest (testinfra over SSH, molecule/vm_secureboot).

The guest booted UEFI firmware with Secure Boot on (OVMF_CODE_4M.secboot.fd, OVMF_VARS_4M.ms.fd: Microsoft's keys),
Debian's shim signed by Microsoft, Debian's signed GRUB and kernel. The lab's MOK was enrolled in shim's MokList
before the first boot by virt-fw-vars: a STAND-IN for `mokutil --import` and MokManager's "Enroll MOK", the one step a
person does at the console. Everything after that is the real chain: shim hands the MOK to the kernel, the kernel
checks the DKMS module's signature. No GPU: a module that passes the check then fails with "No such device".
"""
import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
MOK_CN = "labops.dlstack VM lab MOK"


def _module_path(host):
    return host.check_output("modinfo -n nvidia-current")


def test_secure_boot_on_and_the_kernel_locked_down(host):
    assert host.check_output("mokutil --sb-state") == "SecureBoot enabled"
    # Debian's kernel locks down (integrity) when the firmware booted it with Secure Boot on
    assert "[integrity]" in host.check_output("cat /sys/kernel/security/lockdown")


def test_the_lab_mok_is_enrolled(host):
    assert "is already enrolled" in host.run("mokutil --test-key /root/lab-mok/mok.der").stdout
    # shim passed it to the kernel: it is in the keyring the kernel checks module signatures against
    keys = host.check_output("cat /proc/keys")
    assert MOK_CN in keys, keys


def test_the_module_is_signed_with_the_lab_mok(host):
    assert host.check_output("modinfo -F signer nvidia-current") == MOK_CN
    assert host.check_output("modinfo -F sig_hashalgo nvidia-current") == "sha256"


def test_modprobe_passes_the_signature_check(host):
    # the kernel accepted the signature; the module's own init then finds no GPU
    cmd = host.run("modprobe nvidia")
    assert cmd.rc != 0
    assert "No such device" in cmd.stderr, cmd.stderr
    assert "Key was rejected" not in cmd.stderr


def test_the_same_module_unsigned_is_refused(host):
    # Control: the signature stripped (the appended PKCS#7 block, its 12-byte descriptor and the magic string)
    strip = (
        "import sys; m = b'~Module signature appended~\\n'; d = open(sys.argv[1], 'rb').read(); "
        "assert d.endswith(m); n = int.from_bytes(d[-len(m) - 4:-len(m)], 'big'); "
        "open(sys.argv[2], 'wb').write(d[:-(len(m) + 12 + n)])"
    )
    host.check_output("python3 -c \"%s\" %s /tmp/nvidia-unsigned.ko" % (strip, _module_path(host)))
    assert host.run("modinfo -F signer /tmp/nvidia-unsigned.ko").stdout.strip() == ""
    cmd = host.run("insmod /tmp/nvidia-unsigned.ko")
    host.run("rm -f /tmp/nvidia-unsigned.ko")
    # what Debian 12's kernel says (seen in this VM): insmod "Key was rejected by service", the kernel log
    # "Loading of unsigned module is rejected"; the role's MOK steps quote the first
    assert cmd.rc != 0
    assert "Key was rejected by service" in cmd.stderr, cmd.stderr
    assert "Loading of unsigned module is rejected" in host.check_output("dmesg")


def test_the_role_rebooted_it_through_shim(host):
    with open(os.path.join(EPHEMERAL, "boot_id.before"), encoding="utf-8") as handle:
        before = handle.read().strip()
    assert host.check_output("cat /proc/sys/kernel/random/boot_id") != before
    assert host.check_output("mokutil --sb-state") == "SecureBoot enabled"


def test_report(host):
    report = json.loads(host.file("/etc/labops-dlstack/nvidia_driver.json").content_string)
    assert (report["mode"], report["without_gpu"], report["reboot_pending"]) == ("host", True, False)
    assert report["kernel_release"] == host.check_output("uname -r")
    assert host.file("/etc/dkms/framework.conf.d/labops-dlstack-mok.conf").contains(
        'mok_signing_key="/root/lab-mok/mok.key"')

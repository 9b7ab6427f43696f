"""Real state of the VM lab's guest after labops.dlstack.site (testinfra over SSH, molecule/vm).

A Debian VM that booted its own GRUB and kernel. No GPU: the driver was installed with
nvidia_driver_install_without_gpu, so the NVIDIA module is built and valid but cannot load. What is
asserted is what is true without a GPU; where a GPU would change it, the test says so.
"""
import fnmatch
import json
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

BRANCH = {"12": "535", "13": "550"}
PACKAGES = ["nvidia-smi", "libcuda1", "libnvidia-ml1", "nvidia-persistenced", "nvidia-kernel-dkms"]
USERS = ["alice", "bob"]
TORCH = {"12": "2.13.0+cpu", "13": "2.6.0+debian"}
EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


def _release(host):
    return host.system_info.release.split(".")[0]


def _upstream(version):
    return version.split(":")[-1].split("-")[0]


def _report(host):
    return json.loads(host.file("/etc/labops-dlstack/nvidia_driver.json").content_string)


def test_a_real_boot_not_a_container(host):
    assert host.check_output("systemd-detect-virt --container || true") == "none"
    assert host.check_output("cat /proc/1/comm") == "systemd"
    assert host.check_output("systemctl is-system-running || true") in ("running", "degraded")


def test_the_role_rebooted_it(host):
    # prepare.yml recorded the boot id before the site run; the role's decided reboot changed it
    with open(os.path.join(EPHEMERAL, "boot_id.before"), encoding="utf-8") as handle:
        before = handle.read().strip()
    assert host.check_output("cat /proc/sys/kernel/random/boot_id") != before
    assert _report(host)["reboot_pending"] is False
    rebooted = json.loads(host.file("/etc/labops-dlstack/nvidia_driver-reboot.json").content_string)
    assert rebooted["reasons"] == [
        "no GPU: the initramfs was rebuilt with the nouveau blacklist; one reboot proves the host boots it "
        "before its GPUs are fitted (the NVIDIA module cannot load without a GPU)"]


def test_dkms_module_for_the_running_kernel(host):
    kernel = host.check_output("uname -r")
    version = _upstream(host.package("nvidia-kernel-dkms").version)
    assert version.startswith(BRANCH[_release(host)] + ".")
    assert "nvidia-current/%s, %s, x86_64: installed" % (version, kernel) in host.check_output("dkms status")
    assert host.check_output("modinfo -F version nvidia-current") == _upstream(host.package("nvidia-smi").version)


def test_modprobe_nvidia_says_no_such_device(host):
    # a valid module for this kernel, no GPU to bind: not "not found", not "Key was rejected" (Secure Boot)
    cmd = host.run("modprobe nvidia")
    assert cmd.rc != 0
    assert "No such device" in cmd.stderr, cmd.stderr
    assert "not found" not in cmd.stderr and "Key was rejected" not in cmd.stderr
    assert "nvidia" not in host.check_output("cut -d' ' -f1 /proc/modules").split()


def test_nouveau_kept_out(host):
    kernel = host.check_output("uname -r")
    listing = host.check_output("lsinitramfs /boot/initrd.img-%s" % kernel).splitlines()
    # the initramfs this boot came from carries the role's blacklist
    assert "etc/modprobe.d/labops-dlstack-nouveau.conf" in listing
    assert not any(line.endswith("/nouveau.ko") or line.endswith("/nouveau.ko.xz") for line in listing)
    assert "nouveau" not in host.check_output("cut -d' ' -f1 /proc/modules").split()
    config = host.check_output("modprobe -c")
    assert "blacklist nouveau" in config.splitlines()
    assert "options nouveau modeset=0" in config.splitlines()
    # what udev would load for an RTX 3090 (PCI 10de:2204, VGA class). Control: nouveau claims the device (its
    # module aliases match it). Not `modprobe -n -v` without -b: with Debian's driver installed the DKMS-built
    # nvidia-current claims the device too and modprobe answers with its install rule (the first VM run showed
    # "install modprobe -i nvidia-current"). With -b, which applies the blacklist as udev does: not nouveau.
    alias = "pci:v000010DEd00002204sv00001043sd000087B3bc03sc00i00"
    assert any(fnmatch.fnmatch(alias, pattern) for pattern in host.check_output("modinfo -F alias nouveau").split())
    assert "/nouveau.ko" not in host.run("modprobe -n -v -b %s" % alias).stdout


def test_persistenced_enabled_under_systemd(host):
    # enabled for the GPUs to come; without a GPU it has no device to hold, so the role does not start it
    assert host.check_output("systemctl is-enabled nvidia-persistenced") == "enabled"
    state = host.check_output("systemctl show -p ActiveState --value nvidia-persistenced")
    assert state in ("active", "inactive", "failed"), state


def test_packages_held_and_out_of_unattended_upgrades(host):
    out = host.check_output("dpkg --get-selections " + " ".join(PACKAGES))
    selections = dict((name.split(":")[0], sel) for name, sel in (line.split() for line in out.splitlines()))
    assert selections == {name: "hold" for name in PACKAGES}
    assert 'Unattended-Upgrade::Package-Blacklist:: "^nvidia-";' in host.check_output(
        "apt-config dump Unattended-Upgrade::Package-Blacklist")


def test_report_host_mode_without_gpu(host):
    report = _report(host)
    assert (report["mode"], report["without_gpu"], report["gpu_status"]) == ("host", True, "no_gpu")
    assert report["kernel_release"] == host.check_output("uname -r")
    assert report["kernel_module_version"] == _upstream(report["installed_version"])


def test_ca_trusted(host):
    assert host.file("/usr/local/share/ca-certificates/labops-dlstack/test-host-ca.crt").is_file


@pytest.mark.parametrize("user", USERS)
def test_torch_as_each_user(host, user):
    cmd = host.run(
        "sudo -u %s -H /home/%s/.venvs/torch/bin/python -c "
        "'import torch, json; a = torch.ones(64, 64); "
        "print(json.dumps([torch.__version__, torch.cuda.is_available(), float((a @ a).sum())]))'" % (user, user)
    )
    assert cmd.rc == 0, cmd.stderr
    version, cuda, total = json.loads(cmd.stdout.strip().splitlines()[-1])
    assert (version, cuda, total) == (TORCH[_release(host)], False, 64.0 * 64 * 64)


@pytest.mark.parametrize("user", USERS)
def test_each_user_owns_their_conda(host, user):
    assert host.file("/home/%s/miniforge3" % user).user == user


def test_serial_console_logged_two_boots(host):
    name = host.check_output("hostname").replace("dlstack-vm-debian", "")
    path = os.path.join(os.environ.get("DLSTACK_VM_DIR") or os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "vm"),
                        "dlstack-vm-debian%s.console.log" % name)
    with open(path, encoding="utf-8", errors="replace") as handle:
        console = handle.read()
    assert console.count("Linux version") >= 2, "expected the first boot and the role's reboot in %s" % path

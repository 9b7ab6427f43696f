"""After the kernel upgrade (molecule/kernel_upgrade): the module for both kernels, the role's report on the new one.

Testinfra over the docker connection. The container carries the image's kernel (6.1) and the bookworm-backports
kernel installed through the metapackages the role keeps; it runs neither.
"""
import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")


def _kernels(host):
    running = host.check_output("uname -r")
    kernels = [k for k in host.check_output("ls /lib/modules").split() if k != running]
    return sorted(kernels, key=lambda k: [int(p) for p in k.split("-")[0].split("+")[0].split(".")])


def _upstream(version):
    return version.split(":")[-1].split("-")[0]


def test_two_kernels_the_new_one_from_backports(host):
    kernels = _kernels(host)
    assert len(kernels) == 2, kernels
    assert kernels[0].startswith("6.1.") and not kernels[1].startswith("6.1."), kernels
    assert "~bpo12" in host.package("linux-headers-amd64").version
    assert "~bpo12" in host.package("linux-image-amd64").version


def test_module_built_for_both_kernels(host):
    version = _upstream(host.package("nvidia-kernel-dkms").version)
    for kernel in _kernels(host):
        assert "nvidia-current/%s, %s, x86_64: installed" % (version, kernel) in host.check_output("dkms status -k %s" % kernel)
        assert host.check_output("modinfo -k %s -F version nvidia-current" % kernel) == version
        assert host.check_output("modinfo -k %s -F vermagic nvidia-current" % kernel).startswith(kernel + " ")
        listing = host.check_output("lsinitramfs /boot/initrd.img-%s" % kernel).splitlines()
        assert "etc/modprobe.d/labops-dlstack-nouveau.conf" in listing, kernel


def test_report_names_the_new_kernel(host):
    report = json.loads(host.file("/etc/labops-dlstack/nvidia_driver.json").content_string)
    new = _kernels(host)[-1]
    assert (report["mode"], report["kernel_release"], report["kernel_module"]) == ("host", new, "nvidia-current")
    assert report["kernel_module_version"] == _upstream(report["installed_version"])
    assert "linux-headers-%s" % new in report["packages"] and "linux-headers-amd64" in report["packages"]
    assert report["host_would_need"] == []

"""Real state of the driver_host scenario's containers (testinfra, docker connection).

Each container carries a Debian kernel it does not run (labops-dlstack/debian-kernel:<release>); the role ran its
host path for that kernel with nvidia_driver_install_without_gpu (no GPU here). What is checked is what a real
host would boot with: the DKMS-built module in /lib/modules/<kernel>, that kernel's initramfs, the holds.
"""
import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

# Debian's main driver branch: bookworm 535, trixie 550 (the scenario's nvidia_driver_branch)
BRANCH = {"12": "535", "13": "550"}
PACKAGES = ["nvidia-smi", "libcuda1", "libnvidia-ml1", "nvidia-persistenced", "nvidia-kernel-dkms"]


def _release(host):
    return host.system_info.release.split(".")[0]


def _kernel(host):
    """The image's kernel: the one in /lib/modules that the container does not run."""
    running = host.check_output("uname -r")
    kernels = [k for k in host.check_output("ls /lib/modules").split() if k != running]
    assert len(kernels) == 1, kernels
    return kernels[0]


def _upstream(version):
    """535.309.01-0+deb12u1 -> 535.309.01"""
    return version.split(":")[-1].split("-")[0]


def test_kernel_is_not_the_running_one(host):
    kernel = _kernel(host)
    assert kernel != host.check_output("uname -r")
    assert host.file("/lib/modules/%s/build" % kernel).exists  # linux-headers of that kernel


def test_packages_of_the_host_path_installed(host):
    for name in PACKAGES + ["linux-headers-%s" % _kernel(host)]:
        assert host.package(name).is_installed, name
    assert host.package("nvidia-smi").version.startswith(BRANCH[_release(host)] + ".")
    assert not host.package("nvidia-open-kernel-dkms").is_installed


def test_dkms_installed_for_that_kernel(host):
    kernel = _kernel(host)
    version = _upstream(host.package("nvidia-kernel-dkms").version)
    out = host.check_output("dkms status -k %s" % kernel)
    assert "nvidia-current/%s, %s, x86_64: installed" % (version, kernel) in out, out


def test_built_module_is_the_installed_driver(host):
    # Debian renames the modules after the package: nvidia-current.ko, nvidia-current-uvm.ko, ...
    kernel = _kernel(host)
    assert host.run("modinfo -k %s nvidia" % kernel).rc != 0  # no nvidia.ko: the name below is the one
    built = host.check_output("modinfo -k %s -F version nvidia-current" % kernel)
    assert built == _upstream(host.package("nvidia-smi").version)
    assert built == _upstream(host.package("nvidia-kernel-dkms").version)
    path = host.check_output("modinfo -k %s -n nvidia-current" % kernel)
    assert path.startswith("/lib/modules/%s/updates/dkms/nvidia-current.ko" % kernel), path
    assert host.check_output("modinfo -k %s -F vermagic nvidia-current" % kernel).startswith(kernel + " ")
    for sub in ("modeset", "drm", "uvm"):
        assert host.check_output("modinfo -k %s -F version nvidia-current-%s" % (kernel, sub)) == built, sub


def test_nouveau_blacklist_inside_that_kernels_initramfs(host):
    kernel = _kernel(host)
    initrd = "/boot/initrd.img-%s" % kernel
    listing = host.check_output("lsinitramfs %s" % initrd).splitlines()
    assert "etc/modprobe.d/labops-dlstack-nouveau.conf" in listing
    # the file inside is the role's (unpacked, not only listed)
    tmp = host.check_output("mktemp -d")
    try:
        host.check_output("unmkinitramfs %s %s" % (initrd, tmp))
        inner = host.check_output("cat $(find %s -path '*etc/modprobe.d/labops-dlstack-nouveau.conf' | head -n 1)" % tmp)
    finally:
        host.run("rm -rf %s" % tmp)
    lines = [line for line in inner.splitlines() if line and not line.startswith("#")]
    assert lines == ["blacklist nouveau", "options nouveau modeset=0"]


def test_packages_held(host):
    out = host.check_output("dpkg --get-selections " + " ".join(PACKAGES))
    selections = dict((name.split(":")[0], sel) for name, sel in (line.split() for line in out.splitlines()))
    assert selections == {name: "hold" for name in PACKAGES}
    # the headers follow the kernel: not held
    assert "hold" not in host.check_output("dpkg --get-selections linux-headers-%s" % _kernel(host))


def test_no_package_left_unfinished(host):
    out = host.check_output("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'")
    # wanted/current/error (dpkg-query(1)): ii, hi (held) and rc are finished; U, F, H, W, t or an R flag are not
    unfinished = [line for line in out.splitlines()
                  if line.split()[1][1:2] in ("U", "F", "H", "W", "t") or line.split()[1][2:3] == "R"]
    assert unfinished == []


def test_report_says_host_path_without_gpu(host):
    report = json.loads(host.file("/etc/labops-dlstack/nvidia_driver.json").content_string)
    kernel = _kernel(host)
    assert report["action"] == "install"
    assert report["mode"] == "host"
    assert report["without_gpu"] is True
    assert report["gpu_status"] == "no_gpu"
    assert (report["branch"], report["flavour"], report["kernel_module_type"]) == (int(BRANCH[_release(host)]), "proprietary", "dkms")
    assert (report["kernel_release"], report["kernel_module"]) == (kernel, "nvidia-current")
    assert report["kernel_module_version"] == _upstream(report["installed_version"])
    # the headers of that kernel, and the metapackage that brings the next kernel's (Debian's dkms hook builds for it)
    assert report["packages"] == PACKAGES + ["linux-headers-%s" % kernel, "linux-headers-amd64"]
    assert report["held"] == PACKAGES
    assert report["reboot_pending"] is False  # a container: never; the VM lab proves the reboot
    assert report["host_would_need"] == []


def test_downloads_kept_in_the_cache_volume(host):
    # /var/cache/apt/archives is the docker volume dlstack-apt-cache-<release>: the next run downloads nothing
    debs = host.check_output("ls /var/cache/apt/archives").split()
    assert any(d.startswith("nvidia-kernel-dkms_") and d.endswith(".deb") for d in debs), debs

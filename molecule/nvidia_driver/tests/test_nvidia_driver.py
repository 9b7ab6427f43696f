"""Real state of the nvidia_driver scenario's containers (testinfra, docker connection).

Container mode: Debian's non-free NVIDIA userspace is installed for real; there is no GPU and no NVIDIA
kernel module in these containers, so nvidia-smi fails the way it does on a host without the module.
"""
import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

USERSPACE = {"12": "535.", "13": "550."}
PACKAGES = ["nvidia-smi", "libcuda1", "libnvidia-ml1", "nvidia-persistenced"]


def _release(host):
    return host.system_info.release.split(".")[0]


def test_userspace_packages_installed_from_non_free(host):
    branch = USERSPACE[_release(host)]
    for name in PACKAGES:
        pkg = host.package(name)
        assert pkg.is_installed, name
    assert host.package("nvidia-smi").version.startswith(branch)
    assert host.package("libcuda1").version.startswith(branch)


def test_no_kernel_module_packages_in_container_mode(host):
    for name in ("nvidia-kernel-dkms", "nvidia-open-kernel-dkms", "dkms"):
        assert not host.package(name).is_installed, name


def test_packages_held(host):
    out = host.check_output("dpkg --get-selections " + " ".join(PACKAGES))
    # multi-arch libraries are listed as name:amd64
    selections = dict((name.split(":")[0], sel) for name, sel in (line.split() for line in out.splitlines()))
    assert selections == {name: "hold" for name in PACKAGES}


CODENAME = {"12": "bookworm", "13": "trixie"}
COMPONENTS_SOURCE = "/etc/apt/sources.list.d/labops-dlstack-components.sources"


def test_non_free_source_is_the_shared_components_file(host):
    # Written by labops.dlstack.apt_components (also included by cuda_toolkit): one file, two stanzas.
    f = host.file(COMPONENTS_SOURCE)
    assert f.is_file and f.user == "root" and f.mode == 0o644
    codename = CODENAME[_release(host)]
    body = [[line for line in s.splitlines() if not line.startswith("#")] for s in f.content_string.split("\n\n")]
    assert body == [
        ["Types: deb", "URIs: http://deb.debian.org/debian", f"Suites: {codename} {codename}-updates",
         "Components: contrib non-free non-free-firmware", "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"],
        ["Types: deb", "URIs: http://deb.debian.org/debian-security", f"Suites: {codename}-security",
         "Components: contrib non-free non-free-firmware", "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"],
    ]
    # the files the roles wrote before the shared one are not there
    assert not host.file("/etc/apt/sources.list.d/labops-dlstack-debian-nonfree.sources").exists
    assert not host.file("/etc/apt/sources.list.d/labops-dlstack-debian-nonfree-security.sources").exists


def test_nouveau_blacklisted(host):
    f = host.file("/etc/modprobe.d/labops-dlstack-nouveau.conf")
    assert f.is_file and f.user == "root" and f.mode == 0o644
    lines = [line for line in f.content_string.splitlines() if line and not line.startswith("#")]
    assert lines == ["blacklist nouveau", "options nouveau modeset=0"]


def test_unattended_upgrades_blacklist(host):
    f = host.file("/etc/apt/apt.conf.d/51labops-dlstack-nvidia-driver")
    assert f.is_file and f.mode == 0o644
    assert '"^nvidia-";' in f.content_string
    # apt parses it (a syntax error would make apt-config fail)
    out = host.check_output("apt-config dump Unattended-Upgrade::Package-Blacklist")
    assert 'Unattended-Upgrade::Package-Blacklist:: "^nvidia-";' in out


def test_nvidia_smi_real_error_without_gpu(host):
    assert host.file("/usr/bin/nvidia-smi").exists
    cmd = host.run("nvidia-smi")
    assert cmd.rc == 255, (cmd.rc, cmd.stdout, cmd.stderr)
    assert "Failed to initialize NVML" in cmd.stdout + cmd.stderr


def test_libcuda_present(host):
    assert host.run("ldconfig -p | grep -q 'libcuda.so.1 '").rc == 0


def test_report_says_why_no_kernel_module(host):
    f = host.file("/etc/labops-dlstack/nvidia_driver.json")
    assert f.is_file and f.mode == 0o644
    report = json.loads(f.content_string)
    release = _release(host)
    assert report["action"] == "install"
    assert report["mode"] == "container"
    assert report["branch"] == int(USERSPACE[release].rstrip("."))
    assert report["packages"] == PACKAGES
    assert report["held"] == PACKAGES
    assert report["kernel_module_loaded"] is False
    assert report["gpu_status"] == "no_gpu"
    assert report["reboot_pending"] is False
    assert report["installed_version"].startswith(USERSPACE[release])
    assert report["why_no_kernel_module"].startswith("container: the NVIDIA kernel module belongs to the host kernel")
    assert report["host_would_need"][0] == "nvidia-kernel-dkms"

"""Real state of the cuda_toolkit scenario's containers (testinfra, docker connection)."""
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

PROFILE = "/etc/profile.d/cuda-toolkit.sh"
# Debian's nvidia-cuda-toolkit per release: CUDA version and the g++ its -gcc package depends on.
EXPECTED = {"12": ("11.8", "g++-11"), "13": ("12.4", "g++-13")}


def _expected(host):
    return EXPECTED[host.system_info.release.split(".")[0]]


def test_packages_installed_without_recommends(host):
    version, gxx = _expected(host)
    assert host.package("nvidia-cuda-toolkit").is_installed
    assert host.package("nvidia-cuda-toolkit").version.startswith(version + ".")
    assert host.package("nvidia-cuda-toolkit-gcc").is_installed
    assert host.package(gxx).is_installed
    # recommends (documentation, profilers, ~1.5 GB) were left out
    assert not host.package("nsight-systems").is_installed
    assert not host.package("nvidia-cuda-toolkit-doc").is_installed


CODENAME = {"12": "bookworm", "13": "trixie"}


def test_archive_components_source_is_the_shared_file(host):
    # Written by labops.dlstack.apt_components, the same file nvidia_driver includes it for.
    f = host.file("/etc/apt/sources.list.d/labops-dlstack-components.sources")
    assert f.user == "root" and f.mode == 0o644
    codename = CODENAME[host.system_info.release.split(".")[0]]
    body = [[line for line in s.splitlines() if not line.startswith("#")] for s in f.content_string.split("\n\n")]
    assert body == [
        ["Types: deb", "URIs: http://deb.debian.org/debian", f"Suites: {codename} {codename}-updates",
         "Components: contrib non-free non-free-firmware", "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"],
        ["Types: deb", "URIs: http://deb.debian.org/debian-security", f"Suites: {codename}-security",
         "Components: contrib non-free non-free-firmware", "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"],
    ]
    assert not host.file("/etc/apt/sources.list.d/labops-dlstack-cuda-toolkit.sources").exists


def test_apt_reads_the_sources_without_duplicates(host):
    cmd = host.run("apt-get update")
    assert cmd.rc == 0, cmd.stderr
    assert "configured multiple times" not in cmd.stdout + cmd.stderr


def test_profile_script_content(host):
    f = host.file(PROFILE)
    assert f.user == "root"
    assert f.mode == 0o644
    text = f.content_string
    assert text.startswith("#")  # ansible_managed header
    assert 'PATH="/usr/lib/nvidia-cuda-toolkit/bin${PATH:+:${PATH}}"' in text
    assert 'CUDA_HOME="/usr"' in text
    # the distro toolkit's libraries are in /usr/lib/x86_64-linux-gnu: no library path is added
    assert "LD_LIBRARY_PATH" not in text


@pytest.mark.parametrize("shell", ["bash -lc", "sh -lc"])
def test_login_shell_nvcc_reports_the_version(host, shell):
    version = _expected(host)[0]
    cmd = host.run(f"{shell} 'nvcc --version'")
    assert cmd.rc == 0, cmd.stderr
    assert f"release {version}," in cmd.stdout


def test_profile_script_is_idempotent_when_sourced_twice(host):
    cmd = host.run("bash -lc '. /etc/profile.d/cuda-toolkit.sh; echo $PATH'")
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.count("/usr/lib/nvidia-cuda-toolkit/bin") == 1


def test_test_program_compiles_in_a_login_shell(host):
    # What a lab user does: nvcc on the PATH the profile script sets, with the host compiler it finds there.
    cmd = host.run(
        "bash -lc 'd=$(mktemp -d) && nvcc -o $d/vector_add "
        "/usr/local/share/labops-dlstack/cuda_toolkit/vector_add.cu && test -x $d/vector_add && rm -rf $d && echo built'"
    )
    assert cmd.rc == 0, cmd.stdout + cmd.stderr
    assert cmd.stdout.strip() == "built"


def test_test_program_source(host):
    f = host.file("/usr/local/share/labops-dlstack/cuda_toolkit/vector_add.cu")
    assert f.mode == 0o644
    assert "__global__ void add(" in f.content_string


def test_no_usr_local_cuda_for_the_distro_layout(host):
    # /usr/local/cuda is for NVIDIA's per-version trees; the distro toolkit is not linked there.
    assert not host.file("/usr/local/cuda").exists

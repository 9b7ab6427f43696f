"""Real state of the default scenario's containers (testinfra, docker connection)."""
import json
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

CA_FILE = "/usr/local/share/ca-certificates/labops-dlstack/test-host-ca.crt"


def test_ca_file_installed(host):
    f = host.file(CA_FILE)
    assert f.is_file
    assert f.user == "root"
    assert f.mode == 0o644
    assert "-----BEGIN CERTIFICATE-----" in f.content_string


def test_ca_in_system_bundle(host):
    # update-ca-certificates appended the installed file's certificates to the system bundle:
    # the last certificate of our file must appear in the bundle.
    ours = host.file(CA_FILE).content_string.strip().split("-----BEGIN CERTIFICATE-----")[-1]
    assert ours.strip()
    assert ours.strip() in host.file("/etc/ssl/certs/ca-certificates.crt").content_string


def test_pip_config_points_at_system_bundle(host):
    assert host.file("/etc/pip.conf").contains("^cert = /etc/ssl/certs/ca-certificates.crt$")


def test_tls_to_package_index_works(host):
    # The reason for the role: TLS through the lab's proxy. Python's ssl uses the system bundle.
    cmd = host.run(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=30).status)\""
    )
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.strip() == "200"


def test_gpu_probe_in_container(host):
    # The probe module run on the container itself (testinfra's ansible backend; facts modules
    # change nothing, so check mode is what a read-only probe is).
    result = host.ansible("labops.dlstack.gpu_facts", "torch_version=2.11", check=True)
    facts = result["ansible_facts"]["dlstack_gpu"]
    assert facts["status"] == "no_gpu"
    assert facts["in_container"] is True
    assert facts["gpus"] == []
    # the driver role installed the userspace (container mode); no kernel module can be loaded here
    assert facts["driver"]["installed"] is True
    assert facts["driver"]["loaded"] is False
    assert facts["torch"]["recommended_variant"] == "cpu"
    assert result["changed"] is False


USERS = ["alice", "bob"]
TORCH = {"12": "2.13.0+cpu", "13": "2.6.0+debian"}  # wheelhouse build on 12, Debian's python3-torch on 13


def _release(host):
    return host.system_info.release.split(".")[0]


@pytest.mark.parametrize("user", USERS)
def test_torch_as_each_user(host, user):
    # The end of the story: each user's own environment imports torch and says, as that user,
    # that CUDA is not available (a container without GPU devices, a CPU build).
    cmd = host.run(
        "sudo -u %s -H /home/%s/.venvs/torch/bin/python -c "
        "'import torch, json; a = torch.ones(64, 64); "
        "print(json.dumps([torch.__version__, torch.cuda.is_available(), float((a @ a).sum())]))'" % (user, user)
    )
    assert cmd.rc == 0, cmd.stderr
    version, cuda, total = json.loads(cmd.stdout.strip().splitlines()[-1])
    assert version == TORCH[_release(host)]
    assert cuda is False
    assert total == 64.0 * 64 * 64


@pytest.mark.parametrize("user", USERS)
def test_dlstack_check_as_each_user(host, user):
    # What a lab user runs: NumPy round trip, autograd and matmul pass in their own environment
    # (Debian 12: NumPy from the shared layer; Debian 13: Debian's python3-numpy, which python3-torch depends on)
    cmd = host.run("sudo -u %s -H /home/%s/.venvs/torch/bin/dlstack-check" % (user, user))
    assert cmd.rc == 0, cmd.stdout + cmd.stderr
    lines = cmd.stdout.splitlines()
    assert lines[1].startswith("torch     %s, variant cpu (what the GPU probe recommends for this host)" % TORCH[_release(host)])
    assert [line[:14] for line in lines[4:7]] == ["numpy     ok  ", "autograd  ok  ", "matmul    ok  "]
    assert lines[-1] == "PASS      3 of 3 checks passed"
    numpy_dir = {"12": "/opt/labops-dlstack/pytorch/layers/", "13": "/usr/lib/python3/dist-packages"}[_release(host)]
    result = json.loads(host.check_output("sudo -u %s -H /home/%s/.venvs/torch/bin/dlstack-check --json" % (user, user)))
    assert result["numpy"]["location"].startswith(numpy_dir), result["numpy"]
    assert result["autograd"]["grad"] == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("user", USERS)
def test_each_user_owns_their_env_and_conda(host, user):
    for path in ("/home/%s/.venvs/torch" % user, "/home/%s/miniforge3" % user):
        assert host.file(path).user == user
        stray = host.check_output("find %s -xdev ! -user %s -print -quit" % (path, user))
        assert stray == "", "%s holds a file not owned by %s: %s" % (path, user, stray)


def test_users_cannot_write_each_other(host):
    cmd = host.run("sudo -u bob touch /home/alice/.venvs/torch/intruder")
    assert cmd.rc != 0
    assert not host.file("/home/alice/.venvs/torch/intruder").exists


def test_driver_userspace_in_container_mode(host):
    # Container mode: the NVIDIA userspace from Debian's non-free archive, held; no kernel module.
    assert host.file("/usr/bin/nvidia-smi").exists
    held = host.check_output("dpkg --get-selections | awk '$2 == \"hold\" {print $1}'").split()
    assert any(name.startswith("nvidia") for name in held), held
    report = json.loads(host.file("/etc/labops-dlstack/nvidia_driver.json").content_string)
    assert report["mode"] == "container"


def test_fleet_report_on_controller():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "reports", "site_report.json")
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["summary"]["hosts"] == 2
    assert report["summary"]["by_status"] == {"no_gpu": 2}
    assert report["summary"]["torch_checks"] == 4
    assert report["summary"]["torch_checks_failed"] == 0
    assert report["summary"]["variant_differs"] == 0  # no GPU, cpu recommended and installed
    # per user: their own conda (the stand-in installer, labelled) and their environment with its variant
    assert report["summary"]["conda_users"] == 4
    assert report["summary"]["conda_stand_in_hosts"] == ["dlstack-default-debian12", "dlstack-default-debian13"]
    for row in report["rows"]:
        assert [u["user"] for u in row["users"]] == USERS
        for user in row["users"]:
            conda = user["conda"]
            assert (conda["prefix"], conda["owner"], conda["version"], conda["stand_in"], conda["ok"]) == (
                "/home/%s/miniforge3" % user["user"], user["user"], "26.3.2-3", True, True)
            assert [(e["env"], e["variant"], e["recommended_variant"], e["ok"]) for e in user["envs"]] == [
                ("torch", "cpu", "cpu", True)]
            assert user["envs"][0]["autograd"]["ok"] is True and user["envs"][0]["numpy"]["ok"] is True

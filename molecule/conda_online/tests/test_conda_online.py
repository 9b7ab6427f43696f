"""The real Miniforge, installed by the conda role for two users (needs internet; not in CI)."""
import json
import os

import testinfra.utils.ansible_runner
import yaml

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

USERS = {"alice": "/home/alice/miniforge3", "bob": "/home/bob/tools/conda"}
INSTALLER = "/var/cache/labops-dlstack/conda/Miniforge3-26.3.2-3-Linux-x86_64.sh"


def test_installer_cached_root_owned(host):
    f = host.file(INSTALLER)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)


def test_every_file_owned_by_the_user(host):
    for user, prefix in USERS.items():
        out = host.run("find %s /home/%s -not -user %s", prefix, user, user)
        assert out.rc == 0 and out.stdout == "", out.stdout


def test_real_conda_info_as_the_user(host):
    for user, prefix in USERS.items():
        cmd = host.run("sudo -u %s -H %s/bin/conda info --json", user, prefix)
        assert cmd.rc == 0, cmd.stderr
        info = json.loads(cmd.stdout)
        assert info["root_prefix"] == prefix
        assert info["conda_version"] == "26.3.2"
        assert "conda-forge" in info["channels"][0]


def test_condarc(host):
    for prefix in USERS.values():
        data = yaml.safe_load(host.file(prefix + "/.condarc").content_string)
        assert data["channels"] == ["conda-forge"]
        assert data["ssl_verify"] == "/etc/ssl/certs/ca-certificates.crt"


def test_real_shell_hook(host):
    for user, prefix in USERS.items():
        cmd = host.run("sudo -u %s -H bash -ic 'conda activate base && command -v python'", user)
        assert cmd.rc == 0, cmd.stderr
        assert cmd.stdout.strip().splitlines()[-1] == prefix + "/bin/python"


def test_real_solve_through_the_managed_condarc(host):
    # a dry run: the solver reaches conda-forge through the .condarc settings (CA bundle, channels)
    cmd = host.run("sudo -u alice -H /home/alice/miniforge3/bin/conda create --dry-run --json -n smoke python=3.12")
    assert cmd.rc == 0, cmd.stdout[-2000:] + cmd.stderr[-2000:]
    assert any(a["name"] == "python" for a in json.loads(cmd.stdout)["actions"]["LINK"])

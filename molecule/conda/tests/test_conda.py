"""Real state of the conda scenario's container after converge (testinfra, docker connection).

The conda in the prefixes is the STAND-IN built from files/Miniforge3-standin-Linux-x86_64.sh: these
tests prove what the role does (who owns what, what it writes, what the installer was asked to do),
not that a real Miniforge works. What the stand-in cannot prove: real package solves, conda-forge
channel access through the proxy/mirror settings, the real `conda init` output, the real installer's
unpacking. molecule/conda_online runs the same role against the real Miniforge installer.
"""
import os

import testinfra.utils.ansible_runner
import yaml

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

USERS = {
    "alice": {"prefix": "/home/alice/miniforge3", "channels": ["conda-forge"]},
    "bob": {"prefix": "/home/bob/tools/conda", "channels": ["conda-forge", "bioconda"]},
}
INSTALLER = "/var/cache/labops-dlstack/conda/Miniforge3-26.3.2-3-Linux-x86_64.sh"
MIRRORED = "/srv/mirror/miniforge/26.3.2-3/Miniforge3-26.3.2-3-Linux-x86_64.sh"
MARKER = "# BEGIN labops.dlstack.conda: conda shell hook (managed by Ansible)"


def test_installer_cached_once_root_owned(host):
    f = host.file(INSTALLER)
    assert f.is_file
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    assert host.file(os.path.dirname(INSTALLER)).mode == 0o755
    # the very file the mirror published, checked against its .sha256
    assert f.sha256sum == host.file(MIRRORED).sha256sum
    assert host.file(MIRRORED + ".sha256").content_string.split()[0] == f.sha256sum
    # only the one installer in the cache, nothing half-downloaded next to it
    assert host.run("ls -A /var/cache/labops-dlstack/conda").stdout.split() == [os.path.basename(INSTALLER)]


def test_every_file_in_each_prefix_is_owned_by_its_user(host):
    for user, want in USERS.items():
        prefix = want["prefix"]
        assert host.file(prefix).is_directory
        assert host.file(prefix).user == user
        out = host.run("find %s -not -user %s", prefix, user)
        assert out.rc == 0 and out.stdout == "", out.stdout
        count = host.run("find %s | wc -l", prefix)
        assert int(count.stdout) > 20  # a real layout was walked, not an empty directory


def test_nothing_in_the_homes_is_owned_by_root(host):
    for user in USERS:
        out = host.run("find /home/%s -not -user %s", user, user)
        assert out.rc == 0 and out.stdout == "", out.stdout


def test_installer_marker_records_the_pinned_release(host):
    for user, want in USERS.items():
        marker = host.file(want["prefix"] + "/.labops-dlstack-installer.json")
        assert marker.user == user and marker.mode == 0o644
        data = yaml.safe_load(marker.content_string)
        assert data == {
            "installed_by": "labops.dlstack.conda",
            "distribution": "miniforge",
            "version": "26.3.2-3",
            "filename": "Miniforge3-26.3.2-3-Linux-x86_64.sh",
            "sha256": host.file(INSTALLER).sha256sum,
        }


def test_condarc_content(host):
    for user, want in USERS.items():
        f = host.file(want["prefix"] + "/.condarc")
        assert (f.user, f.mode) == (user, 0o600)  # it carries the proxy password
        text = f.content_string
        assert text.startswith("#")  # ansible_managed comment first
        assert yaml.safe_load(text) == {
            "channels": want["channels"],
            "channel_alias": "https://conda-mirror.lab.example",
            "channel_priority": "strict",
            "pkgs_dirs": ["/var/tmp/conda-pkgs-shared"],
            "auto_activate": False,
            "auto_activate_base": False,
            "auto_update_conda": False,
            "proxy_servers": {"https": "http://labuser:s3cret@proxy.lab.example:3128"},
            # default: the bundle labops.dlstack.ca_trust published (ca_trust_bundle)
            "ssl_verify": "/etc/ssl/certs/ca-certificates.crt",
        }


def test_proxy_password_is_readable_by_its_user_only(host):
    # as another user would try: alice's .condarc holds the proxy password of conda_proxy_servers
    for user, other in (("alice", "bob"), ("bob", "alice")):
        condarc = USERS[user]["prefix"] + "/.condarc"
        # the home and the prefix are open to others (useradd's 0755): the file's own mode is what protects it
        assert host.run("sudo -u %s test -r %s", other, USERS[user]["prefix"] + "/conda-meta").rc == 0
        own = host.run("sudo -u %s cat %s", user, condarc)
        assert own.rc == 0 and "s3cret" in own.stdout
        theirs = host.run("sudo -u %s cat %s", other, condarc)
        assert theirs.rc != 0 and "Permission denied" in theirs.stderr, (theirs.stdout, theirs.stderr)
    # and no other file on the host that a user without the password can read holds it
    nobody = host.run("sudo -u nobody grep -rIl s3cret /etc /home /opt /root /srv /tmp /usr/local /var 2>/dev/null")
    assert nobody.stdout == "", nobody.stdout


def test_shell_hook_block_once_in_bashrc_and_zshrc(host):
    for user, want in USERS.items():
        for rc in (".bashrc", ".zshrc"):  # zsh is installed by prepare.yml
            f = host.file("/home/%s/%s" % (user, rc))
            assert f.user == user
            text = f.content_string
            assert text.count(MARKER) == 1
            shell = rc[1:-2]
            assert "'%s/bin/conda' 'shell.%s' 'hook'" % (want["prefix"], shell) in text
    # Debian's skeleton .bashrc kept its mode; the created .zshrc is 0644
    assert host.file("/home/alice/.bashrc").mode == 0o644
    assert host.file("/home/alice/.zshrc").mode == 0o644


def test_interactive_shells_of_each_user_find_their_conda(host):
    for user, want in USERS.items():
        for shell in ("bash", "zsh"):
            cmd = host.run("sudo -u %s -H %s -ic 'type conda | head -1; echo CONDA_EXE=$CONDA_EXE; conda --version'", user, shell)
            assert cmd.rc == 0, cmd.stderr
            first = cmd.stdout.splitlines()[0]
            assert first.startswith("conda is a") and "function" in first  # bash: "a function", zsh: "a shell function"
            assert "CONDA_EXE=%s/bin/conda" % want["prefix"] in cmd.stdout
            assert cmd.stdout.strip().endswith("conda 26.3.2")


def test_conda_info_as_the_user(host):
    for user, want in USERS.items():
        cmd = host.run("sudo -u %s -H %s/bin/conda info --json", user, want["prefix"])
        assert cmd.rc == 0, cmd.stderr
        info = yaml.safe_load(cmd.stdout)
        assert info["root_prefix"] == want["prefix"]
        assert info["conda_version"] == "26.3.2"


def test_nothing_left_in_progress(host):
    for want in USERS.values():
        assert not host.file(want["prefix"] + ".labops-dlstack-incomplete").exists

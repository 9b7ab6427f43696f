# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A wrong installer checksum, and a package archive that cannot be reached: clear failures, nothing half-installed.

The unreachable archive is only ever an address inside the container: http://127.0.0.1:9 (the discard
port, nothing listens) or deb.debian.org mapped to 127.0.0.1 in the container's /etc/hosts.
"""

from __future__ import annotations

import pytest

from dlstack_faults import (STANDIN, USERS, dexec, gpu_vars, lab_vars, package_health, run_playbook, snapshot, snapshot_diff,
                            start_container, wait_for, write_inventory)

WRONG = '0' * 64
DEAD = 'http://127.0.0.1:9'


def _assert_packages_healthy(container):
    audit, (check_rc, check_out), not_ii = package_health(container)
    assert audit.strip() == '', audit  # dpkg --audit: no half-installed or half-configured package
    assert check_rc == 0, check_out  # apt-get check: no broken dependencies
    assert not_ii == [], not_ii  # dpkg -l: every package 'ii', none half-installed, unpacked or held broken


def _assert_no_conda_left(container):
    for user in USERS:
        for path in ('/home/%s/miniforge3' % user, '/home/%s/miniforge3.labops-dlstack-incomplete' % user):
            assert dexec(container, 'test', '-e', path, check=False).returncode != 0, path
        bashrc = dexec(container, 'cat', '/home/%s/.bashrc' % user).stdout
        assert 'labops.dlstack.conda' not in bashrc
    # no copy of the installer anywhere on the host outside the mirror (temporary files included)
    found = dexec(container, 'find', '/', '-xdev', '-name', 'Miniforge3-*', '-not', '-path', '/srv/mirror/*').stdout
    assert found == '', found


@pytest.fixture(scope='module')
def host(lab):
    return start_container('checksum')


def test_wrong_checksum_of_a_controller_installer_fails_before_any_change(host, tmp_path, reports):
    variables = dict(lab_vars(reports), conda_installer_sha256=WRONG)
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-sum': (host, {})}, variables)
    before = snapshot(host)
    run = run_playbook(tmp_path / 'run.log', inventory, tags='conda')
    messages = ' '.join(msg for _task, msg in run.failures('ws-sum'))
    assert run.rc != 0 and run.stats['ws-sum']['failures'] == 1, run.summary('ws-sum')
    assert 'conda_installer_src' in messages and WRONG in messages and 'nothing was changed' in messages, messages
    assert snapshot_diff(before, snapshot(host)) == []


def test_wrong_checksum_of_a_download_leaves_nothing_half_installed(host, tmp_path, reports):
    # the lab's mirror of the installer: an http server inside the container
    dexec(host, 'mkdir', '-p', '/srv/mirror')
    dexec(host, 'cp', '/dev/stdin', '/srv/mirror/Miniforge3-standin-Linux-x86_64.sh', input_text=STANDIN.read_text())
    dexec(host, 'sh', '-c', 'nohup python3 -m http.server 8471 --bind 127.0.0.1 --directory /srv/mirror '
                            '>/dev/null 2>&1 &')
    assert wait_for(lambda: dexec(host, 'python3', '-c', 'import urllib.request; urllib.request.urlopen('
                                  '"http://127.0.0.1:8471/Miniforge3-standin-Linux-x86_64.sh")', check=False).returncode == 0, 30)
    variables = dict(lab_vars(reports), conda_installer_src='', conda_installer_sha256=WRONG,
                     conda_installer_url='http://127.0.0.1:8471/Miniforge3-standin-Linux-x86_64.sh')
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-sum': (host, {})}, variables)
    run = run_playbook(tmp_path / 'run.log', inventory, tags='conda')
    messages = ' '.join(msg for _task, msg in run.failures('ws-sum'))
    assert run.rc != 0 and run.stats['ws-sum']['failures'] == 1, run.summary('ws-sum')
    assert 'checksum' in messages.lower() and WRONG in messages, messages
    _assert_no_conda_left(host)
    cached = dexec(host, 'find', '/var/cache/labops-dlstack', '-type', 'f', check=False).stdout
    assert cached == '', cached
    _assert_packages_healthy(host)


@pytest.fixture(scope='module')
def archive_host(lab):
    return start_container('archive')


def test_unreachable_components_mirror_fails_clearly_with_no_broken_packages(archive_host, tmp_path, reports):
    # the driver stage on a GeForce RTX 3090 owned by nouveau: it adds Debian's non-free components from
    # the lab's mirror (apt_components_mirror), which cannot be reached
    host_vars = dict(gpu_vars('rtx3090-nouveau'), apt_components_mirror=DEAD + '/debian',
                     apt_components_security_mirror=DEAD + '/debian-security')
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-arch': (archive_host, host_vars)}, lab_vars(reports))
    before = snapshot(archive_host)
    run = run_playbook(tmp_path / 'run.log', inventory, tags='driver')
    messages = ' '.join(msg for _task, msg in run.failures('ws-arch'))
    assert run.rc != 0 and run.stats['ws-arch']['failures'] == 1, run.summary('ws-arch')
    assert DEAD + '/debian ' in messages and 'apt_components_mirror' in messages, messages
    assert DEAD + '/debian-security ' in messages and 'apt_components_security_mirror' in messages, messages
    assert 'Nothing was changed' in messages, messages
    assert snapshot_diff(before, snapshot(archive_host)) == []
    _assert_packages_healthy(archive_host)


def test_archive_gone_while_downloading_packages_leaves_no_broken_packages(archive_host, tmp_path, reports):
    # fresh package lists from the real archive, then the archive goes away (deb.debian.org -> 127.0.0.1
    # inside the container, nothing listens on port 80): apt knows what to fetch but cannot fetch it
    dexec(archive_host, 'rm', '-f', '/etc/apt/sources.list.d/labops-dlstack-components.sources')
    dexec(archive_host, 'apt-get', 'update', '-q', timeout=300)
    dexec(archive_host, 'sh', '-c', 'echo "127.0.0.1 deb.debian.org" >> /etc/hosts')
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-arch': (archive_host, {})}, lab_vars(reports))
    run = run_playbook(tmp_path / 'run.log', inventory, tags='pytorch')
    messages = ' '.join(msg for _task, msg in run.failures('ws-arch'))
    assert run.rc != 0 and run.stats['ws-arch']['failures'] == 1, run.summary('ws-arch')
    assert 'deb.debian.org' in messages, messages
    status = dexec(archive_host, 'dpkg-query', '-W', '-f', '${db:Status-Abbrev}', 'python3-venv', check=False).stdout
    assert not status.startswith('ii'), status
    _assert_packages_healthy(archive_host)

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dpkg_recover main() on copies of a real dpkg database (tests/unit/fixtures/dpkg): what it tells and refuses.

The repair itself (dpkg --configure -a, apt-get -f install) needs a real dpkg as root:
tests/integration/test_dpkg_interrupted.py runs it in a container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import run_main

from ansible_collections.labops.dlstack.plugins.module_utils import _dpkg
from ansible_collections.labops.dlstack.plugins.modules import dpkg_recover

KILLED = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'dpkg', 'killed-during-unpack')


@pytest.fixture
def admin_dir(tmp_path, monkeypatch):
    """An empty dpkg admin directory the module reads instead of /var/lib/dpkg (as if run by root)."""
    path = tmp_path / 'dpkg'
    (path / 'updates').mkdir(parents=True)
    monkeypatch.setattr(_dpkg, 'ADMIN_DIR', str(path))
    monkeypatch.setattr(_dpkg, 'FRONTEND_LOCK', str(path / 'lock-frontend'))
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    return path


def killed_database(path):
    shutil.copy(os.path.join(KILLED, 'status'), str(path / 'status'))
    for name in os.listdir(os.path.join(KILLED, 'updates')):
        shutil.copy(os.path.join(KILLED, 'updates', name), str(path / 'updates' / name))


def run_module(capsys, args):
    return run_main(capsys, dpkg_recover.main, args)


def test_a_healthy_database_is_left_alone(capsys, admin_dir):
    shutil.copy(os.path.join(KILLED, 'status'), str(admin_dir / 'status'))
    code, result = run_module(capsys, {})
    assert (code, result['changed'], result['interrupted'], result['commands']) == (0, False, False, [])
    assert result['msg'] == 'dpkg has nothing unfinished'


def test_no_dpkg_on_the_host(capsys, admin_dir):
    code, result = run_module(capsys, {})
    assert (code, result['changed']) == (0, False)
    assert result['msg'].startswith('no dpkg database on this host')


def test_without_repair_it_stops_saying_what_to_run(capsys, admin_dir):
    killed_database(admin_dir)
    code, result = run_module(capsys, {'repair': False})
    assert code == 1 and result['failed']
    assert (result['changed'], result['interrupted'], result['journal']) == (False, True, 9)
    assert result['packages'] == ['libpython3.11-stdlib:amd64 half-installed (reinstall required)', 'python3.11:amd64 unpacked']
    assert result['msg'].endswith("Run 'dpkg --configure -a' then 'apt-get -f install --reinstall libpython3.11-stdlib:amd64' "
                                  "as root on this host, then run again. Nothing was changed.")
    assert sorted(os.listdir(str(admin_dir / 'updates'))) == sorted(os.listdir(os.path.join(KILLED, 'updates')))


def test_check_mode_reports_the_repair_it_would_make(capsys, admin_dir):
    killed_database(admin_dir)
    code, result = run_module(capsys, {'_ansible_check_mode': True})
    assert (code, result['changed']) == (0, True)
    assert result['commands'] == [
        'dpkg --configure -a --force-confdef --force-confold',
        'apt-get -f install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --reinstall '
        'libpython3.11-stdlib:amd64']
    assert result['msg'].endswith("would run 'dpkg --configure -a' then 'apt-get -f install --reinstall libpython3.11-stdlib:amd64'.")


def test_a_package_manager_running_now_is_waited_for_not_repaired(capsys, admin_dir):
    killed_database(admin_dir)
    holder = subprocess.Popen([sys.executable, '-c', (
        'import fcntl, os, sys, time\n'
        'fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)\n'
        'fcntl.lockf(fd, fcntl.LOCK_EX)\n'
        'print("locked", flush=True)\n'
        'time.sleep(60)\n'), str(admin_dir / 'lock-frontend')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        code, result = run_module(capsys, {'lock_timeout': 1})
    finally:
        holder.kill()
        holder.wait()
    assert (code, result['changed']) == (1, False)
    assert result['msg'] == ('another apt or dpkg (unattended-upgrades?) has held %s for 1 s; let it finish and run again. '
                             'Nothing was changed.' % (admin_dir / 'lock-frontend'))

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/_dpkg.py on the database of a real dpkg killed while unpacking."""

from __future__ import annotations

import os

from ansible_collections.labops.dlstack.plugins.module_utils import _dpkg

KILLED = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'dpkg', 'killed-during-unpack')


def _read(*parts):
    with open(os.path.join(KILLED, *parts), encoding='utf-8') as handle:
        return handle.read()


def _journal():
    names = _dpkg.journal_names(os.listdir(os.path.join(KILLED, 'updates')) + ['tmp.i'])
    return names, [_read('updates', n) for n in names]


def test_journal_names_are_the_numbered_entries_in_order():
    assert _dpkg.journal_names(['0010', 'tmp.i', '0002', '0001', 'x']) == ['0001', '0002', '0010']
    assert _journal()[0] == ['0000', '0001', '0002', '0003', '0004', '0005', '0006', '0007', '0008']


def test_status_alone_looks_healthy():
    # the status file is only rewritten at checkpoints: without the journal nothing looks wrong
    state = _dpkg.assess(_read('status'))
    assert state == {'journal': 0, 'packages': [], 'reinstall': [], 'configure': [], 'interrupted': False}


def test_the_journal_applied_in_order_gives_what_dpkg_query_showed():
    # dpkg-query -W on that host: libpython3.11-stdlib:amd64 iHR, python3.11:amd64 iU
    states = _dpkg.package_states(_read('status'), _journal()[1])
    assert states[('libpython3.11-stdlib', 'amd64')] == {
        'name': 'libpython3.11-stdlib', 'architecture': 'amd64', 'version': '3.11.2-6+deb12u8',
        'want': 'install', 'flag': 'reinstreq', 'state': 'half-installed'}
    assert states[('python3.11', 'amd64')]['state'] == 'unpacked'
    assert (states[('python3.11', 'amd64')]['flag'], states[('python3.11', 'amd64')]['version']) == ('ok', '3.11.2-6+deb12u9')
    assert states[('apt', 'amd64')]['state'] == 'installed'


def test_assess_a_dpkg_killed_while_unpacking():
    state = _dpkg.assess(_read('status'), _journal()[1])
    assert state == {
        'journal': 9,
        'packages': ['libpython3.11-stdlib:amd64 half-installed (reinstall required)', 'python3.11:amd64 unpacked'],
        'reinstall': ['libpython3.11-stdlib:amd64'],
        'configure': ['python3.11:amd64'],
        'interrupted': True,
    }
    assert _dpkg.describe(state) == (
        'dpkg was interrupted (9 journal entries in /var/lib/dpkg/updates; unfinished packages: '
        'libpython3.11-stdlib:amd64 half-installed (reinstall required), python3.11:amd64 unpacked)')
    assert _dpkg.refusal(state) == (
        "dpkg was interrupted (9 journal entries in /var/lib/dpkg/updates; unfinished packages: libpython3.11-stdlib:amd64 "
        "half-installed (reinstall required), python3.11:amd64 unpacked). Run 'dpkg --configure -a' then 'apt-get -f install "
        "--reinstall libpython3.11-stdlib:amd64' as root on this host, then run again. Nothing was changed.")


def test_journal_only_needs_dpkg_configure_only():
    state = _dpkg.assess('', ['Package: bzip2\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0.8-5+b1\n'])
    assert (state['interrupted'], state['packages'], _dpkg.by_hand(state)) == (True, [], "'dpkg --configure -a'")


def test_triggers_pending_is_unfinished():
    status = 'Package: man-db\nStatus: install ok triggers-pending\nArchitecture: amd64\n\nPackage: a\nStatus: deinstall ok config-files\n'
    assert _dpkg.assess(status)['configure'] == ['man-db:amd64']


def test_fix_broken_plan_of_that_host_removes_nothing():
    plan = _read('apt-get-f-install-s.txt')
    assert '0 to remove' in plan
    assert _dpkg.simulated_removals(plan) == []
    assert _dpkg.simulated_removals('Remv nvidia-driver [535.1]\nInst x\nRemv libfoo:amd64 [1]\n') == ['nvidia-driver', 'libfoo:amd64']


def test_tail_of_dpkg_configure_output():
    assert _dpkg.tail(_read('dpkg-configure-a.txt'), 2) == 'Errors were encountered while processing: /  python3.11'


def test_killed_at_the_first_journal_entry_needs_a_reinstall():
    # the same install killed right after dpkg wrote updates/0000 (as tests/integration saw it): python3.11,
    # being deconfigured for its upgrade, is reinstreq half-configured, which dpkg --configure refuses
    state = _dpkg.assess(_read('status'), _journal()[1][:1])
    assert (state['journal'], state['packages'], state['reinstall'], state['configure']) == (
        1, ['python3.11:amd64 half-configured (reinstall required)'], ['python3.11:amd64'], [])
    assert _dpkg.fix_argv(state) == ['apt-get', '-f', 'install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confdef', '-o',
                                     'Dpkg::Options::=--force-confold', '--reinstall', 'python3.11:amd64']
    assert _dpkg.fix_argv(state, simulate=True)[:6] == ['apt-get', '-f', 'install', '-q', '-o', 'Dpkg::Options::=--force-confdef']
    assert _dpkg.fix_argv(state, simulate=True)[-3:] == ['-s', '--reinstall', 'python3.11:amd64']


def test_apt_names():
    assert [_dpkg.apt_name(x) for x in ('python3.11:amd64', 'python3-pip-whl:all', 'bzip2')] == [
        'python3.11:amd64', 'python3-pip-whl', 'bzip2']

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A package manager killed mid-install (dpkg interrupted, as after a power cut): the next run finishes its work.

In a fresh container, a real `apt-get install python3-venv` from Debian's archive (what pytorch_env
installs; it also upgrades the image's python3.11) is SIGKILLed, apt-get and dpkg, the moment dpkg writes
its first journal entry, i.e. while it unpacks. The test checks the host really was left interrupted
(journal entries, packages not installed-ok, apt refusing with "dpkg was interrupted"), then:

1. labops.dlstack.dpkg_recover with repair=false stops, saying exactly that and what to run, and
   changes nothing (snapshot before/after);
2. the site playbook (ca stage: ca_trust is the first role that installs a package) finishes dpkg's work
   before its first change (`dpkg --configure -a`, then `apt-get -f install --reinstall <package>` where
   a package must be unpacked again), says so in a warning, installs what it installs, and the host's
   packages are all healthy again; a second run finds nothing to finish. (What the killed apt-get was
   asked to install is not replayed: the role that needs python3-venv installs it.)

Where dpkg is killed varies with timing: at the journal's first entry python3.11 is left reinstreq
half-configured; later, packages are half-installed or unpacked. Both are finished (the unit tests
cover each state on the captured database, tests/unit/fixtures/dpkg).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from dlstack_faults import (REPO, ansible_env, dexec, lab_vars, package_health, run_playbook, snapshot, snapshot_diff,
                            start_container, write_inventory)

# Kills dpkg and apt-get (SIGKILL, as a power cut leaves them) as soon as dpkg's journal has an entry.
_KILL_WHEN_UNPACKING = r'''
while ! ls /var/lib/dpkg/updates/ 2>/dev/null | grep -q '^[0-9]'; do sleep 0.002; done
pkill -KILL -x dpkg; pkill -KILL -x apt-get; echo killed
'''


RECOVER_TASK = 'Finish what a killed dpkg left half-done, or stop saying what to run'


def _journal(container):
    return [n for n in dexec(container, 'ls', '/var/lib/dpkg/updates').stdout.split() if n.isdigit()]


def _not_installed_ok(container):
    out = dexec(container, 'dpkg-query', '-W', '-f', '${Package}:${Architecture} ${db:Status-Abbrev}\n').stdout
    return sorted(line for line in out.splitlines() if line.split()[-1] != 'ii')


@pytest.fixture(scope='module')
def killed(lab):
    container = start_container('dpkg')
    dexec(container, 'apt-get', 'update', '-q', timeout=300)
    dexec(container, 'sh', '-c', 'cat > /tmp/kill-when-unpacking.sh', input_text=_KILL_WHEN_UNPACKING)
    dexec(container, 'sh', '-c', 'nohup sh /tmp/kill-when-unpacking.sh > /tmp/kill.log 2>&1 &')
    install = dexec(container, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q', 'python3-venv',
                    check=False, timeout=600)
    assert install.returncode != 0, install.stdout[-2000:]  # killed, not finished
    assert dexec(container, 'cat', '/tmp/kill.log').stdout.strip() == 'killed'
    # really interrupted: journal entries, unfinished packages, apt refuses any install
    journal, unfinished = _journal(container), _not_installed_ok(container)
    assert journal, 'dpkg left no journal entry: the kill came too late'
    refused = dexec(container, 'apt-get', 'install', '-y', '-q', 'bzip2', check=False)
    assert refused.returncode != 0 and "dpkg was interrupted, you must manually run 'dpkg --configure -a'" in refused.stderr, refused
    return container, journal, unfinished


def test_dpkg_recover_without_repair_stops_before_any_change(killed, tmp_path):
    container, journal, _unfinished = killed
    before = snapshot(container)
    argv = [str(REPO / '.venv' / 'bin' / 'ansible'), 'all', '-i', '%s,' % container, '-c', 'community.docker.docker',
            '-e', 'ansible_python_interpreter=/usr/bin/python3', '-m', 'labops.dlstack.dpkg_recover', '-a', 'repair=false',
            '-o']
    proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env('minimal'), cwd=str(REPO), timeout=300,
                          check=False)
    (tmp_path / 'recover.log').write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ('dpkg was interrupted (%d journal entr' % len(journal)) in proc.stdout, proc.stdout
    assert "Run 'dpkg --configure -a'" in proc.stdout and 'Nothing was changed.' in proc.stdout, proc.stdout
    # The only files written: the bytecode cache of the half-configured python3.11's standard library, which its
    # postinst (py3compile) never wrote, written by the Python that ran the module itself; no package state changed.
    diff = snapshot_diff(before, snapshot(container), limit=1000)
    assert [line for line in diff if not (line.startswith('added    /usr/lib/python3') and '/__pycache__' in line)] == [], diff


def test_next_run_finishes_dpkg_then_converges(killed, tmp_path, reports):
    container, journal, unfinished = killed
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-dpkg': (container, {})}, lab_vars(reports))
    run = run_playbook(tmp_path / 'run.log', inventory, tags='ca')
    assert run.rc == 0 and run.stats['ws-dpkg']['failures'] == 0, run.summary('ws-dpkg')
    recovered = [result for name, result in run.results('ws-dpkg') if name.endswith(RECOVER_TASK)]
    first = recovered[0]
    assert first['changed'] and first['interrupted'] and first['journal'] == len(journal), json.dumps(first)[:3000]
    assert first['commands'][0] == 'dpkg --configure -a --force-confdef --force-confold', first['commands']
    # packages dpkg must unpack again (reinstreq) are named with --reinstall
    reinstall = [p.split()[0].replace(':all', '') for p in first['packages'] if '(reinstall required)' in p]
    if reinstall:
        assert first['commands'][1].endswith('--reinstall ' + ' '.join(reinstall)), first['commands']
    assert any('dpkg was interrupted' in w and 'finished with' in w for w in first.get('warnings', [])), first
    # the unfinished packages it found are those dpkg-query showed after the kill
    assert sorted(p.split()[0] for p in first['packages']) == sorted(u.split()[0] for u in unfinished), (first, unfinished)
    # healthy again: no journal, every package installed ok, apt plans nothing broken, the upgraded python3.11 runs
    audit, (check_rc, check_out), not_ii = package_health(container)
    assert (audit.strip(), check_rc, not_ii, _journal(container)) == ('', 0, [], []), (audit, check_out, not_ii)
    assert dexec(container, 'python3', '-c', 'import ssl, sqlite3, venv').returncode == 0
    # what the killed apt-get was asked for is not replayed (the role that needs python3-venv installs it)
    assert not dexec(container, 'dpkg-query', '-W', '-f', '${db:Status-Abbrev}', 'python3-venv', check=False).stdout.startswith('ii')
    # and the role did its own work after that (the CA certificate installed)
    assert 'Install certificates' in ' '.join(run.changed_tasks('ws-dpkg'))

    again = run_playbook(tmp_path / 'again.log', inventory, tags='ca')
    assert again.rc == 0 and again.stats['ws-dpkg']['changed'] == 0, again.summary('ws-dpkg')

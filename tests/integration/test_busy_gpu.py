# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running jobs: the driver role never breaks a job it does not have to.

Two Debian 12 containers are the recorded Tesla T4 of telegraf/tesla-t4.xml (gpu_profile t4-busy:
driver 515.105.01 loaded, alice's python job on GPU 0 since 71 h, Xorg beside it; SIMULATED, through a
replayed nvidia-smi). In container mode the driver role installs Debian 12's R535 userspace: with the
515 module loaded, that would swap the libraries under the GPUs' users, so it disturbs them.

Run 1 (`site --tags driver`, batches of one host): ws-busy (default policy, defer) is deferred - nothing
changes but the role's report file, and the role's result, its summary and the fleet report say who;
ws-wait (policy wait) waits, its job ends while it waits (the test ends it), and it installs, in the next
batch: a deferral is no failure. verify.yml then shows ws-busy deferred. Run 2, the same command: ws-busy's
job has ended and it converges with no manual step; ws-wait's job is back, but nothing would change there,
so it is not deferred and the driver role changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

from dlstack_faults import WORK, dexec, gpu_vars, lab_vars, run_playbook, snapshot, snapshot_diff, start_container, write_inventory

CALL_LOG = '/tmp/dlstack-busy-nvidia-smi.log'  # inside the container (not part of a snapshot)
JOB = 'deferred: 1 process on GPU 0 (alice python 71h). This run would install the userspace of driver branch 535 (nvidia-smi, '
REPORT = '/etc/labops-dlstack/nvidia_driver.json'


def _recording(name, running, call_log=False):
    """A private copy of the T4 recording under the mounted profiles directory, with alice's job running or not."""
    dest = WORK / 'profiles' / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(WORK / 'profiles' / 't4-busy', dest, symlinks=True)
    if call_log:
        for profile in ('t4-busy', 't4-idle'):
            spec = json.loads((WORK / 'profiles' / profile / 'bin' / 'nvidia-smi.json').read_text())
            spec['call_log'] = CALL_LOG
            (dest / ('nvidia-smi-%s.json' % profile)).write_text(json.dumps(spec))
    set_job(dest, running)
    return name


def set_job(dest, running):
    """Start or end alice's job in a recording: her process in procfs and nvidia-smi's answer (an atomic replace)."""
    job = dest / 'proc' / '5762'
    if running and not job.exists():
        shutil.copytree(WORK / 'profiles' / 't4-busy' / 'proc' / '5762', job, symlinks=True)
    spec = dest / ('nvidia-smi-%s.json' % ('t4-busy' if running else 't4-idle'))
    source = spec if spec.exists() else WORK / 'profiles' / ('t4-busy' if running else 't4-idle') / 'bin' / 'nvidia-smi.json'
    tmp = dest / 'bin' / 'nvidia-smi.json.tmp'
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest / 'bin' / 'nvidia-smi.json')
    if not running:
        shutil.rmtree(job, ignore_errors=True)


def _end_job_while_waiting(container, dest, stop):
    """End the job once the role's wait loop has probed (2 --query-compute-apps calls: the play's probe, the first wait)."""
    while not stop.is_set():
        log = dexec(container, 'cat', CALL_LOG, check=False).stdout
        if log.count('--query-compute-apps') >= 2:
            set_job(dest, running=False)
            return
        time.sleep(0.5)


def _result(run, host):
    results = [r for name, r in run.results(host) if name.endswith('Publish what the role decided (fact nvidia_driver_result)')]
    assert results, run.summary(host)
    return results[-1]['ansible_facts']['nvidia_driver_result']


def _task(run, host, suffix):
    """The results of the tasks named ...suffix that ran on host (a host left for the driver batches passes the
    role's change and verify tasks skipped in the first driver play, then runs them in its batch)."""
    return [r for name, r in run.results(host) if name.endswith(suffix) and not r.get('skipped')]


def _batches(run):
    """The hosts of each batch of site.yml's driver changes (the JSON callback keeps a play per batch)."""
    return [sorted(play['tasks'][0]['hosts']) for play in run.data.get('plays', [])
            if play['play']['name'] == 'NVIDIA driver changes, in batches' and play.get('tasks')]


def _fleet_lines(run):
    """The fleet report's terminal summary (run once, on whichever host ran it)."""
    for host in run.stats:
        for result in _task(run, host, 'fleet_report : Summary'):
            if 'msg' in result:
                return result['msg']
    raise AssertionError('no fleet report summary in %s' % run.log)


def _dpkg(container, name):
    return dexec(container, 'dpkg-query', '-W', '-f', '${db:Status-Abbrev}', name, check=False).stdout.strip()


def test_busy_host_defers_and_converges_when_idle(lab, tmp_path, reports):
    ws1 = start_container('busy1', users=('alice',))
    ws2 = start_container('busy2', users=('alice',))
    rec1 = _recording('busy-ws1', running=True)
    rec2 = _recording('busy-ws2', running=True, call_log=True)
    # The recorded T4's loaded 515 runs it, which the role keeps by default (in a container too): enforce the
    # role's own packages (Debian 12's 535 userspace), the change a running job must not see happen under it.
    common = dict(lab_vars(reports), dlstack_serial=1, nvidia_driver_keep_satisfying=False)
    hosts = {'ws-busy': (ws1, gpu_vars(rec1)),
             'ws-wait': (ws2, dict(gpu_vars(rec2), nvidia_driver_busy_policy='wait', nvidia_driver_busy_wait_timeout=180,
                                   nvidia_driver_busy_wait_poll=2))}
    inventory = write_inventory(tmp_path / 'inventory.yml', hosts, common)
    before = snapshot(ws1)

    stop = threading.Event()
    ender = threading.Thread(target=_end_job_while_waiting, args=(ws2, WORK / 'profiles' / rec2, stop), daemon=True)
    ender.start()
    try:
        run1 = run_playbook(tmp_path / 'run1.log', inventory, tags='driver')
    finally:
        stop.set()
        ender.join(10)

    # both hosts have the driver to install: each changed in a batch of its own (dlstack_serial 1, read from the
    # inventory), in inventory order
    assert _batches(run1) == [['ws-busy'], ['ws-wait']], _batches(run1)

    # ---- run 1, ws-busy: deferred, nothing changed, the result, the summary and the fleet report say who
    for host in ('ws-busy', 'ws-wait'):
        assert run1.rc == 0 and not run1.failures(host), run1.summary(host)
    result = _result(run1, 'ws-busy')
    assert result['action'] == 'deferred', result
    assert result['deferred'].startswith(JOB), result['deferred']
    assert snapshot_diff(before, snapshot(ws1)) == ['added    /etc/labops-dlstack', 'added    %s' % REPORT]
    assert _dpkg(ws1, 'nvidia-smi') == ''  # not installed
    on_host = json.loads(dexec(ws1, 'cat', REPORT).stdout)
    assert (on_host['action'], on_host['deferred']) == ('deferred', result['deferred'])
    summary = _task(run1, 'ws-busy', 'nvidia_driver : Summary')[0]['msg']
    assert summary.startswith('nvidia_driver deferred (container): ' + JOB), summary
    site = json.loads((reports / 'site_report.json').read_text())
    rows = dict((r['host'], r) for r in site['rows'])
    assert rows['ws-busy']['driver_deferred'].startswith(JOB) and rows['ws-busy']['severity'] == 'ok'
    assert rows['ws-wait']['driver_deferred'] == ''
    assert site['summary']['deferred_hosts'] == ['ws-busy']
    assert 'driver deferred' in (reports / 'site_report.html').read_text()
    lines = _fleet_lines(run1)
    assert 'driver deferred for running jobs: ws-busy' in lines[0]
    assert [line for line in lines if line.startswith('ws-busy')][0].endswith('-> driver ' + result['deferred'])

    # ---- run 1, ws-wait (the next batch): waited, the job ended, installed
    waited = _task(run1, 'ws-wait', 'Wait for the GPUs to go idle (nvidia_driver_busy_policy wait)')
    assert waited and waited[0]['attempts'] >= 2, waited
    said = [r['msg'] for r in _task(run1, 'ws-wait', 'Say what running GPU work meant for this step') if 'msg' in r]
    assert any(m.startswith('nvidia_driver: the GPUs went idle after ') for m in said), said
    assert _result(run1, 'ws-wait')['action'] == 'install' and _result(run1, 'ws-wait')['deferred'] is None
    assert _dpkg(ws2, 'nvidia-smi') == 'hi'  # installed and held

    # ---- verify.yml shows the deferred host, as no failure
    verify_inventory = write_inventory(tmp_path / 'verify.yml', hosts, dict(
        (k, v) for k, v in common.items() if not k.startswith(('pytorch_env_', 'conda_'))))
    verify = run_playbook(tmp_path / 'verify.log', verify_inventory, playbook='labops.dlstack.verify')
    assert verify.rc == 0, verify.summary('ws-busy')
    rows = dict((r['host'], r) for r in json.loads((reports / 'verify_report.json').read_text())['rows'])
    assert rows['ws-busy']['driver_deferred'].startswith(JOB)
    assert rows['ws-wait']['driver_deferred'] == ''

    # ---- run 2, the same command: ws-busy's job ended, ws-wait's job is back
    set_job(WORK / 'profiles' / rec1, running=False)
    set_job(WORK / 'profiles' / rec2, running=True)
    run2 = run_playbook(tmp_path / 'run2.log', inventory, tags='driver')
    for host in ('ws-busy', 'ws-wait'):
        assert run2.rc == 0 and not run2.failures(host), run2.summary(host)
    converged = _result(run2, 'ws-busy')
    assert (converged['action'], converged['deferred']) == ('install', None)
    assert _dpkg(ws1, 'nvidia-smi') == 'hi'
    assert json.loads(dexec(ws1, 'cat', REPORT).stdout)['action'] == 'install'
    # ws-wait: busy again, but every package is in place: the role's fast path finds the host as run 1 left it, so
    # the busy guard has nothing to guard (no wait, no deferral) and nothing changes
    again = _result(run2, 'ws-wait')
    assert (again['action'], again['deferred']) == ('install', None)
    # ... and it is checked beside the others, not in a batch: only the deferred ws-busy has a change to make
    assert _batches(run2) == [['ws-busy']], _batches(run2)
    state = _task(run2, 'ws-wait', 'Read the installed packages and ask once whether the driver, its holds and its files are as the last converge left them')
    assert state and state[0]['converged'] is True and state[0]['drift'] == [], state
    assert _task(run2, 'ws-wait', 'Wait for the GPUs to go idle (nvidia_driver_busy_policy wait)') == []
    assert _task(run2, 'ws-wait', 'Say what running GPU work meant for this step') == []
    changed = [name for name in run2.changed_tasks('ws-wait') if 'nvidia_driver' in name]
    assert changed == [], changed
    site = json.loads((reports / 'site_report.json').read_text())
    assert site['summary']['deferred_hosts'] == []

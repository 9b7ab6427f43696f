# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab host that dies during a run: the other hosts finish, and the fleet report names the dead one.

Two hosts run the conda stage of the site playbook together. On ws-die the installer pauses (the stand-in
of molecule/conda with a pause while a flag file exists, as test_interrupt.py makes it); while it pauses,
the container is killed (`docker kill`: the machine is gone, as after a power cut). ws-live, which runs
the same tasks at the same time, must finish its conda for both users, and the report (JSON and the
summary) must name ws-die as a host the run did not finish on, although it keeps its first probe's facts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

from dlstack_faults import (STANDIN, USERS, ansible_env, dexec, docker, lab_vars, playbook_argv, sha256_file, start_container,
                            wait_for, write_inventory, Run)

SLOW_FLAG = '/tmp/dlstack-faults-slow-installer'


def test_a_host_dying_mid_run_lets_the_others_finish_and_is_named(lab, tmp_path, reports):
    live, dying = start_container('live'), start_container('die')
    text = STANDIN.read_text()
    marker = '\nmkdir -p "$PREFIX/conda-meta"'
    assert marker in text
    installer = tmp_path / 'Miniforge3-slowstandin-Linux-x86_64.sh'
    installer.write_text(text.replace(marker, '\nif [ -e %s ]; then sleep 600; fi%s' % (SLOW_FLAG, marker), 1))
    variables = dict(lab_vars(reports), conda_installer_src=str(installer), conda_installer_sha256=sha256_file(installer))
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-live': (live, {}), 'ws-die': (dying, {})}, variables)
    dexec(dying, 'touch', SLOW_FLAG)  # only the dying host's installer pauses

    log = tmp_path / 'run.log'
    proc = subprocess.Popen(playbook_argv(inventory, tags='conda'), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ansible_env(), cwd=str(tmp_path), start_new_session=True)
    try:
        paused = wait_for(lambda: 'sleep 600' in dexec(dying, 'ps', '-eo', 'args', check=False).stdout, 300)
        assert paused, 'the installer on ws-die never reached its pause'
        docker('kill', dying)  # the host is gone
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log.write_text(stdout + '\n--- stderr\n' + stderr)
    run = Run(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), log)

    # the dead host is reported unreachable (or failed), the live one finished without a failure
    assert run.rc != 0, run.summary('ws-die')
    dead = run.stats['ws-die']
    assert dead.get('unreachable', 0) + dead.get('failures', 0) >= 1, run.summary('ws-die')
    assert (run.stats['ws-live'].get('failures', 0), run.stats['ws-live'].get('unreachable', 0)) == (0, 0), run.summary('ws-live')
    for user in USERS:
        out = dexec(live, '/home/%s/miniforge3/bin/conda' % user, '--version', user=user, check=False)
        assert (out.returncode, out.stdout.strip()) == (0, 'conda 26.3.2'), out

    # the report names it: a row with the problem, counted among the hosts needing action, in the summary lines
    report = json.loads((reports / 'site_report.json').read_text())
    rows = dict((row['host'], row) for row in report['rows'])
    assert rows['ws-die']['severity'] == 'error' and rows['ws-die']['problems'][0].startswith(
        'this run did not finish on this host'), rows['ws-die']
    assert rows['ws-live']['problems'] == [] and rows['ws-live']['severity'] != 'error', rows['ws-live']
    assert 'ws-die' in report['summary']['hosts_needing_action']
    lines = [m for host in ('ws-live', 'ws-die') for _name, result in run.results(host)
             for m in (result.get('msg') if isinstance(result.get('msg'), list) else [])]
    assert any(line.startswith('ws-die') and 'this run did not finish on this host' in line for line in lines), lines

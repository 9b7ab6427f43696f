# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Never break a running job (plugins/module_utils/_driver_busy.py): the nvidia_driver role's decision.

The busy hosts are real captures: the recorded Tesla T4 of telegraf/tesla-t4.xml (gpu_profile t4-busy /
t4-idle: python, pid 5762, 1005 MiB on GPU 0, Xorg beside it; the owner alice and the start 71 h ago are
the profile's stand-ins), probed by the real probe through a replayed nvidia-smi, and the <processes> of
the other XML captures. Plans come from _nvidia_driver.plan() for Debian 12, as the role computes them.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _driver_busy as b
from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_probe as gp
from ansible_collections.labops.dlstack.plugins.module_utils import _nvidia_driver as nd

TOOLS = os.path.join(os.path.dirname(__file__), '..', '..', 'tools')

ALICE = {'gpu': 0, 'pid': 5762, 'user': 'alice', 'name': 'python', 'memory_mib': 1005, 'elapsed_s': 256200, 'type': 'C'}
T4_PACKAGES = ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced']
DEBIAN12_INSTALLED = dict((name, '535.261.03-1') for name in T4_PACKAGES)


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope='module')
def recorded(tmp_path_factory):
    """Probe facts of the recorded hosts the demo and the integration tests use (gpu_profile.py)."""
    out = {}
    for profile in ('t4-busy', 't4-idle', 'rtx3090-nouveau', 'h200'):
        dest = str(tmp_path_factory.mktemp(profile))
        subprocess.run([sys.executable, os.path.join(TOOLS, 'gpu_profile.py'), profile, dest], check=True, capture_output=True)
        smi = os.path.join(dest, 'bin', 'nvidia-smi')
        out[profile] = gp.probe(run=_run, nvidia_smi=smi if os.path.exists(smi) else None, sysfs_root=dest + '/sys',
                                procfs_root=dest + '/proc', root=dest, dev_root=dest + '/dev')
    return out


def _plan(gpu, **kwargs):
    # keep_satisfying false: the role enforces its own packages, so a recorded host whose loaded driver
    # already runs its GPUs still gets a change planned (the change the busy guard must hold back)
    kwargs.setdefault('keep_satisfying', False)
    return nd.plan(gpu, 'Debian', '12', kernel_release='6.1.0-28-amd64', **kwargs)


def _host(gpu):
    """The same probe seen on a host rather than in a container."""
    gpu = copy.deepcopy(gpu)
    gpu['in_container'] = False
    gpu['container_evidence'] = None
    return gpu


# ---- small helpers ----------------------------------------------------------------------------------

@pytest.mark.parametrize('seconds, text', [(None, None), (0, '0s'), (59, '59s'), (60, '1m'), (3599, '59m'), (3600, '1h'),
                                           (256200, '71h'), (359999, '99h'), (360000, '4d'), (864000, '10d')])
def test_format_elapsed(seconds, text):
    assert b.format_elapsed(seconds) == text


@pytest.mark.parametrize('name, short', [
    ('python', 'python'), ('/root/src/llama.cpp/build/bin/llama-server', 'llama-server'), ('./gpu_burn', 'gpu_burn'),
    ('/usr/lib/chromium/chromium --type=gpu-process --field-trial-handle=1880224456256751497,10415613957372836837,131072', 'chromium'),
    ('C:\\Program Files\\WindowsApps\\91750D7E.Slack_4.28.171.0_x64__8she8kybcnzg4\\app\\Slack.exe', 'Slack.exe'),
    (None, '?'), ('', '?')])
def test_short_name(name, short):
    assert b.short_name(name) == short


# ---- which processes are work -------------------------------------------------------------------------

@pytest.mark.parametrize('capture, position, work', [
    ('telegraf/tesla-t4.xml', 0, [(5762, 'python')]),                      # Xorg (G) beside it is the desktop
    ('telegraf/rtx-4000-sff-ada-v13.xml', 0, [(4937, 'python'), (34626, '/usr/lib/chromium/chromium')]),  # cosmic-comp, code: G
    ('telegraf/gt-1030.xml', 0, []),                                       # ten graphics processes, no job
    ('telegraf/a10g.xml', 0, []),
    ('telegraf/dual_a5000-v13.xml', 1, [(100477, '/root/src/llama.cpp/build/bin/llama-server')]),
])
def test_work_from_xml_captures(fixture_text, capture, position, work):
    gpu = gp.parse_nvidia_smi_xml(fixture_text(*capture.split('/')))['gpus'][position]
    facts = {'processes': [dict(q, gpu=0) for q in gpu['processes']]}
    assert [(q['pid'], q['name']) for q in b.work_processes(facts)] == work


def test_a_compositor_with_a_compute_context_is_not_work():
    """kwin_wayland holds a compute context (the RTX 4080 SUPER capture lists it under --query-compute-apps)."""
    facts = {'processes': [{'gpu': 0, 'pid': 2165, 'name': '/usr/bin/kwin_wayland', 'type': 'C'},
                           {'gpu': 0, 'pid': 5022, 'name': 'ffmpeg', 'type': 'C'}]}
    assert [q['pid'] for q in b.work_processes(facts)] == [5022]


def test_summary_two_gpus_and_sessions(fixture_text):
    xml = gp.parse_nvidia_smi_xml(fixture_text('telegraf', 'dual_a5000-v13.xml'))
    procs = []
    for gpu in xml['gpus']:
        procs += [dict(q, gpu=gpu['index'], user='root', elapsed_s=5 * 3600) for q in gpu['processes']]
    work = b.work_processes({'processes': sorted(procs, key=lambda q: q['gpu'])})
    sessions = [{'user': 'bob', 'tty': 'pts/0', 'remote_host': '10.0.0.7'}, {'user': 'carol', 'tty': 'tty2', 'remote_host': None}]
    assert b.busy_summary(work, sessions) == ('1 process on GPU 0 (root llama-server 5h); 1 process on GPU 1 (root llama-server 5h); '
                                              '2 interactive sessions (bob pts/0 from 10.0.0.7, carol tty2)')
    assert b.busy_summary([ALICE, dict(ALICE, pid=6001, user=None, elapsed_s=None)]) == \
        '2 processes on GPU 0 (alice python 71h, pid 6001 python)'


# ---- the recorded busy host, probed for real -------------------------------------------------------------

def test_recorded_t4_busy_probe(recorded):
    facts = recorded['t4-busy']
    assert (facts['status'], facts['driver']['version'], facts['in_container']) == ('ok', '515.105.01', True)
    assert facts['processes'] == [ALICE]
    assert facts['processes_source'] == 'nvidia-smi'
    assert recorded['t4-idle']['processes'] == [] and recorded['t4-idle']['processes_source'] == 'nvidia-smi'


def test_busy_container_defers_the_userspace_install(recorded):
    """What the integration test runs: Debian 12 container, the T4's loaded 515 driver, alice's job."""
    facts = recorded['t4-busy']
    plan = _plan(facts)
    assert (plan['action'], plan['mode'], plan['branch'], plan['packages']) == ('install', 'container', 535, T4_PACKAGES)
    d = b.busy_decision(facts, plan=plan, installed={'bash': '5.2.15-2+b7'})
    assert d['decision'] == 'defer'
    assert d['summary'] == '1 process on GPU 0 (alice python 71h)'
    assert d['effects'] == ['install the userspace of driver branch 535 (nvidia-smi, libcuda1, libnvidia-ml1, nvidia-persistenced) into '
                            'this container, whose GPUs run the loaded driver 515.105.01 (CUDA programs started afterwards would load '
                            'the new libraries)']
    assert d['message'] == (
        'deferred: 1 process on GPU 0 (alice python 71h). This run would install the userspace of driver branch 535 (nvidia-smi, '
        'libcuda1, libnvidia-ml1, nvidia-persistenced) into this container, whose GPUs run the loaded driver 515.105.01 (CUDA '
        'programs started afterwards would load the new libraries); the driver change waits and nothing was changed for it. A '
        'later run goes ahead once the GPUs are idle (nvidia_driver_busy_policy: wait waits for that, proceed does it anyway).')
    assert (d['reboot'], d['sessions'], d['work']) == (False, [], [ALICE])


def test_same_host_idle_goes_ahead(recorded):
    facts = recorded['t4-idle']
    d = b.busy_decision(facts, plan=_plan(facts), installed={})
    assert (d['decision'], d['busy'], d['message']) == ('go', False, None)
    assert d['effects']  # the change would still replace the userspace: only nobody is using it


def test_busy_host_with_nothing_to_change_goes_ahead(recorded):
    """After the idle run installed the userspace, the job may come back: apt has nothing to do, no deferral."""
    facts = recorded['t4-busy']
    d = b.busy_decision(facts, plan=_plan(facts), installed=DEBIAN12_INSTALLED)
    assert (d['decision'], d['effects'], d['busy']) == ('go', [], True)
    assert d['message'] == '1 process on GPU 0 (alice python 71h); nothing this run does can disturb the loaded driver 515.105.01'


def test_no_loaded_driver_is_never_deferred(recorded):
    facts = copy.deepcopy(recorded['rtx3090-nouveau'])
    assert facts['status'] == 'nouveau_bound' and facts['processes_source'] is None
    facts['sessions'] = [{'user': 'bob', 'tty': 'pts/0', 'remote_host': '10.0.0.7'}]
    d = b.busy_decision(_host(facts), plan=_plan(_host(facts)), installed={})
    assert (d['decision'], d['effects'], d['busy']) == ('go', [], False)


def test_satisfied_driver_is_never_deferred(recorded):
    for facts in (_host(recorded['t4-busy']), recorded['t4-busy']):  # a host, and the container it is recorded in
        plan = _plan(facts, keep_satisfying=True)
        assert plan['action'] == 'satisfied'  # the loaded 515 runs the T4: it keeps it
        assert b.busy_decision(facts, plan=plan, installed={})['decision'] == 'go'


# ---- policies ---------------------------------------------------------------------------------------

@pytest.fixture
def busy_change(recorded):
    facts = recorded['t4-busy']
    return facts, _plan(facts)


def test_policy_wait_then_still_busy(busy_change):
    facts, plan = busy_change
    first = b.busy_decision(facts, plan=plan, policy='wait', wait_timeout=3600)
    assert first['decision'] == 'wait'
    assert first['message'].startswith('waiting up to 3600 s for the GPUs to go idle (1 process on GPU 0 (alice python 71h)): '
                                       'this run would install the userspace of driver branch 535')
    after = b.busy_decision(facts, plan=plan, policy='wait', wait_timeout=3600, waited_s=3600)
    assert after['decision'] == 'defer'
    assert after['message'].startswith('deferred: 1 process on GPU 0 (alice python 71h) (still busy after 3600 s of waiting). '
                                       'This run would install')


def test_policy_wait_then_idle(recorded):
    facts = recorded['t4-idle']
    d = b.busy_decision(facts, plan=_plan(facts), policy='wait', waited_s=120)
    assert (d['decision'], d['message']) == ('go', 'the GPUs went idle after 120 s of waiting')


def test_policy_wait_in_check_mode_does_not_wait(busy_change):
    facts, plan = busy_change
    d = b.busy_decision(facts, plan=plan, policy='wait', wait_timeout=600, check_mode=True)
    assert d['decision'] == 'defer'
    assert d['message'].startswith('deferred: 1 process on GPU 0 (alice python 71h) (check mode: a run would first wait up to 600 s). ')


def test_policy_proceed(busy_change):
    facts, plan = busy_change
    d = b.busy_decision(facts, plan=plan, policy='proceed')
    assert d['decision'] == 'proceed'
    assert d['message'].startswith('proceeding although 1 process on GPU 0 (alice python 71h): this run will install the userspace')
    assert d['message'].endswith('(nvidia_driver_busy_policy: proceed)')


def test_invalid_policy(busy_change):
    facts, plan = busy_change
    d = b.busy_decision(facts, plan=plan, policy='later')
    assert d['decision'] is None
    assert d['errors'] == ["nvidia_driver_busy_policy: 'later' is not one of defer, wait, proceed"]


# ---- on a host: package change, reboot, sessions -----------------------------------------------------------

def _host_upgrade(recorded):
    """The T4 host asked for branch 535 (nvidia_driver_branch: '535') while 515 is loaded and alice's job runs."""
    facts = _host(recorded['t4-busy'])
    plan = _plan(facts, branch='535')
    assert (plan['action'], plan['mode'], plan['branch']) == ('install', 'host', 535)
    return facts, plan


def test_host_branch_switch_and_reboot(recorded):
    facts, plan = _host_upgrade(recorded)
    installed = {'nvidia-smi': '515.105.01-1', 'libcuda1': '515.105.01-1'}
    effects = b.change_effects(facts, plan, installed)
    assert effects['reboot'] is True
    assert effects['effects'] == [
        'install driver branch 535 (libnvidia-ml1, nvidia-persistenced, nvidia-open-kernel-dkms, firmware-nvidia-gsp, open kernel '
        'module) over the loaded driver 515.105.01', 'reboot to load the new kernel module']
    assert plan['packages'][-2:] == ['linux-headers-6.1.0-28-amd64', 'linux-headers-amd64']  # headers touch no driver: not in the list


def test_sessions_count_only_before_a_reboot(recorded):
    facts, plan = _host_upgrade(recorded)
    facts['processes'] = []
    facts['sessions'] = [{'user': 'bob', 'tty': 'pts/0', 'remote_host': '10.0.0.7', 'pid': 4242}]
    d = b.busy_decision(facts, plan=plan, installed={})
    assert d['decision'] == 'defer'
    assert d['message'].startswith('deferred: 1 interactive session (bob pts/0 from 10.0.0.7). This run would install driver branch '
                                   '535')
    assert b.busy_decision(facts, plan=plan, installed={}, sessions=False)['decision'] == 'go'
    # no reboot by the role (nvidia_driver_reboot: never, or a local connection): logins are not in the way
    assert b.busy_decision(facts, plan=plan, installed={}, reboot_policy='never')['decision'] == 'go'
    assert b.busy_decision(facts, plan=plan, installed={}, connection='local')['decision'] == 'go'


def test_pending_reboot_of_an_installed_driver(recorded):
    """A run that proceeded without rebooting (or deferred the reboot) left 535 installed under the loaded 515."""
    facts, plan = _host_upgrade(recorded)
    installed = dict((name, '535.261.03-1') for name in plan['packages'])
    effects = b.change_effects(facts, plan, installed)
    assert effects == {'loaded_version': '515.105.01', 'effects': ['reboot to load the new kernel module'], 'reboot': True}
    assert b.busy_decision(facts, plan=plan, installed=installed)['decision'] == 'defer'
    assert b.change_effects(facts, plan, installed, reboot_policy='never')['effects'] == []


def test_epoch_in_the_installed_version():
    facts = {'driver': {'loaded': True, 'version': '580.95.05'}, 'status': 'ok', 'processes': [ALICE], 'processes_source': 'nvidia-smi'}
    plan = {'action': 'install', 'mode': 'host', 'packages': ['nvidia-utils-580'], 'remove': [], 'version_package': 'nvidia-utils-580'}
    assert b.change_effects(facts, plan, {'nvidia-utils-580': '1:580.95.05-0ubuntu1'})['effects'] == []
    assert b.change_effects(facts, plan, {'nvidia-utils-580': '1:580.105.08-0ubuntu1'})['reboot'] is True


def test_removal_of_a_loaded_driver(recorded):
    facts = _host(recorded['t4-busy'])
    plan = _plan(facts, state='absent', installed=DEBIAN12_INSTALLED)
    assert plan['action'] == 'remove'
    d = b.busy_decision(facts, plan=plan)
    assert d['decision'] == 'defer'
    assert d['effects'] == ['remove the driver packages (libcuda1, libnvidia-ml1, nvidia-persistenced, nvidia-smi) of the loaded '
                            'driver 515.105.01']


def test_other_plans_change_nothing(recorded):
    facts = recorded['t4-busy']
    for action in ('satisfied', 'skip', 'fail', 'deferred'):
        assert b.change_effects(facts, {'action': action, 'packages': T4_PACKAGES})['effects'] == []


def test_unknown_processes_count_as_busy(recorded):
    facts = copy.deepcopy(recorded['t4-busy'])
    facts['processes'], facts['processes_source'] = [], None
    d = b.busy_decision(facts, plan=_plan(facts), installed={})
    assert d['decision'] == 'defer'
    assert d['summary'] == 'GPU processes unknown (neither nvidia-smi nor /proc could list them)'


def test_reboot_stage(recorded):
    facts = _host(recorded['t4-busy'])
    reboot = nd.reboot_decision(facts, '535.261.03-1', mode='host')
    assert reboot['reboot'] is True
    d = b.busy_decision(facts, stage='reboot', reboot=reboot)
    assert d['decision'] == 'defer'
    assert d['effects'] == ['reboot to load driver 535.261.03 (the loaded kernel module is 515.105.01)']
    assert d['message'].startswith('deferred: 1 process on GPU 0 (alice python 71h). This run would reboot to load driver 535.261.03 '
                                   '(the loaded kernel module is 515.105.01); the reboot waits and nothing was changed for it.')
    idle = _host(recorded['t4-idle'])
    idle['sessions'] = [{'user': 'carol', 'tty': 'tty2', 'remote_host': None}]
    assert b.busy_decision(idle, stage='reboot', reboot=reboot)['summary'] == '1 interactive session (carol tty2)'
    idle['sessions'] = []
    assert b.busy_decision(idle, stage='reboot', reboot=reboot)['decision'] == 'go'
    assert b.busy_decision(facts, stage='reboot', reboot=dict(reboot, reboot=False))['decision'] == 'go'

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who uses the GPUs (plugins/module_utils/_gpu_processes.py), from real captures.

The process lists are real: the <processes> of the telegraf/netdata `nvidia-smi -q -x` captures and the
`--query-compute-apps` output of nvidia_gpu_exporter's captures (tests/unit/fixtures/gpu/PROVENANCE.md).
What no capture holds (a pid's owner and start time in procfs, the utmp of a lab machine) is written by
the recorded-host helpers in the kernel's and glibc's formats; the utmp fixture was written by util-linux
`utmpdump -r` from sessions/utmp.txt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import ReplayNvidiaSmi, help_query_fields

from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_probe as gp
from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_processes as p

EXPORTER_FIELDS = ('timestamp', 'gpu_name', 'gpu_bus_id', 'gpu_serial', 'gpu_uuid', 'pid', 'process_name', 'used_gpu_memory')


def _section(text, label):
    """One section of an nvidia_gpu_exporter capture: the output below its '# $ nvidia-smi ...' header."""
    sep = '#' * 80 + '\n'
    body = text.split(sep + '# ' + label + '\n', 1)[1]
    return body.split(sep, 2)[1].split(sep, 1)[0]


# ---- --query-compute-apps (nvidia_gpu_exporter captures) -----------------------------------------------

def test_compute_apps_h200_under_load(fixture_text):
    text = fixture_text('nvidia_gpu_exporter', 'h200-590.48.01-compute-apps.txt')
    rows = p.parse_compute_apps(_section(text, 'load :: query-compute-apps (per-process)'), EXPORTER_FIELDS)
    assert rows == [
        {'gpu_bus_id': '0000:83:00.0', 'pid': 10291, 'type': 'C', 'memory_mib': 2566, 'name': '/root/tools/memhog'},
        {'gpu_bus_id': '0000:83:00.0', 'pid': 10293, 'type': 'C', 'memory_mib': 1542, 'name': '/root/tools/memhog'},
        {'gpu_bus_id': '0000:83:00.0', 'pid': 10309, 'type': 'C', 'memory_mib': 28234, 'name': './gpu_burn'},
    ]


def test_compute_apps_h200_idle_is_only_the_header(fixture_text):
    text = fixture_text('nvidia_gpu_exporter', 'h200-590.48.01-compute-apps.txt')
    idle = _section(text, 'idle :: query-compute-apps (per-process)')
    assert idle.strip().startswith('timestamp, gpu_name')
    assert p.parse_compute_apps(idle, EXPORTER_FIELDS) == []


def test_compute_apps_lists_a_compositor(fixture_text):
    """RTX 4080 SUPER on KDE Wayland: kwin_wayland has a compute context, so the query lists it."""
    text = fixture_text('nvidia_gpu_exporter', 'rtx-4080-super-595.71.05-compute-apps.txt')
    rows = p.parse_compute_apps(_section(text, 'load :: query-compute-apps (per-process)'), EXPORTER_FIELDS)
    assert [(r['pid'], r['name'], r['memory_mib']) for r in rows] == [
        (2165, '/usr/bin/kwin_wayland', 25), (5022, 'ffmpeg', 503), (5021, 'ffmpeg', 360)]


def test_our_query_fields_are_valid_on_r590(fixture_text):
    valid = help_query_fields(fixture_text('nvidia_gpu_exporter', 'h200-590.48.01-compute-apps.txt'))
    assert set(p.COMPUTE_APPS_FIELDS) <= set(valid)
    assert p.compute_apps_args() == ['--query-compute-apps=gpu_bus_id,pid,used_memory,process_name', '--format=csv,noheader,nounits']


def test_compute_apps_name_with_commas(fixture_text):
    """Names hold commas (Chromium's command line in gt-1030.xml): process_name comes last and keeps them."""
    root = ET.fromstring(fixture_text('telegraf', 'gt-1030.xml'))
    chromium = [n.text for n in root.iter('process_name') if n.text.startswith('/usr/lib/chromium')][0]
    assert ',' in chromium
    rows = p.parse_compute_apps('00000000:2D:00.0, 1264, 130, %s\n' % chromium)
    assert rows == [{'gpu_bus_id': '0000:2d:00.0', 'pid': 1264, 'type': 'C', 'memory_mib': 130, 'name': chromium}]


def test_compute_apps_windows_na_memory():
    # a row of nvidia_gpu_exporter windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.txt in our field order:
    # WDDM reports no per-process memory
    rows = p.parse_compute_apps('00000000:0C:00.0, 2056, [N/A], C:\\Windows\\System32\\dwm.exe\n')
    assert rows == [{'gpu_bus_id': '0000:0c:00.0', 'pid': 2056, 'type': 'C', 'memory_mib': None, 'name': 'C:\\Windows\\System32\\dwm.exe'}]


# ---- the <processes> of -q -x (telegraf, netdata) ---------------------------------------------------------

# capture, GPU position, processes as (pid, type, memory MiB) - every XML capture that has <process_info>
XML_PROCESSES = [
    ('telegraf/tesla-t4.xml', 0, [(675, 'G', 22), (5762, 'C', 1005)]),
    ('telegraf/a10g.xml', 0, [(725, 'G', 22)]),
    ('telegraf/rtx-4000-sff-ada-v13.xml', 0, [(1842, 'G', 410), (3190, 'G', 451), (4937, 'C', 160), (34626, 'C+G', 183)]),
    ('telegraf/pro-6000-maxq-blackwell-v13.xml', 0, [(116860, 'C', 65710)]),
    ('telegraf/dual_a5000-v13.xml', 0, [(100477, 'C', 22430)]),
    ('telegraf/dual_a5000-v13.xml', 1, [(100477, 'C', 17246)]),
    ('telegraf/rtx-3080-v12.xml', 0, [(835, 'G', 550), (1481, 'G', 18), (2214, 'G', 79), (4044, 'G', 541), (42416, 'G', 159)]),
    ('netdata/rtx-3060.xml', 0, [(28543, 'G', 4)]),
]


@pytest.mark.parametrize('capture, position, expected', XML_PROCESSES, ids=['%s#%d' % row[:2] for row in XML_PROCESSES])
def test_xml_processes(fixture_text, capture, position, expected):
    gpu = gp.parse_nvidia_smi_xml(fixture_text(*capture.split('/')))['gpus'][position]
    assert [(q['pid'], q['type'], q['memory_mib']) for q in gpu['processes']] == expected


def test_xml_processes_fields_tesla_t4(fixture_text):
    gpu = gp.parse_nvidia_smi_xml(fixture_text('telegraf', 'tesla-t4.xml'))['gpus'][0]
    assert gpu['processes'][1] == {'pid': 5762, 'type': 'C', 'name': 'python', 'memory_mib': 1005,
                                   'gpu_instance_id': None, 'compute_instance_id': None}


def test_xml_processes_gt1030_ten_graphics_processes(fixture_text):
    gpu = gp.parse_nvidia_smi_xml(fixture_text('telegraf', 'gt-1030.xml'))['gpus'][0]
    assert len(gpu['processes']) == 10 and {q['type'] for q in gpu['processes']} == {'G'}
    assert gpu['processes'][0]['name'] == '/usr/lib/Xorg' and gpu['processes'][1]['memory_mib'] == 0


def test_xml_processes_windows_no_name_no_memory(fixture_text):
    gpu = gp.parse_nvidia_smi_xml(fixture_text('telegraf', 'tesla_p4.xml'))['gpus'][0]
    assert len(gpu['processes']) == 13
    assert gpu['processes'][0] == {'pid': 1188, 'type': 'C+G', 'name': None, 'memory_mib': None,
                                   'gpu_instance_id': None, 'compute_instance_id': None}
    assert gpu['processes'][-1]['name'] == 'C:\\Windows\\explorer.exe'


def test_xml_without_processes(fixture_text):
    for gpu in gp.parse_nvidia_smi_xml(fixture_text('h200-driver580', 'nvidia-smi-q.xml'))['gpus']:
        assert gpu['processes'] == []


# ---- procfs ---------------------------------------------------------------------------------------------

def test_owner_and_elapsed(host_tree):
    host_tree.uptime(300000.0)
    host_tree.passwd(('root', 0), ('alice', 1000))
    host_tree.add_process(5762, 'python', 1000, int((300000 - 256200) * 100))
    users = p.UserNames(host_tree.root)
    assert p.process_uid(host_tree.procfs, 5762) == 1000
    assert p.read_uptime(host_tree.procfs) == 300000.0
    assert p.describe_process(host_tree.procfs, 5762, users, 300000.0, 100) == {'user': 'alice', 'elapsed_s': 256200}
    # not visible here (another PID namespace, or gone): nothing guessed
    assert p.describe_process(host_tree.procfs, 4242, users, 300000.0, 100) == {'user': None, 'elapsed_s': None}


def test_stat_comm_with_spaces_and_parentheses(host_tree):
    host_tree.add_process(77, 'tmux: server', 1000, 1234)
    path = os.path.join(host_tree.procfs, '77', 'stat')
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text.replace('(tmux: server)', '(a) b (c)'))
    assert p.process_start_ticks(host_tree.procfs, 77) == 1234


def test_unknown_uid_is_reported_as_the_number(host_tree):
    host_tree.passwd(('root', 0))
    assert p.UserNames(host_tree.root)(1234) == '1234'


def test_live_user_names_use_the_user_database():
    assert p.UserNames('/')(0) == 'root'


def test_device_holders_leave_out_nvidia_daemons(host_tree):
    host_tree.add_process(900, 'nvidia-persistenced', 0, 100, devices=('nvidiactl', 'nvidia0', 'nvidia1'))
    host_tree.add_process(901, 'nv-hostengine', 0, 100, devices=('nvidiactl', 'nvidia0'))
    host_tree.add_process(5762, 'python', 1000, 100, devices=('nvidiactl', 'nvidia1', 'nvidia-uvm'))
    host_tree.add_process(5800, 'bash', 1000, 100, devices=('null',))
    assert p.device_holders(host_tree.procfs) == [{'minor': 1, 'pid': 5762, 'name': 'python'}]


def test_device_holders_unreadable_procfs(tmp_path):
    assert p.device_holders(str(tmp_path / 'missing')) is None


# ---- gpu_processes: nvidia-smi first, procfs when it cannot answer, nothing without a loaded driver ------

T4_BUS = '0000:00:1e.0'


def _t4_gpus():
    return [{'index': 0, 'pci_bus_id': T4_BUS}]


def _t4_tree(host_tree, fixture_text):
    """The Tesla T4 of telegraf/tesla-t4.xml: python (5762) and Xorg (675) in procfs, as gpu_profile t4-busy has them."""
    host_tree.uptime(300000.0)
    host_tree.passwd(('root', 0), ('alice', 1000))
    host_tree.add_process(675, 'Xorg', 0, 2000, devices=('nvidiactl', 'nvidia0'))
    host_tree.add_process(5762, 'python', 1000, int((300000 - 256200) * 100), devices=('nvidiactl', 'nvidia0', 'nvidia-uvm'))
    root = ET.fromstring(fixture_text('telegraf', 'tesla-t4.xml'))
    apps = [{'gpu_bus_id': root.find('gpu').get('id'), 'pid': '5762', 'process_name': 'python', 'used_gpu_memory': '1005'}]
    return ReplayNvidiaSmi(gpus=[{}], compute_apps=apps)


def test_gpu_processes_from_nvidia_smi(host_tree, fixture_text):
    smi = _t4_tree(host_tree, fixture_text)
    procs, source = p.gpu_processes(smi.run, '/usr/bin/nvidia-smi', True, True, _t4_gpus(), host_tree.procfs, host_tree.root)
    assert source == 'nvidia-smi'
    assert procs == [{'gpu': 0, 'pid': 5762, 'user': 'alice', 'name': 'python', 'memory_mib': 1005, 'elapsed_s': 256200, 'type': 'C'}]
    assert smi.calls == [['--query-compute-apps=gpu_bus_id,pid,used_memory,process_name', '--format=csv,noheader,nounits']]


def test_gpu_processes_merge_the_xml_read_for_mig(host_tree, fixture_text):
    """Where the probe read -q -x anyway, its <processes> add the graphics ones and the C+G types."""
    xml_gpu = gp.parse_nvidia_smi_xml(fixture_text('telegraf', 'rtx-4000-sff-ada-v13.xml'))['gpus'][0]
    apps = [{'gpu_bus_id': '00000000:06:00.0', 'pid': str(q['pid']), 'process_name': q['name'], 'used_gpu_memory': str(q['memory_mib'])}
            for q in xml_gpu['processes'] if 'C' in q['type']]
    smi = ReplayNvidiaSmi(gpus=[{}], compute_apps=apps)
    procs, source = p.gpu_processes(smi.run, 'nvidia-smi', True, True, [{'index': 0, 'pci_bus_id': '0000:06:00.0'}],
                                    host_tree.procfs, host_tree.root, xml_processes={'0000:06:00.0': xml_gpu['processes']})
    assert source == 'nvidia-smi'
    assert [(q['pid'], q['type'], q['name'], q['memory_mib']) for q in procs] == [
        (1842, 'G', 'cosmic-comp', 410), (3190, 'G', '/usr/bin/code', 451), (4937, 'C', 'python', 160),
        (34626, 'C+G', '/usr/lib/chromium/chromium', 183)]


def test_gpu_processes_from_procfs_on_a_mismatch(host_tree, fixture_text):
    """Driver/library mismatch: nvidia-smi lists nothing, the module is loaded: /dev/nvidia0's holders count."""
    _t4_tree(host_tree, fixture_text)
    host_tree.add_process(880, 'nvidia-persistenced', 0, 100, devices=('nvidiactl', 'nvidia0'))
    procs, source = p.gpu_processes(None, None, False, True, [], host_tree.procfs, host_tree.root)
    assert source == 'procfs'
    assert procs == [
        {'gpu': 0, 'pid': 675, 'user': 'root', 'name': 'Xorg', 'memory_mib': None, 'elapsed_s': 299980, 'type': None},
        {'gpu': 0, 'pid': 5762, 'user': 'alice', 'name': 'python', 'memory_mib': None, 'elapsed_s': 256200, 'type': None}]


def test_gpu_processes_query_fails_falls_back_to_procfs(host_tree, fixture_text):
    _t4_tree(host_tree, fixture_text)
    smi = ReplayNvidiaSmi(gpus=[{}], compute_apps_fields=['pid'])  # an nvidia-smi that rejects the query
    procs, source = p.gpu_processes(smi.run, 'nvidia-smi', True, True, _t4_gpus(), host_tree.procfs, host_tree.root)
    assert source == 'procfs' and [q['pid'] for q in procs] == [675, 5762]


def test_no_loaded_driver_costs_no_call(host_tree, fixture_text):
    smi = _t4_tree(host_tree, fixture_text)
    assert p.gpu_processes(smi.run, 'nvidia-smi', False, False, [], host_tree.procfs, host_tree.root) == ([], None)
    assert smi.calls == []


def test_probe_of_a_host_without_driver_runs_one_nvidia_smi_call(host_tree, fixture_text):
    """The probe's cost on a host without a loaded driver is unchanged: the one --query-gpu that fails."""
    host_tree.add_pci('0000:01:00.0', '0x10de', '0x2204', '0x030000', driver='nouveau')
    host_tree.load_module('nouveau')
    smi = ReplayNvidiaSmi(failure={'rc': 9, 'stdout': fixture_text('errors', 'no_communication.txt')})
    facts = gp.probe(run=smi.run, nvidia_smi='/usr/bin/nvidia-smi', sysfs_root=host_tree.sysfs, procfs_root=host_tree.procfs,
                     root=host_tree.root, dev_root=host_tree.dev)
    assert facts['status'] == 'nouveau_bound'
    assert len(smi.calls) == 1 and smi.calls[0][0].startswith('--query-gpu=')
    assert (facts['processes'], facts['processes_source']) == ([], None)


# ---- interactive sessions -----------------------------------------------------------------------------

def _utmp_bytes(fixtures_dir):
    with open(os.path.join(fixtures_dir, 'sessions', 'utmp'), 'rb') as handle:
        return handle.read()


def test_utmp_fixture_records(fixtures_dir):
    records = p.parse_utmp(_utmp_bytes(fixtures_dir))
    assert [(r['type'], r['pid'], r['tty'], r['user'], r['host']) for r in records] == [
        (2, 0, '~', 'reboot', '6.1.0-28-amd64'), (1, 53, '~', 'runlevel', '6.1.0-28-amd64'), (6, 811, 'tty1', 'LOGIN', ''),
        (7, 4242, 'pts/0', 'bob', '10.0.0.7'), (7, 4300, 'tty2', 'carol', ''), (7, 9999, 'pts/1', 'dave', '10.0.0.9'),
        (8, 3100, 'pts/3', '', ''), (7, 5000, 'pts/2', 'ops', '192.0.2.10')]
    assert records[3]['time'] == 1795857300  # 2026-11-28T09:15:00Z


@pytest.mark.skipif(shutil.which('utmpdump') is None, reason='util-linux utmpdump not installed')
def test_utmp_fixture_is_what_utmpdump_reads(fixtures_dir):
    """The record layout is glibc's: util-linux reads the fixture back into the text it was made from."""
    dumped = subprocess.run(['utmpdump', os.path.join(fixtures_dir, 'sessions', 'utmp')], capture_output=True, text=True, check=True)
    with open(os.path.join(fixtures_dir, 'sessions', 'utmp.txt'), encoding='utf-8') as handle:
        assert dumped.stdout == handle.read()


def test_sessions_from_utmp(host_tree, fixtures_dir):
    host_tree.utmp(_utmp_bytes(fixtures_dir))
    for pid in (4242, 4300, 5000, 811):
        host_tree.add_process(pid, 'bash', 1000, 100)
    sessions = p.interactive_sessions(host_tree.root, host_tree.procfs)
    # dave's record is stale (pid 9999 gone), LOGIN/DEAD records are not sessions
    assert [(s['user'], s['tty'], s['remote_host'], s['pid'], s['source']) for s in sessions] == [
        ('bob', 'pts/0', '10.0.0.7', 4242, 'utmp'), ('carol', 'tty2', None, 4300, 'utmp'), ('ops', 'pts/2', '192.0.2.10', 5000, 'utmp')]
    # the probe's own connection (ops, pid 5000 among its ancestors) is left out
    assert [s['user'] for s in p.interactive_sessions(host_tree.root, host_tree.procfs, exclude_pids={5000, 1})] == ['bob', 'carol']


def test_sessions_from_logind(host_tree, fixtures_dir):
    host_tree.utmp(_utmp_bytes(fixtures_dir))
    host_tree.add_process(4242, 'bash', 1000, 100)
    host_tree.logind_session(3, UID=1001, USER='bob', ACTIVE=1, STATE='active', REMOTE=1, TYPE='tty', CLASS='user', TTY='pts/0',
                             REMOTE_HOST='10.0.0.7', SERVICE='sshd', LEADER=4240, REALTIME='1795857300123456')
    host_tree.logind_session(7, UID=1002, USER='erin', ACTIVE=1, STATE='active', REMOTE=0, TYPE='wayland', CLASS='user',
                             SERVICE='gdm-password', LEADER=2100, REALTIME='1795860000000000')
    host_tree.logind_session('c1', UID=120, USER='gdm', ACTIVE=0, STATE='online', TYPE='wayland', CLASS='greeter', LEADER=1500)
    host_tree.logind_session(9, UID=1003, USER='frank', STATE='closing', CLASS='user', TTY='pts/4', LEADER=3000)
    sessions = p.interactive_sessions(host_tree.root, host_tree.procfs)
    assert sessions == [
        {'user': 'bob', 'tty': 'pts/0', 'remote_host': '10.0.0.7', 'pid': 4242, 'since': 1795857300, 'source': 'utmp'},
        {'user': 'erin', 'tty': None, 'remote_host': None, 'pid': 2100, 'since': 1795860000, 'source': 'logind'},
    ]


def test_no_session_files(host_tree):
    assert p.interactive_sessions(host_tree.root, host_tree.procfs) == []


def test_own_ancestors_on_this_machine():
    mine = p.own_ancestors()
    assert os.getpid() in mine and os.getppid() in mine

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet report rows, summary and terminal lines, built from real probe facts."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.filter import fleet_report as fr
from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import probe


@pytest.fixture
def h200_facts(h200_host):
    tree, smi = h200_host
    facts = probe(run=smi.run, nvidia_smi='nvidia-smi', sysfs_root=tree.sysfs, procfs_root=tree.procfs,
                  root=tree.root, dev_root=tree.dev, torch_version='2.11')
    facts['source'] = 'recorded'
    return facts


@pytest.fixture
def empty_facts(tmp_path):
    """A container without NVIDIA hardware (its own tree, apart from the H200's)."""
    from conftest import HostTree
    tree = HostTree(tmp_path / 'cpu-container')
    tree.dockerenv()
    facts = probe(run=lambda argv: (127, '', 'not found'), nvidia_smi=None, sysfs_root=tree.sysfs,
                  procfs_root=tree.procfs, root=tree.root, dev_root=tree.dev)
    facts['source'] = 'live'
    return facts


def test_rows_one_per_gpu_and_host(h200_facts, empty_facts):
    hostvars = {
        'ws1': {'ansible_facts': {'dlstack_gpu': h200_facts},
                'pytorch_env_results': [{'user': 'alice', 'env': 'torch', 'ok': True, 'cuda_available': True}]},
        'cpu1': {'ansible_facts': {'dlstack_gpu': empty_facts}},
        'down1': {},
    }
    rows = fr.fleet_report_rows(hostvars, ['ws1', 'down1', 'cpu1'])
    assert [r['host'] for r in rows] == ['cpu1', 'down1', 'ws1']
    cpu, down, ws = rows
    assert (ws['gpu_name'], ws['architecture'], ws['compute_capability']) == ('NVIDIA H200', 'Hopper', '9.0')
    assert (ws['driver_version'], ws['kernel_module'], ws['cuda_version']) == ('580.159.04', 'open', '13.0')
    assert (ws['status'], ws['severity'], ws['recommended_variant'], ws['simulated']) == ('ok', 'ok', 'cu130', True)
    assert ws['memory_total_mib'] == 143771
    assert ws['torch_checks'][0]['user'] == 'alice'
    assert ws['problems'] == []
    assert (cpu['status'], cpu['severity'], cpu['gpu_name'], cpu['simulated'], cpu['in_container']) == ('no_gpu', 'info', '', False, True)
    assert cpu['recommended_variant'] == 'cpu'
    assert (down['status'], down['severity']) == ('unreachable', 'error')
    assert 'unreachable' in down['message']


def test_summary_and_lines(h200_facts, empty_facts):
    hostvars = {
        'ws1': {'ansible_facts': {'dlstack_gpu': h200_facts},
                'pytorch_env_results': [{'user': 'alice', 'env': 'torch', 'ok': True},
                                        {'user': 'bob', 'env': 'torch', 'ok': False}]},
        'cpu1': {'ansible_facts': {'dlstack_gpu': empty_facts}},
        'down1': {},
    }
    rows = fr.fleet_report_rows(hostvars, ['ws1', 'cpu1', 'down1'])
    summary = fr.fleet_report_summary(rows)
    assert summary == {
        'hosts': 3, 'gpus': 1,
        'by_status': {'no_gpu': 1, 'ok': 1, 'unreachable': 1},
        'simulated_hosts': ['ws1'],
        'hosts_needing_action': ['down1', 'ws1'],  # ws1: bob's environment failed its check
        'torch_checks': 2, 'torch_checks_failed': 1,
    }
    lines = fr.fleet_report_lines(rows)
    assert lines[0] == '3 host(s), 1 GPU(s): no_gpu=1, ok=1, unreachable=1 [SIMULATED hardware: ws1]; torch checks: 2, failed: 1'
    assert lines[1] == 'cpu1: no_gpu; no NVIDIA GPU; no driver; torch cpu'
    assert lines[2].startswith('down1: unreachable; no NVIDIA GPU; no driver; torch - -> No probe facts')
    assert lines[3] == 'ws1 [SIMULATED]: ok; NVIDIA H200 (Hopper, 9.0); 580.159.04 open; torch cu130 -> bob/torch: failed'


def test_verification_problems_make_an_error_row(h200_facts):
    hostvars = {'ws1': {'ansible_facts': {'dlstack_gpu': h200_facts},
                        'dlstack_verify_problems': ['nvidia-smi: exit 255: Failed to initialize NVML: Unknown Error']}}
    row = fr.fleet_report_rows(hostvars, ['ws1'])[0]
    assert (row['status'], row['severity']) == ('ok', 'error')
    assert fr.fleet_report_summary([row])['hosts_needing_action'] == ['ws1']
    assert fr.fleet_report_lines([row])[1] == (
        'ws1 [SIMULATED]: ok; NVIDIA H200 (Hopper, 9.0); 580.159.04 open; torch cu130 -> nvidia-smi: exit 255: Failed to initialize NVML: Unknown Error')


def test_hosts_must_be_a_list():
    with pytest.raises(AnsibleFilterError, match='hosts must be a list'):
        fr.fleet_report_rows({}, 'all')


def test_a_host_the_run_lost_is_named(h200_facts, empty_facts):
    # ws2 was probed, then died (or failed) before the report: it keeps its first probe's facts
    hostvars = {'ws1': {'ansible_facts': {'dlstack_gpu': h200_facts}}, 'ws2': {'ansible_facts': {'dlstack_gpu': empty_facts}}}
    rows = fr.fleet_report_rows(hostvars, ['ws1', 'ws2'], finished_hosts=['ws1'])
    assert [(r['host'], r['status'], r['severity'], r['problems']) for r in rows] == [
        ('ws1', 'ok', 'ok', []),
        ('ws2', 'no_gpu', 'error', [fr.NOT_FINISHED]),
    ]
    assert fr.fleet_report_summary(rows)['hosts_needing_action'] == ['ws2']
    assert fr.fleet_report_lines(rows)[2] == (
        'ws2: no_gpu; no NVIDIA GPU; no driver; torch cpu -> this run did not finish on this host (it failed or became '
        'unreachable); the row shows its last probe')
    # without finished_hosts nothing is assumed
    assert [r['problems'] for r in fr.fleet_report_rows(hostvars, ['ws1', 'ws2'])] == [[], []]

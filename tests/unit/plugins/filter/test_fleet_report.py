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
        'variant_differs': 0, 'conda_users': 0, 'conda_stand_in_hosts': [],
        'deferred_hosts': [],
    }
    lines = fr.fleet_report_lines(rows)
    assert lines[0] == '3 host(s), 1 GPU(s): no_gpu=1, ok=1, unreachable=1 [SIMULATED hardware: ws1]; torch checks: 2, failed: 1'
    assert lines[1] == 'cpu1: no_gpu; no NVIDIA GPU; no driver; torch cpu'
    assert lines[2].startswith('down1: unreachable; no NVIDIA GPU; no driver; torch - -> No probe facts')
    assert lines[3] == 'ws1 [SIMULATED]: ok; NVIDIA H200 (Hopper, 9.0); 580.159.04 open; torch cu130 -> bob/torch: failed'
    assert lines[4:] == ['  alice: no conda from labops.dlstack; env torch: torch ? (?), CUDA no',
                         '  bob: no conda from labops.dlstack; env torch: torch ? (?), CUDA no FAILED']


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


def _demo_ws1(h200_facts):
    """The demo's ws1: a recorded H200, the cpu build of the offline wheelhouse, the conda stand-in."""
    from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env as pe
    settings = {'torch_version': '2.13.0', 'default_python': '3.11', 'variant': 'cpu', 'backend': 'venv',
                'index_url': 'https://pypi.org/simple', 'index_url_template': '', 'offline': True,
                'find_links': ['/opt/labops-demo/wheelhouse'], 'root': '/opt/labops-dlstack'}
    plans = pe.plan_environments([{'user': 'alice', 'envs': [{'name': 'torch'}]}, {'user': 'bob', 'envs': [{'name': 'torch'}]}],
                                 settings, h200_facts, {'alice': '/home/alice', 'bob': '/home/bob'})['envs']
    probe = {'import_ok': True, 'torch_version': '2.13.0+cpu', 'torch_cuda': None, 'cuda_available': False,
             'devices': [], 'numpy': {'device': 'cpu', 'ok': True, 'version': '2.4.6'},
             'autograd': {'device': 'cpu', 'ok': True, 'grad': [2.0, 4.0, 6.0], 'expected': [2.0, 4.0, 6.0]},
             'matmul': {'device': 'cpu', 'size': 256, 'ok': True, 'checksum': 16777216}}
    conda = [{'user': 'alice', 'prefix': '/home/alice/miniforge3', 'owner': 'alice', 'distribution': 'miniforge',
              'version': '26.3.2-3', 'conda_version': '26.3.2', 'python_version': '3.11.2', 'stand_in': True,
              'ok': True, 'message': 'conda (alice): /home/alice/miniforge3 is miniforge 26.3.2-3 (conda 26.3.2), owned by alice'}]
    return {'ansible_facts': {'dlstack_gpu': h200_facts},
            'pytorch_env_results': [pe.diagnose(probe, plan, h200_facts) for plan in plans], 'conda_results': conda}


def test_a_gpu_host_with_the_cpu_build_is_not_a_green_ok(h200_facts):
    row = fr.fleet_report_rows({'ws1': _demo_ws1(h200_facts)}, ['ws1'])[0]
    assert (row['status'], row['severity']) == ('ok', 'warn')
    assert row['variant_notes'] == [
        'alice/torch, bob/torch: cpu build installed where the probe recommends cu130 (torch 2.13.0 on NVIDIA H200): '
        "the variant is set explicitly (pytorch_env_variant, or the env's variant, is cpu); wheels from the offline "
        'find-links /opt/labops-demo/wheelhouse only. torch uses the CPU here; for the GPU, set variant auto with an '
        'index or wheelhouse holding the cu130 wheels.']
    assert row['other_variants'] == ['cpu']
    assert [u['user'] for u in row['users']] == ['alice', 'bob']
    assert row['users'][0]['conda']['prefix'] == '/home/alice/miniforge3'
    assert row['users'][0]['envs'][0]['numpy'] == {'device': 'cpu', 'ok': True, 'version': '2.4.6'}
    assert row['conda_stand_in'] is True
    summary = fr.fleet_report_summary([row])
    assert (summary['variant_differs'], summary['conda_users'], summary['conda_stand_in_hosts']) == (2, 1, ['ws1'])
    assert summary['hosts_needing_action'] == ['ws1']
    lines = fr.fleet_report_lines([row])
    assert lines[0] == ('1 host(s), 1 GPU(s): ok=1 [SIMULATED hardware: ws1] [SIMULATED conda: stand-in installer on ws1]; '
                        'torch checks: 2, failed: 0, not the recommended variant: 2')
    assert lines[1] == ('ws1 [SIMULATED]: ok; NVIDIA H200 (Hopper, 9.0); 580.159.04 open; torch cu130 -> '
                        + row['variant_notes'][0])
    assert lines[2] == ('  alice: conda /home/alice/miniforge3 (owner alice, miniforge 26.3.2-3, conda 26.3.2) '
                        '[SIMULATED: conda: stand-in installer]; env torch: torch 2.13.0+cpu (cpu, probe recommends '
                        'cu130), NumPy 2.4.6, autograd ok, matmul ok, CUDA no')
    assert lines[3] == ('  bob: no conda from labops.dlstack; env torch: torch 2.13.0+cpu (cpu, probe recommends cu130), '
                        'NumPy 2.4.6, autograd ok, matmul ok, CUDA no')


DEFERRED = ('deferred: 1 process on GPU 0 (alice python 71h). This run would install the userspace of driver branch 535 (...); '
            'the driver change waits and nothing was changed for it.')


def test_a_deferred_driver_is_a_state_of_its_own(h200_facts, empty_facts):
    """nvidia_driver_result.deferred (site.yml's role run, or verify.yml reading the host's report) shows, and is no failure."""
    hostvars = {'ws1': {'ansible_facts': {'dlstack_gpu': h200_facts},
                        'nvidia_driver_result': {'action': 'deferred', 'deferred': DEFERRED}},
                'cpu1': {'ansible_facts': {'dlstack_gpu': empty_facts}, 'nvidia_driver_result': {'action': 'install', 'deferred': None}}}
    rows = fr.fleet_report_rows(hostvars, ['ws1', 'cpu1'])
    assert [(r['host'], r['severity'], r['driver_deferred']) for r in rows] == [('cpu1', 'info', ''), ('ws1', 'ok', DEFERRED)]
    summary = fr.fleet_report_summary(rows)
    assert (summary['deferred_hosts'], summary['hosts_needing_action']) == (['ws1'], [])
    lines = fr.fleet_report_lines(rows)
    assert lines[0] == '2 host(s), 1 GPU(s): no_gpu=1, ok=1 [SIMULATED hardware: ws1]; driver deferred for running jobs: ws1'
    assert lines[2] == 'ws1 [SIMULATED]: ok; NVIDIA H200 (Hopper, 9.0); 580.159.04 open; torch cu130 -> driver ' + DEFERRED


def test_report_dir_problem_inside_an_inventory_directory(tmp_path):
    inventory = tmp_path / 'mylab'
    inventory.mkdir()
    (inventory / 'hosts.yml').write_text('all: {}\n')
    message = fr.report_dir_problem(str(inventory / 'reports'), [str(inventory)])
    assert message == (
        'fleet_report_dir (%s) is inside the inventory directory %s, which Ansible parses as inventory on every run: '
        'point -i at the inventory file (for example -i %s) or set fleet_report_dir to a directory outside it.'
        % (inventory / 'reports', inventory, inventory / 'hosts.yml'))
    assert fr.report_dir_problem(str(inventory), [str(inventory)], 'pytorch_env_report_dir').startswith('pytorch_env_report_dir (')


def test_report_dir_problem_beside_an_inventory_file_or_elsewhere(tmp_path):
    inventory = tmp_path / 'mylab'
    inventory.mkdir()
    (inventory / 'hosts.yml').write_text('all: {}\n')
    # -i mylab/hosts.yml: reports/ beside the file is fine
    assert fr.report_dir_problem(str(inventory / 'reports'), [str(inventory / 'hosts.yml')]) == ''
    # a sibling whose name starts like the inventory directory is not inside it
    assert fr.report_dir_problem(str(tmp_path / 'mylab-reports'), [str(inventory)]) == ''
    # a host list (-i a,b,) is not a path at all
    assert fr.report_dir_problem('reports', ['a,b,']) == ''
    assert fr.report_dir_problem(str(tmp_path / 'x'), str(inventory / 'hosts.yml')) == ''


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

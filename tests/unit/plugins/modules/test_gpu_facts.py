# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_facts main(): recorded hosts (sysfs/procfs trees) and an nvidia-smi that replays captures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from conftest import ReplayNvidiaSmi, help_query_fields

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import parse_nvidia_smi_xml
from ansible_collections.labops.dlstack.plugins.modules import gpu_facts


def run_module(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            gpu_facts.main()
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # ansible-core 2.19 returns warnings in the result; once controller code was imported in the same
    # process (the filter tests template), it prints them through Display instead: keep both
    result['_stderr'] = captured.err
    return exit_info.value.code, result


def tree_args(tree, **extra):
    args = {'sysfs_root': tree.sysfs, 'procfs_root': tree.procfs}
    args.update(extra)
    return args


@pytest.mark.parametrize('check_mode', [False, True])
def test_h200_replay(capsys, h200_host, tmp_path, check_mode):
    """The reference host: NVIDIA H200, 9.0, Hopper, 580.159.04, open, CUDA 13.0, cu130 for torch 2.11."""
    tree, smi = h200_host
    args = tree_args(tree, nvidia_smi_path=smi.script(tmp_path), torch_version='2.11', _ansible_check_mode=check_mode)
    code, result = run_module(capsys, args)
    assert code == 0
    assert result['changed'] is False
    facts = result['ansible_facts']['dlstack_gpu']
    gpu = facts['gpus'][0]
    assert (gpu['name'], gpu['compute_capability'], gpu['architecture'], gpu['memory_total_mib'], gpu['mig_mode'], gpu['pci_device_id']) == \
        ('NVIDIA H200', '9.0', 'Hopper', 143771, 'disabled', '0x2335')
    assert (facts['driver']['version'], facts['driver']['branch'], facts['driver']['kernel_module'], facts['driver']['cuda_version']) == \
        ('580.159.04', 580, 'open', '13.0')
    assert facts['status'] == 'ok'
    assert facts['source'] == 'recorded'
    assert facts['torch']['recommended_variant'] == 'cu130'
    assert facts['torch']['index_url'] == 'https://download.pytorch.org/whl/cu130'
    assert facts['nvidia_smi']['path'] == str(tmp_path / 'nvidia-smi')
    assert facts['nvidia_smi']['rc'] == 0


def test_default_torch_version_is_the_newest(capsys, h200_host, tmp_path):
    tree, smi = h200_host
    code, result = run_module(capsys, tree_args(tree, nvidia_smi_path=smi.script(tmp_path)))
    torch = result['ansible_facts']['dlstack_gpu']['torch']
    assert code == 0
    # torch 2.15 (PyPI 2.15.0, default +cu132) is the newest; H200 + driver 580.159.04 -> cu132
    assert (torch['torch_version'], torch['recommended_variant']) == ('2.15', 'cu132')


def test_r470_field_fallback(capsys, host_tree, tmp_path, fixture_text):
    """GT 1030 on 470.74 (telegraf gt-1030.xml values): compute_cap is refused, CC comes from the PCI id."""
    xml_gpu = parse_nvidia_smi_xml(
        fixture_text('telegraf', 'gt-1030.xml'))['gpus'][0]
    host_tree.add_pci(xml_gpu['pci_bus_id'], '0x10de', xml_gpu['pci_device_id'], '0x030000', 'nvidia')
    host_tree.load_module('nvidia', '470.74', taint='POE')  # proprietary module: licence taint P
    host_tree.dev_nodes('nvidiactl', 'nvidia0')
    record = {'index': '0', 'name': xml_gpu['name'], 'pci.bus_id': '00000000:2D:00.0', 'uuid': xml_gpu['uuid'], 'memory.total': '1998',
              'mig.mode.current': '[N/A]', 'driver_version': '470.74', 'pci.device_id': '0x1D0110DE'}
    fields = [f for f in help_query_fields(fixture_text('netdata', 'help-query-gpu.txt')) if f != 'compute_cap']
    smi = ReplayNvidiaSmi(gpus=[record], valid_fields=fields)
    code, result = run_module(capsys, tree_args(host_tree, nvidia_smi_path=smi.script(tmp_path), torch_version='2.5'))
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert facts['status'] == 'ok'
    assert facts['nvidia_smi']['dropped_fields'] == ['compute_cap']
    gpu = facts['gpus'][0]
    assert (gpu['name'], gpu['compute_capability'], gpu['architecture'], gpu['memory_total_mib'], gpu['mig_mode']) == \
        ('NVIDIA GeForce GT 1030', '6.1', 'Pascal', 1998, None)
    assert facts['driver'] == {'installed': True, 'loaded': True, 'version': '470.74', 'branch': 470, 'kernel_module': 'proprietary',
                               'cuda_version': '11.4', 'userspace_version': '470.74'}
    assert facts['requirements']['kernel_module'] == 'proprietary'
    assert facts['requirements']['max_branch'] == 580
    assert facts['requirements']['installed_driver_ok'] is True
    assert facts['torch']['variants'] == ['cu118', 'cpu']


def test_missing_nvidia_smi_path_warns_and_uses_sysfs(capsys, h200_host, tmp_path):
    tree, _smi = h200_host
    code, result = run_module(capsys, tree_args(tree, nvidia_smi_path=str(tmp_path / 'absent'), torch_version='2.11'))
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    warning = 'nvidia_smi_path %s does not exist' % (tmp_path / 'absent')
    assert warning in json.dumps(result.get('warnings', [])) + result['_stderr']
    assert facts['status'] == 'ok'
    assert facts['nvidia_smi']['found'] is False
    assert (facts['gpus'][0]['architecture'], facts['driver']['version'], facts['torch']['recommended_variant']) == ('Hopper', '580.159.04', 'cu130')


def test_nvidia_smi_not_runnable(capsys, h200_host, tmp_path):
    tree, _smi = h200_host
    broken = tmp_path / 'nvidia-smi'
    broken.write_text('not a program\n')
    os.chmod(str(broken), 0o644)
    code, result = run_module(capsys, tree_args(tree, nvidia_smi_path=str(broken), torch_version='2.11'))
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert facts['nvidia_smi']['error_kind'] == 'not_runnable'
    assert facts['status'] == 'ok'  # module loaded, nodes there: sysfs facts stand
    assert facts['gpus'][0]['compute_capability'] == '9.0'


def test_mismatch_through_the_module(capsys, h200_host, tmp_path, fixture_text):
    tree, _smi = h200_host
    smi = ReplayNvidiaSmi(failure={'rc': 18, 'stdout': fixture_text('errors', 'driver_library_mismatch.txt')})
    code, result = run_module(capsys, tree_args(tree, nvidia_smi_path=smi.script(tmp_path)))
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert result['changed'] is False
    assert facts['status'] == 'driver_library_mismatch'
    assert facts['nvidia_smi']['rc'] == 18
    assert facts['nvidia_smi']['error'] == 'Failed to initialize NVML: Driver/library version mismatch'


def test_timeout(capsys, h200_host, tmp_path):
    tree, _smi = h200_host
    slow = tmp_path / 'nvidia-smi'
    slow.write_text('#!/bin/sh\nsleep 30\n')
    os.chmod(str(slow), 0o755)
    code, result = run_module(capsys, tree_args(tree, nvidia_smi_path=str(slow), timeout=1))
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert facts['nvidia_smi']['rc'] == 124
    assert facts['nvidia_smi']['error_kind'] == 'timeout'
    assert facts['status'] == 'no_device_access'
    assert 'nvidia-smi failed: timeout' in facts['message']


def test_no_gpu_host(capsys, host_tree):
    code, result = run_module(capsys, tree_args(host_tree, nvidia_smi_path=os.path.join(host_tree.root, 'none')))
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert (facts['status'], facts['gpus'], facts['torch']['recommended_variant']) == ('no_gpu', [], 'cpu')


def test_live_probe_is_labelled_live(capsys):
    """Default roots: this machine's own /sys and /proc (no NVIDIA hardware on the test machines)."""
    code, result = run_module(capsys, {})
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert facts['source'] == 'live'
    assert result['changed'] is False


def test_busy_recorded_host_reports_who(capsys, tmp_path):
    """The recorded Tesla T4 running alice's job (gpu_profile t4-busy, from telegraf/tesla-t4.xml)."""
    tree = str(tmp_path / 't4')
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'gpu_profile.py'), 't4-busy', tree],
                   check=True, capture_output=True)
    args = {'sysfs_root': tree + '/sys', 'procfs_root': tree + '/proc', 'nvidia_smi_path': tree + '/bin/nvidia-smi', 'torch_version': '2.11'}
    code, result = run_module(capsys, args)
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0 and facts['status'] == 'ok'
    assert facts['processes'] == [{'gpu': 0, 'pid': 5762, 'user': 'alice', 'name': 'python', 'memory_mib': 1005, 'elapsed_s': 256200,
                                   'type': 'C'}]
    assert (facts['processes_source'], facts['sessions']) == ('nvidia-smi', [])
    # what the role probes again with, to wait for idle GPUs
    assert facts['probe_options'] == dict(args, timeout=30)


def test_live_probe_sessions_leave_out_our_own(capsys):
    code, result = run_module(capsys, {})
    facts = result['ansible_facts']['dlstack_gpu']
    assert code == 0
    assert all(s['pid'] not in (os.getpid(), os.getppid()) for s in facts['sessions'])
    assert facts['probe_options'] == {'sysfs_root': '/sys', 'procfs_root': '/proc', 'nvidia_smi_path': None, 'torch_version': None,
                                      'timeout': 30}


@pytest.mark.parametrize('args, message', [
    ({'torch_version': '1.13'}, 'torch_version: torch 1.13 is not in the tables'),
    ({'timeout': 0}, 'timeout must be a positive number of seconds'),
])
def test_bad_options(capsys, host_tree, args, message):
    code, result = run_module(capsys, tree_args(host_tree, **args))
    assert code == 1
    assert result['failed'] is True
    assert result['msg'].startswith(message)


@pytest.mark.parametrize('sysfs, procfs, root', [('/sys', '/proc', '/'), ('/tmp/x/sys', '/tmp/x/proc', '/tmp/x'), ('/a/sys', '/b/proc', '/')])
def test_tree_root(sysfs, procfs, root):
    assert gpu_facts.tree_root(sysfs, procfs) == root

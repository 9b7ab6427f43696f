# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/gpu/judge.py, the verdicts of tests/gpu/reference-host.sh.

The rehearsal (make gpu-rehearsal) exercises the judge's rehearsal branch; these tests hold the
real-host branch to what the reference host must show, and check that each way of falling short
fails: records shaped as the roles write them, outputs as the programs print them (vector_add.cu's
PASS line, the PLAY RECAP line of ansible-playbook 2.19).
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location('gpu_judge', os.path.join(REPO_ROOT, 'tests', 'gpu', 'judge.py'))
judge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(judge)

RECAP = 'localhost                  : ok=%d   changed=%d    unreachable=0    failed=%d    skipped=7    rescued=%d    ignored=0   \n'


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding='utf-8')
    return str(path)


def log(tmp_path, name, changed=0, failed=0, rescued=0):
    return write(tmp_path, name, 'PLAY RECAP *****\n' + RECAP % (17, changed, failed, rescued))


H200_FACTS = {
    'status': 'ok', 'source': 'live', 'in_container': False,
    'gpus': [{'name': 'NVIDIA H200', 'compute_capability': '9.0', 'architecture': 'Hopper'}],
    'driver': {'version': '580.159.04', 'kernel_module': 'open', 'cuda_version': '13.0'},
    'torch': {'recommended_variant': 'cu130', 'torch_version': '2.11'},
}
SMI = 'NVIDIA H200, 9.0, 580.159.04'


def test_recap_reads_the_last_recap_line(tmp_path):
    path = write(tmp_path, 'a.log', 'PLAY RECAP\n' + RECAP % (1, 5, 0, 0) + 'PLAY RECAP\n' + RECAP % (17, 0, 1, 1))
    assert judge.recap(path) == {'ok': 17, 'changed': 0, 'unreachable': 0, 'failed': 1, 'skipped': 7,
                                 'rescued': 1, 'ignored': 0}
    assert judge.recap(write(tmp_path, 'b.log', 'no recap here\n')) is None


def _facts(tmp_path, facts, smi=SMI, variant='cu130'):
    args = ['facts', '--facts', write(tmp_path, 'localhost', {'ansible_facts': {'dlstack_gpu': facts}}),
            '--smi', smi, '--expect-variant', variant, '--seconds', '1.5']
    return judge.main(args)


def test_facts_pass_on_the_h200(tmp_path, capsys):
    assert _facts(tmp_path, H200_FACTS) == judge.PASS
    assert capsys.readouterr().out.splitlines()[-1] == (
        'NVIDIA H200, cc 9.0, Hopper, driver 580.159.04 open, CUDA 13.0, recommended cu130 (torch 2.11); '
        'in_container False; module 1.50 s')


@pytest.mark.parametrize('change, smi, failed', [
    ({'source': 'recorded'}, SMI, 'source live'),
    ({'status': 'no_device_access'}, SMI, 'gpu_facts status ok'),
    ({}, 'NVIDIA H200, 9.0, 580.95.05', 'driver as nvidia-smi says (580.95.05)'),
    ({'torch': {'recommended_variant': 'cu128'}}, SMI, "recommended variant cu130 (the preinstalled torch's)"),
    ({}, 'Failed to initialize NVML: Unknown Error', 'nvidia-smi answered --query-gpu=name,compute_cap,driver_version'),
])
def test_facts_fail(tmp_path, capsys, change, smi, failed):
    assert _facts(tmp_path, dict(H200_FACTS, **change), smi=smi) == judge.FAIL
    assert failed in capsys.readouterr().out.splitlines()[-1]


def _driver(tmp_path, action='satisfied', mode='host', changed=0, real=True):
    result = {'nvidia_driver_result': {'action': action, 'mode': mode, 'notes': ['driver 580.159.04 is loaded']}}
    args = ['driver', '--check-log', log(tmp_path, 'c.log', changed), '--check-proof', write(tmp_path, 'c.json', result)]
    if real:
        args += ['--log', log(tmp_path, 'r.log', changed), '--proof', write(tmp_path, 'r.json', result)]
    else:
        args += ['--why-not', 'check mode said it would change']
    return judge.main(args)


def test_driver_pass_when_satisfied_and_unchanged(tmp_path):
    assert _driver(tmp_path) == judge.PASS


@pytest.mark.parametrize('kwargs', [{'action': 'install'}, {'mode': 'container'}, {'changed': 1}, {'real': False}])
def test_driver_fail(tmp_path, kwargs):
    assert _driver(tmp_path, **kwargs) == judge.FAIL


def _cuda_record(lines, packages=('g++',), installed='installed\tg++\t4:13.2.0-7ubuntu1\n', failure=None):
    return {
        '__cuda_toolkit_plan': {'errors': [], 'needs_repo': False, 'packages': list(packages),
                                'toolkits': [{'version': '13.0', 'home': '/usr/local/cuda-13.0', 'install': False}]},
        '__cuda_toolkit_dpkg': {'stdout': installed},
        '__cuda_toolkit_compiled': {'results': [{'stdout_lines': lines}]},
        'failure': failure,
    }


PASS_LINES = ['compiled with CUDA 13.0 for -arch=sm_90',
              'vector_add: PASS n=1048576 on NVIDIA H200 (sm_90), CUDA runtime 13.0']


def _cuda(tmp_path, lines=None, again_changed=0, failed=0, rehearsal=False, **record):
    rec = _cuda_record(PASS_LINES if lines is None else lines, **record)
    args = ['cuda', '--check-log', log(tmp_path, 'c.log', 3), '--check-proof', write(tmp_path, 'c.json', _cuda_record([])),
            '--log', log(tmp_path, 'r.log', 3, failed), '--proof', write(tmp_path, 'r.json', rec),
            '--again-log', log(tmp_path, 'a.log', again_changed, failed), '--again-proof', write(tmp_path, 'a.json', rec),
            '--version', '13.0', '--home', '/usr/local/cuda-13.0', '--sm', '90', '--gpu-name', 'NVIDIA H200']
    return judge.main(args + (['--rehearsal'] if rehearsal else []))


def test_cuda_pass_when_found_compiled_and_run(tmp_path):
    assert _cuda(tmp_path) == judge.PASS


@pytest.mark.parametrize('kwargs', [
    {'lines': ['compiled with CUDA 13.0 for the default architecture of nvcc', PASS_LINES[1]]},
    {'lines': [PASS_LINES[0], 'vector_add: FAIL cudaMalloc(&da, bytes): no CUDA-capable device is detected']},
    {'installed': 'config-files\tg++\t4:13.2.0-7ubuntu1\n'},  # g++ would have to be installed: apt, network
    {'again_changed': 1},
    {'failed': 1},
])
def test_cuda_fail(tmp_path, kwargs):
    assert _cuda(tmp_path, **kwargs) == judge.FAIL


def test_cuda_rehearsal_wants_the_run_to_fail_for_want_of_a_gpu(tmp_path):
    lines = [PASS_LINES[0], 'vector_add: FAIL cudaMalloc(&da, bytes): CUDA driver version is insufficient for CUDA runtime version']
    failure = {'task': 'Compile the test program with each toolkit (and run it where a usable GPU is present)'}
    assert _cuda(tmp_path, lines=lines, failed=1, rehearsal=True, failure=failure) == judge.REHEARSED
    # the same outputs on the real host are a failure
    assert _cuda(tmp_path, lines=lines, failed=1, failure=failure) == judge.FAIL


def _torch(tmp_path, monkeypatch, **env_change):
    home = tmp_path / 'home'
    path = home / '.venvs' / 'gpu-check'
    path.mkdir(parents=True)
    monkeypatch.setattr(judge.os.path, 'expanduser', lambda p: str(home) if p == '~ubuntu' else p)
    env = {'user': 'ubuntu', 'path': str(path), 'torch_version': '2.11.0+cu130', 'cuda_available': True,
           'devices': ['NVIDIA H200'], 'matmul': {'device': 'cuda:0', 'size': 256, 'ok': True},
           'torch_location': '/opt/torch/.venv/lib/python3.12/site-packages',
           'message': 'ubuntu/gpu-check: torch 2.11.0+cu130 ok; CUDA available on NVIDIA H200; 256x256 matmul on cuda:0 ok'}
    env.update(env_change)
    report = {'ok': all(v.get('ok', True) for v in env.values() if isinstance(v, dict)), 'envs': [env]}
    args = ['torch', '--log', log(tmp_path, 'r.log', 5), '--again-log', log(tmp_path, 'a.log', 0),
            '--report', write(tmp_path, 'gpu-host.json', report), '--user', 'ubuntu', '--uid', str(os.getuid()),
            '--site-packages', '/opt/torch/.venv/lib/python3.12/site-packages', '--gpu-name', 'NVIDIA H200']
    return judge.main(args)


def test_torch_pass_on_cuda0(tmp_path, monkeypatch, capsys):
    assert _torch(tmp_path, monkeypatch, numpy={'ok': True, 'device': 'cuda:0'}) == judge.PASS
    assert 'cuda_available True on NVIDIA H200; matmul ok on cuda:0; numpy ok' in capsys.readouterr().out


@pytest.mark.parametrize('change', [
    {'cuda_available': False, 'devices': [], 'matmul': {'device': 'cpu', 'ok': True}},
    {'devices': ['NVIDIA H100 80GB HBM3']},
    {'user': 'root'},
    {'torch_location': '/home/ubuntu/.venvs/gpu-check/lib/python3.12/site-packages'},
    {'autograd': {'ok': False, 'device': 'cuda:0'}},
    {'checks': {'numpy': {'ok': False, 'error': 'ImportError: numpy'}}},
])
def test_torch_fail(tmp_path, monkeypatch, change):
    assert _torch(tmp_path, monkeypatch, **change) == judge.FAIL


def _verify(tmp_path, rows, summary, rehearsal=False):
    html = write(tmp_path, 'verify_report.html', '<html></html>')
    args = ['verify', '--log', log(tmp_path, 'v.log', 4), '--json', write(tmp_path, 'v.json', {'rows': rows, 'summary': summary}),
            '--html', html] + (['--rehearsal'] if rehearsal else [])
    return judge.main(args)


def test_verify_rehearsal_accepts_only_the_stand_ins_cpu_note(tmp_path):
    # the rehearsal's torch: the CPU build, variant cpu set explicitly, on the recorded H200 (as its verify report shows)
    from ansible_collections.labops.dlstack.plugins.filter.fleet_report import fleet_report_rows, fleet_report_summary
    note = ('cpu build installed where the probe recommends cu130 (torch 2.13.0 on NVIDIA H200): the variant is set '
            'explicitly (pytorch_env_variant, or the env\'s variant, is cpu)')
    env = {'user': 'ubuntu', 'env': 'gpu-check', 'ok': True, 'torch_version': '2.13.0+cpu', 'variant': 'cpu',
           'cuda_available': False, 'variant_note': note}
    hostvars = {'localhost': {'ansible_facts': {'dlstack_gpu': H200_FACTS}, 'pytorch_env_results': [env]}}
    rows = fleet_report_rows(hostvars, ['localhost'])
    summary = fleet_report_summary(rows)
    assert summary['hosts_needing_action'] == ['localhost'] and rows[0]['severity'] == 'warn'
    assert _verify(tmp_path, rows, summary, rehearsal=True) == judge.REHEARSED
    assert _verify(tmp_path, rows, summary) == judge.FAIL  # on the real host that note is a finding
    other = dict(env, variant_note='cu126 build installed where the probe recommends cu130')
    rows = fleet_report_rows({'localhost': dict(hostvars['localhost'], pytorch_env_results=[other])}, ['localhost'])
    assert _verify(tmp_path, rows, fleet_report_summary(rows), rehearsal=True) == judge.FAIL
    hostvars['localhost']['dlstack_verify_problems'] = ['nvidia-smi does not answer']
    rows = fleet_report_rows(hostvars, ['localhost'])
    assert _verify(tmp_path, rows, fleet_report_summary(rows), rehearsal=True) == judge.FAIL


def test_verify_green_and_not(tmp_path, capsys):
    from ansible_collections.labops.dlstack.plugins.filter.fleet_report import fleet_report_rows, fleet_report_summary
    hostvars = {'localhost': {'ansible_facts': {'dlstack_gpu': H200_FACTS},
                              'pytorch_env_results': [{'user': 'ubuntu', 'env': 'gpu-check', 'ok': True,
                                                       'torch_version': '2.11.0+cu130', 'variant': 'cu130',
                                                       'cuda_available': True}]}}
    rows = fleet_report_rows(hostvars, ['localhost'])
    assert _verify(tmp_path, rows, fleet_report_summary(rows)) == judge.PASS
    assert capsys.readouterr().out.splitlines()[-1] == (
        '1 host(s), 1 GPU(s): ok=1; torch checks: 1, failed: 0 | '
        'localhost: ok; NVIDIA H200 (Hopper, 9.0); 580.159.04 open; torch cu130 | '
        '  ubuntu: no conda from labops.dlstack; env gpu-check: torch 2.11.0+cu130 (cu130), CUDA yes; '
        'ok=17 changed=4 failed=0')
    hostvars['localhost']['dlstack_verify_problems'] = ['nvidia-smi does not answer']
    rows = fleet_report_rows(hostvars, ['localhost'])
    assert _verify(tmp_path, rows, fleet_report_summary(rows)) == judge.FAIL

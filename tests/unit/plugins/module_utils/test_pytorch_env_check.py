# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dlstack-check (plugins/module_utils/_pytorch_env_check.py): what the user is told, and its verdict.

The results below have the shape run() returns (the JSON a real torch 2.13.0+cpu with NumPy 2.4.6
printed in molecule/pytorch_env); the expectations are what the role writes into an environment.
"""

from __future__ import annotations

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env_check as check


def _result(**over):
    result = {
        'python': '3.11.2', 'prefix': '/home/alice/.venvs/torch', 'import_ok': True, 'import_seconds': 1.2,
        'torch_version': '2.13.0+cpu', 'torch_cuda': None, 'variant': 'cpu',
        'torch_location': '/opt/labops-dlstack/pytorch/layers/py3.11-torch2.13.0-cpu-x/lib/python3.11/site-packages',
        'arch_list': [], 'cuda_available': False, 'cuda_error': None, 'device_files': [], 'devices': [], 'device': 'cpu',
        'numpy': {'device': 'cpu', 'ok': True, 'version': '2.4.6', 'seconds': 0.0004},
        'autograd': {'device': 'cpu', 'ok': True, 'grad': [2.0, 4.0, 6.0], 'expected': [2.0, 4.0, 6.0], 'seconds': 0.0011},
        'matmul': {'device': 'cpu', 'size': 256, 'ok': True, 'checksum': 16777216, 'seconds': 0.0025},
    }
    result.update(over)
    return result


# the demo's simulated H200 host with the cpu build of the offline wheelhouse
H200_CPU = {'user': 'alice', 'env': 'torch', 'torch_version': '2.13.0', 'variant': 'cpu', 'variant_source': 'explicit',
            'recommended_variant': 'cu130', 'cuda_expected': False,
            'cuda_reason': 'the cpu variant is built without CUDA (the GPU is usable: use variant auto or a CUDA variant)',
            'numpy': True, 'gpu_simulated': True}


def test_pass_prints_every_check_with_its_time():
    lines, status = check.format_text(_result(), H200_CPU)
    assert status == 0
    assert lines == [
        'dlstack-check: /home/alice/.venvs/torch (python 3.11.2, user alice)',
        'torch     2.13.0+cpu, variant cpu (set in the configuration; the GPU probe recommends cu130 for this host, '
        'whose GPU facts are SIMULATED), from /opt/labops-dlstack/pytorch/layers/py3.11-torch2.13.0-cpu-x/lib/python3.11/'
        'site-packages   import 1200.0 ms',
        'CUDA      not available: this torch is the cpu build, compiled without CUDA; as expected here: the cpu variant '
        'is built without CUDA (the GPU is usable: use variant auto or a CUDA variant) [GPU facts SIMULATED]',
        'devices   none: the checks run on the CPU',
        "numpy     ok    NumPy 2.4.6: torch.from_numpy shares the array's memory, .numpy() gives back 2*x computed on cpu   0.4 ms",
        'autograd  ok    y = sum(x**2) at x = [1, 2, 3]: y.backward() gives x.grad = [2, 4, 6] on cpu   1.1 ms',
        'matmul    ok    256x256 ones @ ones on cpu: checksum 16777216 = 256**3   2.5 ms',
        'PASS      3 of 3 checks passed',
    ]


def test_gpu_host_lists_the_devices():
    result = _result(torch_version='2.11.0+cu130', torch_cuda='13.0', variant='cu130', cuda_available=True,
                     devices=[{'index': 0, 'name': 'NVIDIA H200', 'capability': '9.0'}], device='cuda:0')
    lines, status = check.format_text(result, {'variant': 'cu130', 'recommended_variant': 'cu130', 'cuda_expected': True})
    assert status == 0
    assert lines[1].startswith('torch     2.11.0+cu130, variant cu130 (what the GPU probe recommends for this host), from ')
    assert lines[2:4] == ['CUDA      available (CUDA 13.0)', 'devices   cuda:0 NVIDIA H200 (compute capability 9.0)']


@pytest.mark.parametrize('over, expect, failure', [
    ({'numpy': {'ok': False, 'missing': True, 'device': 'cpu', 'error': "ModuleNotFoundError: No module named 'numpy'"}},
     {}, "numpy: ModuleNotFoundError: No module named 'numpy'"),
    ({'autograd': {'ok': False, 'device': 'cpu', 'error': 'x.grad is [2.0, 4.0, 7.0], expected [2.0, 4.0, 6.0]'}},
     {}, 'autograd: x.grad is [2.0, 4.0, 7.0], expected [2.0, 4.0, 6.0]'),
    ({'matmul': {'ok': False, 'device': 'cpu', 'size': 4, 'error': 'wrong checksum 63, expected 64'}},
     {}, 'matmul: wrong checksum 63, expected 64'),
    ({}, {'torch_version': '2.12.0'}, 'torch 2.13.0+cpu is installed, 2.12.0 was configured'),
    ({}, {'variant': 'cu130'}, 'torch 2.13.0+cpu is the cpu build, cu130 was configured'),
    ({'torch_version': '2.13.0+cu130', 'torch_cuda': '13.0', 'variant': 'cu130', 'cuda_error': 'Found no NVIDIA driver on your system'},
     {'cuda_expected': True, 'cuda_reason': 'cu130 runs on NVIDIA H200 with driver 580.159.04'},
     'CUDA should be available here (cu130 runs on NVIDIA H200 with driver 580.159.04), but it is not: no NVIDIA '
     'device files (/dev/nvidiactl, /dev/nvidia0): no GPU is visible here (not passed into this container or VM, or '
     'the NVIDIA driver is not loaded); torch says: Found no NVIDIA driver on your system'),
])
def test_failures_exit_non_zero(over, expect, failure):
    result = _result(**over)
    assert check.verdict(result, expect) == ([failure], [])
    lines, status = check.format_text(result, expect)
    assert status == 1
    assert lines[-1] == 'FAIL      1 problem(s): ' + failure


def test_numpy_left_out_is_skipped_not_failed():
    result = _result(numpy={'ok': False, 'missing': True, 'device': 'cpu', 'error': "ModuleNotFoundError: No module named 'numpy'"})
    lines, status = check.format_text(result, {'numpy': False})
    assert status == 0
    assert 'numpy     SKIP  NumPy is not installed here (left out by the configuration)' in lines
    assert lines[-1] == 'PASS      2 of 2 checks passed'


def test_cuda_where_none_was_expected_is_a_note():
    result = _result(torch_cuda='13.0', variant='cu130', cuda_available=True, device='cuda:0',
                     devices=[{'index': 0, 'name': 'NVIDIA H200', 'capability': '9.0'}])
    failures, notes = check.verdict(result, {'cuda_expected': False, 'cuda_reason': 'gpu_facts status no_gpu'})
    assert failures == []
    assert notes == ['CUDA is available although the last configuration run expected it not to be '
                     '(gpu_facts status no_gpu): ask for the verification to be run again']


def test_torch_that_does_not_import():
    result = {'python': '3.11.2', 'prefix': '/home/bob/.venvs/torch', 'import_ok': False,
              'import_error': "ModuleNotFoundError: No module named 'torch'"}
    lines, status = check.format_text(result, {'user': 'bob'})
    assert (status, lines) == (1, [
        'dlstack-check: /home/bob/.venvs/torch (python 3.11.2, user bob)',
        "torch     FAIL  does not import: ModuleNotFoundError: No module named 'torch'",
        'FAIL      torch does not import in this environment'])


@pytest.mark.parametrize('over, why', [
    ({}, 'this torch is the cpu build, compiled without CUDA'),
    ({'torch_cuda': '13.0', 'variant': 'cu130', 'device_files': ['nvidia0', 'nvidiactl'],
      'cuda_error': 'CUDA error: operation not permitted'},
     'torch.cuda.is_available() is False although /dev/nvidia0, /dev/nvidiactl exist; torch says: CUDA error: '
     'operation not permitted'),
])
def test_why_no_cuda(over, why):
    assert check.why_no_cuda(_result(**over)) == why


@pytest.mark.parametrize('argv, opts', [
    ([], {'json': False, 'size': 256, 'expect': 'PREFIX/labops-dlstack-check.json'}),
    (['--json', '--size', '8', '--no-expect'], {'json': True, 'size': 8, 'expect': None}),
    (['--expect', '/tmp/e.json'], {'json': False, 'size': 256, 'expect': '/tmp/e.json'}),
])
def test_parse_args(argv, opts, monkeypatch):
    monkeypatch.setattr(check.sys, 'prefix', 'PREFIX')
    assert check.parse_args(argv) == opts


@pytest.mark.parametrize('argv, error', [
    (['--size', '0'], "--size: '0' is not a positive whole number"),
    (['--size'], '--size needs a value'),
    (['--colour'], "unknown argument '--colour'"),
])
def test_parse_args_refuses(argv, error):
    with pytest.raises(ValueError, match='^%s$' % error.replace('(', r'\(').replace(')', r'\)')):
        check.parse_args(argv)


def test_read_expect(tmp_path):
    path = tmp_path / check.EXPECT_NAME
    assert check.read_expect(str(path)) is None
    path.write_text('{"variant": "cpu"}')
    assert check.read_expect(str(path)) == {'variant': 'cpu'}
    path.write_text('not json')
    assert check.read_expect(str(path)) is None

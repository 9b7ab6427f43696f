# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the pytorch_env role (plugins/module_utils/_pytorch_env.py).

GPU hosts are represented by dlstack_gpu facts built from the recorded H200 capture
(tests/unit/fixtures/gpu/h200-driver580: query_gpu_all.csv parsed by the probe's own parser, the
driver version from nvidia-smi-q.txt, the torch line of misc.txt) - the smallest honest stand-in
for a GPU host, which CI does not have.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as gk
from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_probe as gp
from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env as pe

HOMES = {'alice': '/home/alice', 'bob': '/home/bob'}
SETTINGS = {
    'torch_version': '2.13.0', 'default_python': '3.11', 'variant': 'auto', 'backend': 'venv',
    'index_url': 'https://pypi.org/simple', 'index_url_template': 'https://download.pytorch.org/whl/{variant}',
    'find_links': [], 'root': '/opt/labops-dlstack', 'cache_dir': '/var/cache/labops-dlstack/uv',
}
CONTAINER = {'status': 'no_gpu', 'in_container': True, 'gpus': [], 'message': 'no NVIDIA PCI device',
             'driver': {'installed': False, 'loaded': False, 'version': None}}


@pytest.fixture
def h200_facts(fixture_text):
    """dlstack_gpu of the recorded H200 host (driver 580.159.04 open, CUDA 13.0)."""
    row = gp.parse_query_csv(fixture_text('h200-driver580', 'query_gpu_all.csv'))[0]
    gpu = gp.gpu_from_query_row(row)
    version = gp.parse_nvidia_smi_version(fixture_text('h200-driver580', 'nvidia-smi-q.txt'))
    return {
        'status': 'ok', 'message': '', 'in_container': False, 'gpus': [gpu],
        'driver': {'installed': True, 'loaded': True, 'version': version['driver_version'],
                   'kernel_module': 'open', 'cuda_version': version['cuda_version']},
        'torch': gk.torch_recommendation('2.11', [gpu['compute_capability']], version['driver_version']),
    }


def test_h200_stand_in_is_the_capture(h200_facts):
    gpu = h200_facts['gpus'][0]
    assert (gpu['name'], gpu['compute_capability'], h200_facts['driver']['version']) == ('NVIDIA H200', '9.0', '580.159.04')


def test_plan_two_users_share_one_layer():
    plan = pe.plan_environments([{'user': 'alice', 'envs': [{'name': 'torch', 'jupyter_kernel': True}]},
                                 {'user': 'bob'}], SETTINGS, CONTAINER, HOMES)
    assert plan['errors'] == []
    alice, bob = plan['envs']
    assert (alice['path'], bob['path']) == ('/home/alice/.venvs/torch', '/home/bob/.venvs/pytorch')
    assert (alice['variant'], alice['variant_source'], alice['expected_version']) == ('cpu', 'auto', '2.13.0+cpu')
    assert alice['packages'] == ['ipykernel']
    assert bob['packages'] == []
    assert len(plan['layers']) == 1
    layer = plan['layers'][0]
    assert alice['layer_site_packages'] == bob['layer_site_packages'] == layer['site_packages']
    assert layer['dir'].startswith('/opt/labops-dlstack/pytorch/layers/py3.11-torch2.13.0-cpu-')
    assert layer['requirements'] == ['torch==2.13.0+cpu', 'numpy>=1.26.2,<3']
    assert layer['install_argv'][-5:] == ['--extra-index-url', 'https://download.pytorch.org/whl/cpu',
                                          'torch==2.13.0+cpu', 'numpy>=1.26.2,<3', 'pip']
    assert (alice['numpy'], alice['recommended_variant']) == (True, 'cpu')
    assert alice['torch_source'] == 'https://download.pytorch.org/whl/cpu'
    assert (plan['check_path'], alice['check_path']) == ('/opt/labops-dlstack/pytorch/dlstack_check.py',) * 2
    assert alice['check_private'] is False
    assert alice['check_command'] == '/home/alice/.venvs/torch/bin/dlstack-check'
    assert alice['check_expect_path'] == '/home/alice/.venvs/torch/labops-dlstack-check.json'
    assert alice['check_expect'] == {
        'managed_by': 'labops.dlstack.pytorch_env', 'user': 'alice', 'env': 'torch', 'torch_version': '2.13.0',
        'variant': 'cpu', 'variant_source': 'auto', 'recommended_variant': 'cpu',
        'torch_source': 'https://download.pytorch.org/whl/cpu', 'cuda_expected': False,
        'cuda_reason': alice['expect']['reason'], 'numpy': True, 'gpu_simulated': False}
    assert alice['create_argv'] == ['/usr/bin/python3.11', '-m', 'venv', '--without-pip', '--prompt', 'torch',
                                    '/home/alice/.venvs/torch']
    assert alice['expect']['available'] is False
    assert alice['expect']['layer'] == 'device access'
    assert alice['expect']['reason'].startswith('gpu_facts status no_gpu: no NVIDIA GPU is visible on this host '
                                                '(a container without GPU devices passed through)')


def test_layer_key_changes_with_what_shapes_the_layer():
    base = pe.layer_key('3.11', ['torch==2.13.0+cpu'], {'find_links': ['/opt/wheels']})
    assert base == pe.layer_key('3.11', ['torch==2.13.0+cpu'], {'find_links': ['/opt/wheels']})
    assert base != pe.layer_key('3.11', ['torch==2.13.0+cpu', 'torchvision==0.28.0+cpu'], {'find_links': ['/opt/wheels']})
    assert base != pe.layer_key('3.12', ['torch==2.13.0+cpu'], {'find_links': ['/opt/wheels']})


def test_wheelhouse_only_sources():
    settings = dict(SETTINGS, index_url_template='', find_links=['/opt/wheels'], offline=True)
    layer = pe.plan_environments([{'user': 'bob'}], settings, CONTAINER, HOMES)['layers'][0]
    assert layer['install_argv'][8:11] == ['hardlink', '--compile-bytecode', '--no-progress']  # .pyc for every user
    assert layer['install_argv'][11:] == [
        '--index-url', 'https://pypi.org/simple', '--find-links', '/opt/wheels', '--offline', 'torch==2.13.0+cpu',
        'numpy>=1.26.2,<3', 'pip']


def test_auto_on_h200_takes_the_probes_recommendation(h200_facts):
    settings = dict(SETTINGS, torch_version='2.11.0', default_python='3.12')
    env = pe.plan_environments([{'user': 'bob'}], settings, h200_facts, HOMES)['envs'][0]
    assert (env['variant'], env['expected_version']) == ('cu130', '2.11.0+cu130')
    assert env['expect'] == {'available': True, 'layer': None,
                             'reason': 'cu130 runs on NVIDIA H200 with driver 580.159.04'}


def test_auto_for_another_release_asks_the_same_knowledge(h200_facts):
    # the probe answered for 2.11; for torch 2.13 the same function (torch_recommendation) ranks
    # PyTorch's stable variants first: cu130, not cu132 (experimental in 2.13, though it runs on R580
    # by minor-version compatibility)
    assert pe.auto_variant(h200_facts, '2.13.0') == 'cu130'
    assert pe.auto_variant(h200_facts, '2.13.0') == gk.torch_recommendation('2.13', ['9.0'], '580.159.04')['recommended_variant']
    assert pe.auto_variant(CONTAINER, '2.13.0') == 'cpu'


@pytest.mark.parametrize('variant, problem', [
    ('cu132', 'driver: cu132 needs CUDA 13.2, which needs driver 580.65.06 or newer'),
])
def test_explicit_variant_the_driver_cannot_run(h200_facts, variant, problem):
    # 580.159.04 >= 580.65.06: CUDA 13.2 runs by minor-version compatibility, so no problem at all
    assert pe.variant_problems(h200_facts, '2.13.0', variant) == []
    old = json.loads(json.dumps(h200_facts))
    old['driver']['version'] = '570.124.06'
    assert pe.variant_problems(old, '2.13.0', variant) == [problem + '; this host has 570.124.06']


def test_explicit_variant_without_the_gpu_architecture():
    pascal = {'status': 'ok', 'gpus': [{'name': 'Tesla P100-PCIE-16GB', 'compute_capability': '6.0'}],
              'driver': {'version': '580.95.05'}}
    problems = pe.variant_problems(pascal, '2.13.0', 'cu130')
    # torch 2.13.0+cu130 from PyPI: arch flags sm_75 .. sm_120, no compute_120 (no PTX; _gpu_knowledge SRC_PYPI_WHEELS)
    assert problems == ['architecture: torch 2.13 cu130 wheels carry sm_75, sm_80, sm_86, sm_90, sm_100, sm_120; '
                        'the GPU(s) here have compute capability 6.0 (variants that fit: cu126)']
    plan = pe.plan_environments([{'user': 'bob', 'envs': [{'name': 'x', 'variant': 'cu130'}]}], SETTINGS, pascal, HOMES)
    assert plan['envs'] == []
    assert plan['errors'] == ['pytorch_env_users[bob].envs[x].variant (or pytorch_env_variant): cu130 cannot work on this host: ' + problems[0]]
    assert pe.variant_problems(pascal, '2.13.0', 'cu126') == []


@pytest.mark.parametrize('users, settings, error', [
    ([{'user': 'bob', 'envs': [{'name': 'x', 'variant': 'cu999'}]}], {},
     "pytorch_env_users[bob].envs[x].variant (or pytorch_env_variant): 'cu999' is not a torch 2.13 variant; "
     "known: auto, cpu, cu126, cu130, cu132"),
    ([{'user': 'carol'}], {},
     'pytorch_env_users[carol]: user carol does not exist on this host (create it first, e.g. with ansible.builtin.user)'),
    ([{'user': 'bob', 'envs': [{'name': 'x', 'torch_version': '2.3.1'}]}], {},
     'pytorch_env_users[bob].envs[x].torch_version (or pytorch_env_torch_version): torch 2.3 is not in the tables (known: 2.4, 2.5, 2.6, 2.7, '
     '2.8, 2.9, 2.10, 2.11, 2.12, 2.13, 2.14, 2.15)'),
    ([{'user': 'bob', 'envs': [{'name': 'x', 'torch_version': '2.13.0+cu130'}]}], {},
     'pytorch_env_users[bob].envs[x].torch_version (or pytorch_env_torch_version): give the variant in variant, not as +cu130'),
    ([{'user': 'bob', 'envs': [{'name': 'x', 'python': '3.9'}]}], {},
     'pytorch_env_users[bob].envs[x].python (or pytorch_env_python): torch 2.13 has wheels for Python 3.10-3.14, not 3.9'),
    # PyPI torch 2.13.0 has cp310 .. cp314 wheels only: no 3.15 (issue #19 audit, pypi.org simple API)
    ([{'user': 'bob', 'envs': [{'name': 'x', 'python': '3.15'}]}], {},
     'pytorch_env_users[bob].envs[x].python (or pytorch_env_python): torch 2.13 has wheels for Python 3.10-3.14, not 3.15'),
    # torch 2.15.0: Requires-Python >=3.11 (PyPI)
    ([{'user': 'bob', 'envs': [{'name': 'x', 'python': '3.10', 'torch_version': '2.15.0'}]}], {},
     'pytorch_env_users[bob].envs[x].python (or pytorch_env_python): torch 2.15 has wheels for Python 3.11-3.15, not 3.10'),
    # torch 2.5 has a cp313 wheel for x86_64 on PyPI, none for aarch64
    ([{'user': 'bob', 'envs': [{'name': 'x', 'python': '3.13', 'torch_version': '2.5.1'}]}], {'machine': 'aarch64'},
     'pytorch_env_users[bob].envs[x].python (or pytorch_env_python): torch 2.5 has wheels for Python 3.9-3.12, not 3.13'),
    ([{'user': 'bob', 'envs': [{'name': 'x', 'backend': 'conda'}]}], {},
     'pytorch_env_users[bob].envs[x].backend (or pytorch_env_backend): conda, but no conda prefix is known for bob '
     '(pytorch_env_conda_prefixes, or run labops.dlstack.conda first)'),
    ([{'user': 'bob', 'envs': [{'name': 'x', 'torchvision': True, 'torch_version': '2.3.1'}]}], {},
     'pytorch_env_users[bob].envs[x].torch_version (or pytorch_env_torch_version): torch 2.3 is not in the tables (known: 2.4, 2.5, 2.6, 2.7, '
     '2.8, 2.9, 2.10, 2.11, 2.12, 2.13, 2.14, 2.15)'),
    ([{'user': 'bob', 'envs': [{'name': 'a b'}]}], {},
     "pytorch_env_users[bob].envs[0].name: 'a b' must be letters, digits, \".\", \"_\" or \"-\""),
    ([{'user': 'bob'}], {'torch_version': '2.13'},
     "pytorch_env_torch_version: '2.13' is not a full version like 2.13.0"),
])
def test_bad_input_names_the_variable(users, settings, error):
    plan = pe.plan_environments(users, dict(SETTINGS, **settings), CONTAINER, HOMES)
    assert error in plan['errors']


def test_validation_before_facts_does_not_check_users():
    assert pe.plan_environments([{'user': 'carol'}], SETTINGS, None, None)['errors'] == []


def test_same_path_twice_is_an_error():
    plan = pe.plan_environments([{'user': 'bob', 'envs': [{'name': 'x'}, {'name': 'x'}]}], SETTINGS, CONTAINER, HOMES)
    assert plan['errors'] == ['pytorch_env_users[bob].envs[x]: path /home/bob/.venvs/x is used twice']


def test_conda_backend_and_domain_libraries():
    settings = dict(SETTINGS, conda_prefixes={'bob': '/home/bob/miniforge3'})
    env = pe.plan_environments([{'user': 'bob', 'envs': [{'name': 'x', 'backend': 'conda', 'torchvision': True,
                                                          'torchaudio': True}]}], settings, CONTAINER, HOMES)['envs'][0]
    assert env['path'] == '/home/bob/miniforge3/envs/x'
    assert env['create_argv'] == ['/home/bob/miniforge3/bin/conda', 'create', '--yes', '--quiet', '--prefix',
                                  '/home/bob/miniforge3/envs/x', 'python=3.11']
    assert env['requirements'] == ['torch==2.13.0+cpu', 'torchvision==0.28.0+cpu', 'torchaudio==2.11.0+cpu',
                                   'numpy>=1.26.2,<3']
    assert env['env_site_packages'] == '/home/bob/miniforge3/envs/x/lib/python3.11/site-packages'


def test_layered_on_a_preinstalled_torch_builds_no_layer():
    settings = dict(SETTINGS, system_site_packages_from='/opt/torch/.venv/lib/python3.12/site-packages/',
                    default_python='3.12', torch_version='2.11.0')
    plan = pe.plan_environments([{'user': 'bob'}], settings, CONTAINER, HOMES)
    assert plan['layers'] == []
    assert plan['envs'][0]['layer'] is None
    assert plan['envs'][0]['layer_site_packages'] == '/opt/torch/.venv/lib/python3.12/site-packages'
    # NumPy is not installed by the role there, but still expected (and checked) in the environment
    assert plan['envs'][0]['numpy'] is True
    assert plan['envs'][0]['torch_source'] == 'the preinstalled torch in /opt/torch/.venv/lib/python3.12/site-packages'


def test_without_root_each_environment_carries_its_own_check():
    # molecule/gpu: a user without sudo on a host with a preinstalled torch; nothing root-owned can be written
    settings = dict(SETTINGS, shared_check=False, system_site_packages_from='/opt/torch/lib/python3.12/site-packages',
                    default_python='3.12')
    plan = pe.plan_environments([{'user': 'bob', 'envs': [{'name': 'gpu-check'}]}], settings, CONTAINER, HOMES)
    env = plan['envs'][0]
    assert plan['check_path'] is None
    assert (env['check_private'], env['check_path']) == (
        True, '/home/bob/.venvs/gpu-check/share/labops-dlstack/dlstack_check.py')
    assert env['check_command'] == '/home/bob/.venvs/gpu-check/bin/dlstack-check'


def test_numpy_can_be_left_out():
    settings = dict(SETTINGS, numpy=False)
    plan = pe.plan_environments([{'user': 'bob'}, {'user': 'alice', 'envs': [{'name': 'np', 'numpy': True}]}],
                                settings, CONTAINER, HOMES)
    alice, bob = sorted(plan['envs'], key=lambda e: e['user'])
    assert (bob['numpy'], bob['requirements'], bob['check_expect']['numpy']) == (False, ['torch==2.13.0+cpu'], False)
    assert (alice['numpy'], alice['requirements']) == (True, ['torch==2.13.0+cpu', 'numpy>=1.26.2,<3'])
    assert len(plan['layers']) == 2  # a different wheel set is a different layer


@pytest.mark.parametrize('torch_version, python, requirement', [
    ('2.13.0', '3.11', 'numpy>=1.26.2,<3'),
    ('2.13.0', '3.10', 'numpy>=1.23.2,<3'),
    ('2.13.0', '3.12', 'numpy>=1.26.2,<3'),
    ('2.13.0', '3.13', 'numpy>=2.1.2,<3'),
    ('2.13.0', '3.15', 'numpy>=2.3.4,<3'),   # no newer row: 3.14's
    ('2.6.0', '3.9', 'numpy>=1.23.2,<3'),    # below the table: 3.10's
    ('2.4.1+cu121', '3.12', 'numpy>=1.26.2,<3'),
])
def test_numpy_requirement(torch_version, python, requirement):
    assert pe.numpy_requirement(torch_version, python) == requirement


def test_every_torch_release_is_built_against_numpy_2():
    # every release in the tables is >= 2.3, so all of them take NumPy 1.x or 2.x, never 3
    assert all(gk.parse_version(r) >= gk.parse_version(pe.NUMPY_ABI2_SINCE_TORCH) for r in gk.TORCH_RELEASES)


def test_the_wheelhouse_carries_the_numpy_the_tests_plan():
    # tests/harness/ensure-wheelhouse.sh downloads for cp311 what the plan of torch 2.13.0 on Python 3.11 asks
    import os
    root = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')
    with open(os.path.join(root, 'tests', 'harness', 'ensure-wheelhouse.sh'), encoding='utf-8') as handle:
        script = handle.read()
    assert pe.numpy_requirement('2.13.0', '3.11') in script.split('DLSTACK_WHEELHOUSE_EXTRA:-', 1)[1].split('}', 1)[0]


@pytest.mark.parametrize('torch_version, expected', [
    ('2.6.0', ('0.21.0', '2.6.0')), ('2.11.0', ('0.26.0', '2.11.0')), ('2.13.0', ('0.28.0', '2.11.0')),
    ('2.13.0+cu130', ('0.28.0', '2.11.0')),
    # PyPI METADATA: torchvision 0.27.1 "Requires-Dist: torch (==2.12.1)"
    ('2.12.1', ('0.27.1', '2.11.0')),
    # PyPI METADATA: torchvision 0.29.0 "Requires-Dist: torch (==2.14.0)" (issue #19: "torchvision 0.29.0
    # requires torch ==2.14.0", so 2.14.0 with torchvision was refused before)
    ('2.14.0', ('0.29.0', '2.11.0')),
    # PyPI: torchvision 0.29.1 "torch (>=2.14.0)", uploaded 2026-09-30 with torch 2.14.1
    ('2.14.1', ('0.29.1', '2.11.0')),
    # PyPI: torchvision 0.29.2 (py3-none, "torch (>=2.14.0)") and torchaudio 2.11.1 ("torch>=2.11"), both
    # uploaded 2026-10-28 with torch 2.15.0
    ('2.15.0', ('0.29.2', '2.11.1')),
    ('2.16.0', None),
])
def test_domain_libraries(torch_version, expected):
    libs = pe.domain_libraries(torch_version)
    assert (libs[:2] if libs else None) == expected


def test_every_domain_row_is_a_known_torch_release():
    for version in pe.DOMAIN_LIBRARIES:
        assert gk.normalize_torch_version(version) in gk.TORCH_RELEASES


# ---- diagnose ------------------------------------------------------------------------------------

def _cpu_env():
    return pe.plan_environments([{'user': 'bob'}], SETTINGS, CONTAINER, HOMES)['envs'][0]


def _probe(**over):
    probe = {'import_ok': True, 'torch_version': '2.13.0+cpu', 'torch_cuda': None, 'cuda_available': False,
             'cuda_error': None, 'arch_list': [], 'devices': [],
             'numpy': {'device': 'cpu', 'ok': True, 'version': '2.4.6', 'seconds': 0.0004},
             'autograd': {'device': 'cpu', 'ok': True, 'grad': [2.0, 4.0, 6.0], 'expected': [2.0, 4.0, 6.0], 'seconds': 0.001},
             'matmul': {'device': 'cpu', 'size': 256, 'ok': True, 'checksum': 16777216, 'seconds': 0.002}}
    probe.update(over)
    return probe


def test_diagnose_cpu_in_container_ok():
    verdict = pe.diagnose(_probe(), _cpu_env(), CONTAINER)
    assert (verdict['ok'], verdict['layer']) == (True, None)
    assert verdict['message'] == (
        'bob/pytorch: torch 2.13.0+cpu ok; CUDA not available, as expected: gpu_facts status no_gpu: no NVIDIA GPU is '
        'visible on this host (a container without GPU devices passed through); and the cpu variant is built '
        'without CUDA; NumPy 2.4.6 round trip on cpu ok; autograd backward() on cpu ok; 256x256 matmul on cpu ok')
    # the report keeps what each check found, without its timing (the report is the same every run)
    assert verdict['numpy'] == {'device': 'cpu', 'ok': True, 'version': '2.4.6'}
    assert verdict['autograd'] == {'device': 'cpu', 'ok': True, 'grad': [2.0, 4.0, 6.0], 'expected': [2.0, 4.0, 6.0]}
    assert verdict['matmul'] == {'device': 'cpu', 'size': 256, 'ok': True, 'checksum': 16777216}
    assert (verdict['numpy_expected'], verdict['recommended_variant'], verdict['variant_note']) == (True, 'cpu', '')
    assert verdict['check_command'] == '/home/bob/.venvs/pytorch/bin/dlstack-check'


@pytest.mark.parametrize('over, layer, start', [
    ({'import_ok': False, 'import_error': "ModuleNotFoundError: No module named 'torch'"}, 'install',
     "bob/pytorch: torch does not import: ModuleNotFoundError"),
    ({'torch_version': '2.12.0+cpu'}, 'install', 'bob/pytorch: torch 2.12.0+cpu is installed, 2.13.0 was asked'),
    ({'torch_version': '2.13.0+cu130'}, 'variant', 'bob/pytorch: torch 2.13.0+cu130 is the cu130 variant, cpu was asked'),
    ({'torch_version': '2.13.0', 'torch_cuda': '13.0'}, 'variant', 'bob/pytorch: torch 2.13.0 is the cu130 variant, cpu was asked'),  # PyPI's default wheel
    ({'cuda_available': True}, 'device access', 'bob/pytorch: torch.cuda.is_available() is True, but gpu_facts said'),
    ({'matmul': {'device': 'cpu', 'size': 4, 'ok': False, 'error': 'RuntimeError: boom'}}, 'install',
     'bob/pytorch: matmul on cpu failed: RuntimeError: boom'),
    ({'numpy': {'device': 'cpu', 'ok': False, 'missing': True, 'error': "ModuleNotFoundError: No module named 'numpy'"}},
     'install', "bob/pytorch: NumPy does not import (ModuleNotFoundError: No module named 'numpy'), though the shared "
     "layer should carry it (pytorch_env_numpy: true): the layer /opt/labops-dlstack/pytorch/layers/py3.11-torch2.13.0-cpu-"),
    ({'numpy': {'device': 'cpu', 'ok': False, 'version': '2.4.6', 'error': 'expected [[0.0, 2.0]], got [[0.0, 3.0]]'}},
     'install', 'bob/pytorch: NumPy round trip (torch.from_numpy, .numpy()) on cpu failed: expected [[0.0, 2.0]]'),
    ({'autograd': {'device': 'cpu', 'ok': False, 'error': 'x.grad is [2.0, 4.0, 7.0], expected [2.0, 4.0, 6.0]'}},
     'install', 'bob/pytorch: autograd backward() on cpu failed: x.grad is [2.0, 4.0, 7.0], expected [2.0, 4.0, 6.0]'),
    ({'autograd': None}, 'install', 'bob/pytorch: autograd backward() on None failed: the check did not run'),
])
def test_diagnose_failures_name_the_layer(over, layer, start):
    verdict = pe.diagnose(_probe(**over), _cpu_env(), CONTAINER)
    assert (verdict['ok'], verdict['layer']) == (False, layer)
    assert verdict['message'].startswith(start)


def _h200_env(h200_facts):
    settings = dict(SETTINGS, torch_version='2.11.0', default_python='3.12')
    return pe.plan_environments([{'user': 'ubuntu'}], settings, h200_facts, {'ubuntu': '/home/ubuntu'})['envs'][0]


def _h200_probe(fixture_text, **over):
    # the torch line of the capture: "2.11.0+cu130 13.0 (9, 0) ['sm_75', ...]"
    line = fixture_text('h200-driver580', 'misc.txt').split('################ python nvml/torch\n', 1)[1].splitlines()[0]
    version, cuda = line.split()[:2]
    arch_list = json.loads(line[line.index('['):].replace("'", '"'))
    probe = {'import_ok': True, 'torch_version': version, 'torch_cuda': cuda, 'cuda_available': True,
             'cuda_error': None, 'arch_list': arch_list,
             'devices': [{'index': 0, 'name': 'NVIDIA H200', 'capability': '9.0'}],
             'numpy': {'device': 'cuda:0', 'ok': True, 'version': '2.4.6'},
             'autograd': {'device': 'cuda:0', 'ok': True, 'grad': [2.0, 4.0, 6.0], 'expected': [2.0, 4.0, 6.0]},
             'matmul': {'device': 'cuda:0', 'size': 256, 'ok': True, 'checksum': 16777216}}
    probe.update(over)
    return probe


def test_diagnose_h200_ok(h200_facts, fixture_text):
    verdict = pe.diagnose(_h200_probe(fixture_text), _h200_env(h200_facts), h200_facts, require_cuda=True)
    assert verdict['message'] == ('ubuntu/pytorch: torch 2.11.0+cu130 ok; CUDA available on NVIDIA H200; '
                                  'NumPy 2.4.6 round trip on cuda:0 ok; autograd backward() on cuda:0 ok; '
                                  '256x256 matmul on cuda:0 ok')
    assert (verdict['ok'], verdict['cuda_expected'], verdict['devices']) == (True, True, ['NVIDIA H200'])


@pytest.mark.parametrize('over, layer', [
    ({'cuda_available': False, 'devices': [], 'cuda_error': 'The NVIDIA driver on your system is too old (found version 12070)'}, 'driver'),
    ({'cuda_available': False, 'devices': [], 'cuda_error': 'no kernel image is available for execution on the device'}, 'architecture'),
    ({'cuda_available': False, 'devices': [], 'arch_list': ['sm_100', 'sm_120']}, 'architecture'),
    ({'cuda_available': False, 'devices': []}, 'device access'),
    ({'matmul': {'device': 'cuda:0', 'size': 4, 'ok': False, 'error': 'CUDA error: no kernel image is available'}}, 'architecture'),
])
def test_diagnose_h200_mismatch(h200_facts, fixture_text, over, layer):
    verdict = pe.diagnose(_h200_probe(fixture_text, **over), _h200_env(h200_facts), h200_facts)
    assert (verdict['ok'], verdict['layer']) == (False, layer)


def test_numpy_left_out_and_absent_is_fine():
    env = pe.plan_environments([{'user': 'bob'}], dict(SETTINGS, numpy=False), CONTAINER, HOMES)['envs'][0]
    probe = _probe(numpy={'device': 'cpu', 'ok': False, 'missing': True, 'error': "ModuleNotFoundError: No module named 'numpy'"})
    verdict = pe.diagnose(probe, env, CONTAINER)
    assert verdict['ok'] is True
    assert 'NumPy left out (pytorch_env_numpy: false); autograd backward() on cpu ok' in verdict['message']


def test_numpy_missing_from_a_preinstalled_torch():
    settings = dict(SETTINGS, system_site_packages_from='/usr/lib/python3/dist-packages', default_python='3.13',
                    torch_version='2.6.0')
    env = pe.plan_environments([{'user': 'bob'}], settings, CONTAINER, HOMES)['envs'][0]
    probe = _probe(torch_version='2.6.0+debian',
                   numpy={'device': 'cpu', 'ok': False, 'missing': True, 'error': "ModuleNotFoundError: No module named 'numpy'"})
    verdict = pe.diagnose(probe, env, CONTAINER)
    assert (verdict['ok'], verdict['layer']) == (False, 'install')
    assert verdict['message'] == (
        "bob/pytorch: NumPy does not import (ModuleNotFoundError: No module named 'numpy'): /usr/lib/python3/dist-packages "
        'has no NumPy; install it there (Debian: python3-numpy) or set pytorch_env_numpy: false')


def test_a_variant_other_than_the_recommendation_says_why(h200_facts):
    # the demo's H200 (recorded capture): cpu from an offline wheelhouse, where the probe recommends cu130
    settings = dict(SETTINGS, variant='cpu', index_url_template='', find_links=['/opt/labops-demo/wheelhouse'],
                    offline=True)
    env = pe.plan_environments([{'user': 'alice', 'envs': [{'name': 'torch'}]}], settings, h200_facts, HOMES)['envs'][0]
    verdict = pe.diagnose(_probe(), env, h200_facts)
    assert (verdict['ok'], verdict['variant'], verdict['recommended_variant']) == (True, 'cpu', 'cu130')
    assert verdict['variant_note'] == (
        'cpu build installed where the probe recommends cu130 (torch 2.13.0 on NVIDIA H200): the variant is set '
        "explicitly (pytorch_env_variant, or the env's variant, is cpu); wheels from the offline find-links "
        '/opt/labops-demo/wheelhouse only. torch uses the CPU here; for the GPU, set variant auto with an index '
        'or wheelhouse holding the cu130 wheels.')
    assert env['check_expect']['recommended_variant'] == 'cu130'


def test_require_cuda_fails_where_the_facts_say_no():
    verdict = pe.diagnose(_probe(), _cpu_env(), CONTAINER, require_cuda=True)
    assert (verdict['ok'], verdict['layer']) == (False, 'device access')
    assert verdict['message'].startswith('bob/pytorch: CUDA is required here, but torch.cuda.is_available() is False')


def test_report_is_stable_and_lists_skipped():
    env = _cpu_env()
    results = [{'ansible_loop_var': '__pytorch_env_env', '__pytorch_env_env': env, 'probe': _probe(), 'changed': False},
               {'ansible_loop_var': '__pytorch_env_env', '__pytorch_env_env': dict(env, user='alice'), 'skipped': True}]
    rep = pe.report(results, 'h1', CONTAINER)
    assert rep == pe.report(results, 'h1', CONTAINER)
    assert (rep['ok'], rep['skipped'], len(rep['envs'])) == (True, ['alice/pytorch'], 1)
    assert rep['summary'][0] == 'h1: gpu_facts status no_gpu'
    assert rep['summary'][1].startswith('OK   bob/pytorch: torch 2.13.0+cpu ok')
    assert rep['summary'][2] == 'SKIP alice/pytorch: not verified (check mode, environment not created yet)'


def test_report_of_one_task_pairs_results_with_the_plans_in_order():
    env = _cpu_env()
    plans = [env, dict(env, user='alice')]
    checks = pe.checks(plans)
    assert checks == [{'user': 'bob', 'python': env['env_python'], 'name': 'pytorch'},
                      {'user': 'alice', 'python': env['env_python'], 'name': 'pytorch'}]
    # what pytorch_env_info returns for envs: one item per check, in its order; the second not created yet
    results = [{'env': checks[0], 'user': 'bob', 'probe': _probe(), 'exit_status': 0, 'stderr': ''},
               {'env': checks[1], 'user': 'alice', 'skipped': True, 'skip_reason': 'no interpreter'}]
    rep = pe.report(results, 'h1', CONTAINER, plans=plans)
    looped = pe.report([{'ansible_loop_var': '__pytorch_env_env', '__pytorch_env_env': plans[0], 'probe': _probe()},
                        {'ansible_loop_var': '__pytorch_env_env', '__pytorch_env_env': plans[1], 'skipped': True}],
                       'h1', CONTAINER)
    assert rep == looped
    assert (rep['ok'], rep['skipped']) == (True, ['alice/pytorch'])
    with pytest.raises(ValueError, match='1 results for 2 environments'):
        pe.report(results[:1], 'h1', CONTAINER, plans=plans)


@pytest.mark.parametrize('text, layer', [
    ('The NVIDIA driver on your system is too old (found version 12070)', 'driver'),
    ('CUDA error: no kernel image is available for execution on the device', 'architecture'),
    ('NVIDIA H200 with CUDA capability sm_90 is not compatible with the current PyTorch installation', 'architecture'),
    ('Found no NVIDIA driver on your system', 'driver'),
    ('CUDA error: operation not permitted', 'device access'),
    ('something else', None),
    (None, None),
])
def test_classify_cuda_error(text, layer):
    assert pe.classify_cuda_error(text) == layer


@pytest.mark.parametrize('local, torch_cuda, variant', [
    ('cu130', '13.0', 'cu130'),      # PyTorch's index: the tag says it
    ('cpu', None, 'cpu'),
    (None, '13.0', 'cu130'),         # PyPI's default wheel (2.11.0): no tag, CUDA 13.0
    (None, '12.6', 'cu126'),
    ('debian', None, 'cpu'),         # Debian's python3-torch 2.6.0+debian, a CPU build
    (None, None, 'cpu'),
])
def test_built_variant(local, torch_cuda, variant):
    assert pe.built_variant(local, torch_cuda) == variant


# ---- live checks (issue #19): the planned wheel exists; the installed wheel covers the GPUs --------

import os  # noqa: E402  pylint: disable=wrong-import-position

KNOWLEDGE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'knowledge')
# the file names of the offline wheelhouse the Molecule scenarios mount as find-links (/opt/wheelhouse; /opt/wheels here)
# (tests/harness/ensure-wheelhouse.sh; listed on this machine, .cache/wheelhouse)
WHEELHOUSE = ['filelock-4.3.1-py3-none-any.whl', 'pip-26.3-py3-none-any.whl', 'sympy-1.14.0-py3-none-any.whl',
              'torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl',
              'markupsafe-3.0.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl',
              'uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl']


def _pypi_torch_page():
    with open(os.path.join(KNOWLEDGE, 'pypi-simple-torch-2.12-2.13-linux.json'), encoding='utf-8') as handle:
        return handle.read()


def _layer(version='2.13.0', variant='cpu', python='3.11', **sources):
    src = {'index_url': 'https://pypi.org/simple', 'torch_index_url': '', 'extra_index_urls': [],
           'find_links': ['/opt/wheels'], 'offline': False}
    src.update(sources)
    return {'key': 'k', 'python': python, 'requirements': pe.requirements(version, variant), 'sources': src}


def _found(directory='/opt/wheels', names=None):
    return [{'ansible_loop_var': '__pytorch_env_dir', '__pytorch_env_dir': directory,
             'files': [{'path': '%s/%s' % (directory, n)} for n in (WHEELHOUSE if names is None else names)]}]


def _page(url, status=200, content=None):
    return {'ansible_loop_var': '__pytorch_env_page', '__pytorch_env_page': url, 'status': status,
            'content': _pypi_torch_page() if content is None else content}


@pytest.mark.parametrize('name, fields', [
    ('torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl',
     ('torch', '2.13.0+cpu', ['cp311'], ['cp311'], ['manylinux_2_28_x86_64'])),
    ('markupsafe-3.0.4-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl',
     ('markupsafe', '3.0.4', ['cp311'], ['cp311'], ['manylinux2014_x86_64', 'manylinux_2_17_x86_64', 'manylinux_2_28_x86_64'])),
    ('torchvision-0.29.2-py3-none-manylinux_2_28_aarch64.whl', ('torchvision', '0.29.2', ['py3'], ['none'], ['manylinux_2_28_aarch64'])),
])
def test_parse_wheel_filename(name, fields):
    info = pe.parse_wheel_filename(name)
    assert (info['project'], info['version'], info['python'], info['abi'], info['platform']) == fields
    assert pe.parse_wheel_filename('torch-2.13.0.tar.gz') is None


@pytest.mark.parametrize('name, python, machine, ok', [
    ('torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl', '3.11', 'x86_64', True),
    ('torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl', '3.12', 'x86_64', False),
    ('torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl', '3.11', 'aarch64', False),
    ('torch-2.13.0-cp314-cp314t-manylinux_2_28_x86_64.whl', '3.14', 'x86_64', False),   # free-threaded build
    ('torchvision-0.29.2-py3-none-manylinux_2_28_aarch64.whl', '3.13', 'arm64', True),
    ('cuda_bindings-13.0.3-cp39-abi3-manylinux_2_28_x86_64.whl', '3.12', 'x86_64', True),
    ('pip-26.3-py3-none-any.whl', '3.11', 'aarch64', True),
])
def test_wheel_fits(name, python, machine, ok):
    assert pe.wheel_fits(pe.parse_wheel_filename(name), python, machine) is ok


def test_simple_page_filenames_json_and_html():
    names = pe.simple_page_filenames(_pypi_torch_page())
    assert 'torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl' in names and len(names) == 26
    # PEP 503 HTML, the form of download.pytorch.org and find-links pages (a local version's '+' is %2B in hrefs)
    html = ('<html><body><a href="/whl/cpu/torch-2.13.0%2Bcpu-cp312-cp312-manylinux_2_28_x86_64.whl#sha256=ab">'
            'torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl</a><br/>'
            '<a href="torch-2.12.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl"></a></body></html>')
    assert pe.simple_page_filenames(html) == ['torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl',
                                              'torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl']
    assert pe.simple_page_filenames('not a page') == []


def test_wheel_sources_in_uv_order():
    layer = _layer(torch_index_url='https://download.pytorch.org/whl/cu130', extra_index_urls=['https://mirror.lab/simple'],
                   find_links=['/opt/wheels', 'file:///srv/wheels', 'https://lab/wheels/'])
    layer['requirements'] = ['torch==2.13.0+cu130', 'torchvision==0.28.0+cu130']
    assert pe.wheel_sources([layer]) == {
        'dirs': ['/opt/wheels', '/srv/wheels'],
        'pages': ['https://lab/wheels/', 'https://download.pytorch.org/whl/cu130/torch/',
                  'https://download.pytorch.org/whl/cu130/torchvision/', 'https://mirror.lab/simple/torch/',
                  'https://mirror.lab/simple/torchvision/', 'https://pypi.org/simple/torch/',
                  'https://pypi.org/simple/torchvision/']}
    assert pe.wheel_sources([_layer(offline=True)]) == {'dirs': ['/opt/wheels'], 'pages': []}


def test_wheel_check_the_molecule_wheelhouse_has_the_planned_wheel():
    check = pe.wheel_check([_layer()], _found(), [_page('https://pypi.org/simple/torch/')], 'x86_64')
    assert check == {'problems': [], 'unchecked': [],
                     'checked': ['torch==2.13.0+cpu for Python 3.11 on x86_64: found in /opt/wheels']}


def test_wheel_check_fails_with_what_exists():
    check = pe.wheel_check([_layer('2.12.0')], _found(), [_page('https://pypi.org/simple/torch/')], 'x86_64')
    assert check['problems'] == [
        'torch==2.12.0+cpu for Python 3.11 on x86_64: no such wheel in /opt/wheels, https://pypi.org/simple/torch/. '
        'They have no torch 2.12.0+cpu at all; for Python 3.11 on x86_64: torch 2.13.0, 2.13.0+cpu, 2.12.0. Pick a '
        'torch_version / python / variant that exists there, or add the wheel to the find-links directory']
    # the wanted version is there, for other interpreters only
    check = pe.wheel_check([_layer(python='3.12')], _found(), [_page('https://pypi.org/simple/torch/')], 'x86_64')
    assert check['problems'][0].startswith('torch==2.13.0+cpu for Python 3.12 on x86_64: no such wheel in /opt/wheels, '
                                           'https://pypi.org/simple/torch/. They have torch 2.13.0+cpu only as cp311, '
                                           'manylinux_2_28_x86_64; for Python 3.12 on x86_64: torch 2.13.0, 2.12.0.')


def test_wheel_check_left_open_when_a_source_does_not_answer():
    # what ansible.builtin.uri registers when the host does not trust the proxy's CA (the Molecule container
    # before ca_trust runs)
    page = dict(_page('https://pypi.org/simple/torch/', status=-1, content=''),
                msg='Status code was -1 and not [200, 404]: Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED]>')
    check = pe.wheel_check([_layer('2.12.0')], _found(), [page], 'x86_64')
    assert check == {'problems': [], 'checked': [], 'unchecked': [
        'torch==2.12.0+cpu for Python 3.11 on x86_64: not checked, https://pypi.org/simple/torch/ did not answer '
        '(Status code was -1 and not [200, 404]: Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED]>)']}


def test_wheel_check_offline_uses_the_find_links_only():
    check = pe.wheel_check([_layer('2.12.0', offline=True)], _found(), [], 'x86_64')
    assert check['problems'][0].startswith('torch==2.12.0+cpu for Python 3.11 on x86_64: no such wheel in /opt/wheels. '
                                           'They have no torch 2.12.0+cpu at all; for Python 3.11 on x86_64: torch 2.13.0+cpu.')


def test_wheel_check_takes_the_first_index_that_lists_the_project():
    # uv's first-index strategy: the torch index has the project, so PyPI's page does not count
    layer = _layer(torch_index_url='https://download.pytorch.org/whl/cu130', find_links=[])
    layer['requirements'] = ['torch==2.13.0+cu130']
    html = '<a href="torch-2.13.0%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl">torch-2.13.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl</a>'
    check = pe.wheel_check([layer], [], [_page('https://download.pytorch.org/whl/cu130/torch/', content=html),
                                         _page('https://pypi.org/simple/torch/')], 'x86_64')
    assert check['problems'][0].startswith('torch==2.13.0+cu130 for Python 3.11 on x86_64: no such wheel in '
                                           'https://download.pytorch.org/whl/cu130/torch/. They have torch 2.13.0+cu130 only as cp312')
    # on aarch64 the same x86_64-only page has nothing either
    layer['python'] = '3.12'
    check = pe.wheel_check([layer], [], [_page('https://download.pytorch.org/whl/cu130/torch/', content=html)], 'aarch64')
    assert 'no torch wheel for Python 3.12 on aarch64' in check['problems'][0]


def test_wheel_check_a_numpy_range_is_met_by_any_wheel_inside_it():
    # the NumPy requirement of a layer is a range (numpy_requirement), not a pin
    layer = _layer(offline=True)
    layer['requirements'] = pe.requirements('2.13.0', 'cpu', numpy=pe.numpy_requirement('2.13.0', '3.11'))
    assert layer['requirements'][-1] == 'numpy>=1.26.2,<3'
    wheels = ['torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl',
              'numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl']
    check = pe.wheel_check([layer], _found(names=wheels), [], 'x86_64')
    assert check['problems'] == [] and check['checked'][-1] == (
        'numpy>=1.26.2,<3 for Python 3.11 on x86_64: found in /opt/wheels')
    # only a NumPy outside the range (and one for another Python): a problem that says what is there
    wheels[1:] = ['numpy-1.24.4-cp311-cp311-manylinux_2_17_x86_64.whl', 'numpy-2.4.6-cp312-cp312-manylinux_2_28_x86_64.whl']
    check = pe.wheel_check([layer], _found(names=wheels), [], 'x86_64')
    assert check['problems'] == [
        'numpy>=1.26.2,<3 for Python 3.11 on x86_64: no such wheel in /opt/wheels. They have numpy >=1.26.2,<3 only as '
        'cp312, manylinux_2_28_x86_64; for Python 3.11 on x86_64: numpy 1.24.4. Pick a torch_version / python / variant '
        'that exists there, or add the wheel to the find-links directory']
    # the index pages are named by the project, not by the whole requirement
    layer['sources']['offline'] = False
    assert 'https://pypi.org/simple/numpy/' in pe.wheel_sources([layer])['pages']


@pytest.mark.parametrize('req, split', [
    ('torch==2.13.0+cpu', ('torch', '2.13.0+cpu')),
    ('numpy>=1.26.2,<3', ('numpy', '>=1.26.2,<3')),
    ('numpy<2', ('numpy', '<2')),
    ('numpy', ('numpy', '')),
])
def test_split_requirement(req, split):
    assert pe._split_requirement(req) == split


H200_ARCH_LIST = ['sm_75', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120']  # misc.txt: torch 2.11.0+cu130 on the H200


def test_arch_coverage_h200_capture(h200_facts, fixture_text):
    probe = _h200_probe(fixture_text)
    assert probe['arch_list'] == H200_ARCH_LIST
    assert pe.arch_coverage(probe, h200_facts) == {
        'problem': None, 'compared': "compute capability 9.0 against the wheel's sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"}


def test_arch_coverage_fails_when_the_host_cc_is_not_covered(fixture_text):
    # the wheel's own list, no table: a GTX 1080 (6.1) with the 2.11.0+cu130 wheel of the capture
    pascal = {'status': 'ok', 'gpus': [{'name': 'NVIDIA GeForce GTX 1080', 'compute_capability': '6.1'}],
              'driver': {'version': '580.95.05'}}
    probe = _h200_probe(fixture_text, devices=[{'index': 0, 'name': 'NVIDIA GeForce GTX 1080', 'capability': '6.1'}])
    result = pe.arch_coverage(probe, pascal)
    assert result['problem'].startswith('torch 2.11.0+cu130 (CUDA 13.0) carries sm_75 sm_80 sm_86 sm_90 sm_100 sm_120; '
                                        'no sm_XY of the same major with a lower or equal minor and no PTX compute_XY '
                                        'at or below 6.1')


@pytest.mark.parametrize('archs, cc, covered', [
    (['sm_80', 'sm_86'], '8.9', True),        # Ada runs sm_86
    (['sm_100', 'sm_120'], '12.1', True),     # GB10 runs sm_120
    (['sm_80', 'compute_80'], '9.0', True),   # PTX JIT forward
    (['sm_80'], '9.0', False),
    (['sm_90', 'compute_90'], '8.9', False),  # PTX never runs backwards
])
def test_arch_coverage_binary_rule(archs, cc, covered):
    probe = _probe(torch_version='2.13.0+cu130', torch_cuda='13.0', arch_list=archs,
                   devices=[{'index': 0, 'name': 'GPU', 'capability': cc}])
    assert (pe.arch_coverage(probe, None)['problem'] is None) is covered


def test_arch_coverage_without_gpu_or_cuda_says_what_it_compared():
    assert pe.arch_coverage(_probe(), CONTAINER) == {
        'problem': None, 'compared': 'nothing: a CPU build of torch has no CUDA architectures'}
    # a CUDA wheel on a host without GPU: get_arch_list() is [], the arch flags are read instead
    probe = _probe(torch_version='2.13.0+cu130', torch_cuda='13.0', arch_list=[], arch_flags=H200_ARCH_LIST)
    assert pe.arch_coverage(probe, CONTAINER)['compared'] == (
        'nothing: no GPU on this host (the wheel covers sm_75 sm_80 sm_86 sm_90 sm_100 sm_120)')


def test_diagnose_names_the_architecture_layer(h200_facts, fixture_text):
    # CUDA is available but the wheel lacks sm_90: the verdict is architecture, before anything else runs
    verdict = pe.diagnose(_h200_probe(fixture_text, arch_list=['sm_100', 'sm_120']), _h200_env(h200_facts), h200_facts)
    assert (verdict['ok'], verdict['layer']) == (False, 'architecture')
    assert verdict['message'].startswith('ubuntu/pytorch: torch 2.11.0+cu130 (CUDA 13.0) carries sm_100 sm_120')
    ok = pe.diagnose(_h200_probe(fixture_text), _h200_env(h200_facts), h200_facts)
    assert ok['arch_check'] == "compute capability 9.0 against the wheel's sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"


def test_probe_source_reads_the_arch_flags_of_a_cuda_build(tmp_path):
    # stand-in torch module shaped like a CUDA build on a host without GPU: get_arch_list() [] (as torch returns
    # when CUDA is not available), torch._C._cuda_getArchFlags() the build's flags
    (tmp_path / 'torch').mkdir()
    (tmp_path / 'torch' / '__init__.py').write_text(
        '__version__ = "2.13.0+cu130"\n'
        'class version: cuda = "13.0"\n'
        'class _C:\n    @staticmethod\n    def _cuda_getArchFlags(): return "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"\n'
        'class cuda:\n    @staticmethod\n    def get_arch_list(): return []\n'
        '    @staticmethod\n    def is_available(): return False\n'
        '    @staticmethod\n    def init(): raise RuntimeError("Found no NVIDIA driver on your system")\n'
        'def ones(*a, **k): raise RuntimeError("stand-in")\n')
    import subprocess
    import sys
    # the check file as it is shipped to the hosts (dlstack-check, and the role's verification)
    from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env_check as check
    out = subprocess.run([sys.executable, check.__file__, '--json', '--no-expect'], capture_output=True, text=True,
                         check=False, env={'PYTHONPATH': str(tmp_path), 'PATH': '/usr/bin:/bin'})
    result = json.loads(out.stdout)
    assert (result['arch_list'], result['arch_flags']) == ([], H200_ARCH_LIST)


def test_plan_names_what_the_fast_path_compares():
    """The state of labops.dlstack.converged: the layer's tree, the files the role writes per environment (the
    Jupyter kernel only where asked), the shared check, and each environment's interpreter."""
    plan = pe.plan_environments([{'user': 'alice', 'envs': [{'name': 'torch', 'jupyter_kernel': True}]},
                                 {'user': 'bob'}], SETTINGS, CONTAINER, HOMES)
    assert plan['state']['trees'] == [plan['layers'][0]['dir']]
    assert plan['state']['exists'] == ['/home/alice/.venvs/torch/bin/python', '/home/bob/.venvs/pytorch/bin/python']
    assert plan['state']['files'] == [
        '/opt/labops-dlstack/pytorch/dlstack_check.py',
        '/home/alice/.venvs/torch/lib/python3.11/site-packages/labops-dlstack-pytorch.pth',
        '/home/alice/.venvs/torch/bin/dlstack-check',
        '/home/alice/.venvs/torch/labops-dlstack-check.json',
        '/home/alice/.local/share/jupyter/kernels/pytorch-torch/kernel.json',
        '/home/bob/.venvs/pytorch/lib/python3.11/site-packages/labops-dlstack-pytorch.pth',
        '/home/bob/.venvs/pytorch/bin/dlstack-check',
        '/home/bob/.venvs/pytorch/labops-dlstack-check.json',
    ]
    private = pe.plan_environments([{'user': 'bob'}], dict(SETTINGS, shared_check=False), CONTAINER, HOMES)
    assert private['state']['files'][0] == '/home/bob/.venvs/pytorch/lib/python3.11/site-packages/labops-dlstack-pytorch.pth'
    assert private['state']['files'][-1] == '/home/bob/.venvs/pytorch/share/labops-dlstack/dlstack_check.py'

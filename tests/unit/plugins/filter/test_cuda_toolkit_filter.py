# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cuda_toolkit filter plugin: argument checks and the hand-over to _cuda_toolkit."""

from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.filter import cuda_toolkit as flt


def test_filters_registered():
    assert sorted(flt.FilterModule().filters()) == ['cuda_toolkit_arch_check', 'cuda_toolkit_nvcc_release', 'cuda_toolkit_plan']


def test_plan_through_the_filter():
    gpu = {'status': 'no_gpu', 'gpus': [], 'driver': {'installed': False, 'version': None}}
    plan = flt.cuda_toolkit_plan(gpu, source='distro', versions=[], default_version=None,
                                 distribution='Debian', major_version='13')
    assert plan['errors'] == []
    assert plan['versions'] == ['12.4']
    assert plan['build_only'] is True


@pytest.mark.parametrize('kwargs, message', [
    ({'gpu': 'no_gpu'}, "cuda_toolkit_plan: the input must be ansible_facts['dlstack_gpu'] (a dict), got 'no_gpu'"),
    ({'gpu': {}, 'versions': '12.8'}, "cuda_toolkit_plan: versions must be a list, got '12.8'"),
    ({'gpu': {}, 'installed': ['12.8']}, "cuda_toolkit_plan: installed must be a dict of version -> home, got ['12.8']"),
])
def test_plan_rejects_bad_arguments(kwargs, message):
    with pytest.raises(AnsibleFilterError) as err:
        flt.cuda_toolkit_plan(**kwargs)
    assert str(err.value) == message


def test_nvcc_release_filter():
    assert flt.cuda_toolkit_nvcc_release('Cuda compilation tools, release 11.8, V11.8.89') == '11.8'


def test_arch_check_through_the_filter():
    # `nvcc --list-gpu-arch` of Debian 12's nvidia-cuda-toolkit 11.8 (tests/unit/fixtures/nvcc), on the H200 host
    with open(os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'nvcc', 'list-gpu-arch-11.8-debian12.txt'),
              encoding='utf-8') as handle:
        text = handle.read()
    gpu = {'status': 'ok', 'gpus': [{'name': 'NVIDIA H200', 'compute_capability': '9.0'}]}
    result = flt.cuda_toolkit_arch_check(text, '11.8', gpu)
    assert (result['version'], result['listed'][0], result['listed'][-1], result['problems']) == ('11.8', '3.5', '9.0', [])
    gpu['gpus'].append({'name': 'NVIDIA B200', 'compute_capability': '10.0'})
    assert flt.cuda_toolkit_arch_check(text, '11.8', gpu)['problems'][0].startswith(
        'CUDA 11.8: nvcc --list-gpu-arch has no compute_100 for NVIDIA B200 (10.0, Blackwell)')
    with pytest.raises(AnsibleFilterError):
        flt.cuda_toolkit_arch_check(text, '11.8', ['not a dict'])


def test_plan_reads_the_toolkits_found_from_the_registered_nvcc_loop():
    from ansible_collections.labops.dlstack.plugins.module_utils import _cuda_toolkit as ct
    release_13 = 'nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 13.0, V13.0.88\n'
    reads = [{'rc': 0, 'stdout': release_13, '__cuda_toolkit_dir': '/usr/local/cuda-13.0'},
             {'rc': 127, 'stdout': '', '__cuda_toolkit_dir': '/usr/local/cuda-12.9'},  # no working nvcc
             {'rc': 0, 'stdout': 'garbage', '__cuda_toolkit_dir': '/usr/local/cuda-12.8'},  # names no release
             {'skipped': True}]
    assert ct.installed_from_reads(reads) == {'13.0': '/usr/local/cuda-13.0'}
    assert ct.link_target({'islnk': True, 'lnk_source': '/usr/local/cuda-13.0'}) == '/usr/local/cuda-13.0'
    assert ct.link_target({'islnk': False, 'exists': True}) is None
    assert ct.link_target({}) is None and ct.link_target(None) is None

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the cuda_toolkit role (plugins/module_utils/_cuda_toolkit.py)."""

from __future__ import annotations

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _cuda_toolkit as ct

# ansible_facts['dlstack_gpu'] of the reference GPU host, transcribed from the recorded capture
# tests/unit/fixtures/gpu/h200-driver580 (nvidia-smi -q / query_gpu_all.csv: NVIDIA H200, 0x2335,
# CC 9.0, driver 580.159.04, open kernel module, CUDA 13.0). Only the fields the role reads.
H200 = {
    'status': 'ok',
    'gpus': [{'index': 0, 'name': 'NVIDIA H200', 'pci_device_id': '0x2335', 'compute_capability': '9.0',
              'architecture': 'Hopper'}],
    'driver': {'installed': True, 'loaded': True, 'version': '580.159.04', 'branch': 580,
               'kernel_module': 'open', 'cuda_version': '13.0'},
    'in_container': False,
}

# What gpu_facts returns in the molecule containers: no GPU, no driver.
CONTAINER = {
    'status': 'no_gpu', 'gpus': [], 'in_container': True,
    'driver': {'installed': False, 'loaded': False, 'version': None, 'branch': None,
               'kernel_module': None, 'cuda_version': None},
}


def _driver(version, status='ok'):
    facts = dict(H200)
    facts['status'] = status
    facts['driver'] = dict(H200['driver'], version=version)
    return facts


@pytest.mark.parametrize('text, expected', [
    ('nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 11.8, V11.8.89\n', '11.8'),
    ('Cuda compilation tools, release 12.4, V12.4.131\nBuild cuda_12.4.r12.4/compiler.34097967_0', '12.4'),
    ('Cuda compilation tools, release 13.0, V13.0.48', '13.0'),
    ('bash: nvcc: command not found', None),
    ('', None),
    (None, None),
])
def test_nvcc_release(text, expected):
    assert ct.nvcc_release(text) == expected


@pytest.mark.parametrize('version, expected', [
    ('11.0', 9), ('11.4', 10), ('11.5', 11), ('11.8', 11), ('12.0', 12), ('12.3', 12), ('12.4', 13),
    ('12.6', 13), ('12.8', 14), ('13.0', 14), ('10.2', None),
])
def test_max_gcc(version, expected):
    assert ct.max_gcc(version) == expected


@pytest.mark.parametrize('version, dist, major, expected', [
    # the platform's g++ is accepted
    ('12.8', 'Debian', '12', {'packages': ['g++'], 'ccbin': None, 'error': None}),
    ('13.0', 'Ubuntu', '24', {'packages': ['g++'], 'ccbin': None, 'error': None}),
    ('12.8', 'Debian', '13', {'packages': ['g++'], 'ccbin': None, 'error': None}),
    # Debian 13's GCC 14 is too new for CUDA 12.4 / 12.0: an older g++ from the archive, given with -ccbin
    ('12.4', 'Debian', '13', {'packages': ['g++-13'], 'ccbin': '/usr/bin/g++-13', 'error': None}),
    ('12.0', 'Debian', '13', {'packages': ['g++-12'], 'ccbin': '/usr/bin/g++-12', 'error': None}),
    ('11.8', 'Ubuntu', '24', {'packages': ['g++-11'], 'ccbin': '/usr/bin/g++-11', 'error': None}),
    ('11.8', 'Debian', '13', {'packages': [], 'ccbin': None,
                              'error': 'CUDA 11.8 needs GCC 11 or older as host compiler; Debian 13 offers g++ 12, 13, 14 only'}),
])
def test_host_compiler(version, dist, major, expected):
    assert ct.host_compiler(version, dist, major) == expected


def test_distro_plan_debian12_container_is_build_only():
    plan = ct.plan(CONTAINER, 'distro', [], '', False, False, False, 'Debian', '12')
    assert plan['errors'] == []
    assert plan['versions'] == ['11.8']
    assert plan['default'] == '11.8'
    assert plan['packages'] == ['nvidia-cuda-toolkit', 'nvidia-cuda-toolkit-gcc']
    assert 'apt_components' not in plan  # the archive components are labops.dlstack.apt_components' own data
    assert plan['build_only'] is True
    assert plan['run_on_gpu'] is False
    assert plan['needs_repo'] is False
    assert plan['manage_link'] is False
    assert plan['path_dirs'] == ['/usr/lib/nvidia-cuda-toolkit/bin']
    assert plan['library_dirs'] == []
    assert plan['cuda_home'] == '/usr'
    assert plan['toolkits'] == [{
        'version': '11.8', 'home': '/usr/lib/nvidia-cuda-toolkit', 'nvcc': '/usr/lib/nvidia-cuda-toolkit/bin/nvcc',
        'bin_dir': '/usr/lib/nvidia-cuda-toolkit/bin', 'library_dir': None, 'ccbin': None, 'install': True,
        'packages': ['nvidia-cuda-toolkit', 'nvidia-cuda-toolkit-gcc']}]
    assert plan['notes'] == ['no NVIDIA driver on this host (gpu_facts status: no_gpu): the toolkit is installed '
                             'for building only; no driver check, no GPU run']


def test_distro_plan_debian13_with_nccl_and_cudnn():
    plan = ct.plan(CONTAINER, 'distro', ['12.4'], '12.4', False, True, True, 'Debian', '13')
    assert plan['errors'] == []
    assert plan['versions'] == ['12.4']
    assert plan['packages'] == ['nvidia-cuda-toolkit', 'nvidia-cuda-toolkit-gcc', 'nvidia-cudnn',
                                'libnccl2', 'libnccl-dev']


def test_distro_plan_refuses_other_version():
    plan = ct.plan(CONTAINER, 'distro', ['12.8'], '', False, False, False, 'Debian', '12')
    assert plan['errors'] == [
        "cuda_toolkit_versions: Debian 12's nvidia-cuda-toolkit is CUDA 11.8, the only version the distro source "
        "offers (asked for 12.8); use cuda_toolkit_source: nvidia for other versions"]
    assert plan['packages'] == []


def test_distro_plan_refuses_nccl_where_the_archive_has_none():
    plan = ct.plan(CONTAINER, 'distro', [], '', False, False, True, 'Debian', '12')
    assert plan['errors'] == ["cuda_toolkit_nccl: Debian 12's archive offers no NCCL package (libnccl2); "
                              "use cuda_toolkit_source: nvidia"]


def test_distro_plan_unknown_platform():
    plan = ct.plan(CONTAINER, 'distro', [], '', False, False, False, 'Fedora', '42')
    assert plan['errors'] == ['cuda_toolkit_source: distro: no CUDA toolkit package is known for Fedora 42 '
                              '(known: Debian 12, Debian 13, Ubuntu 22.04, Ubuntu 24.04); use cuda_toolkit_source: nvidia']


def test_ubuntu_major_version_maps_to_release():
    assert ct.distro_toolkit('Ubuntu', '24')['cuda'] == '12.0'
    assert ct.distro_toolkit('Ubuntu', '22')['cuda'] == '11.5'


def test_reference_host_cuda13_already_installed_changes_nothing():
    # H200, driver 580.159.04, CUDA 13.0 in /usr/local/cuda-13.0 and /usr/local/cuda pointing at it.
    plan = ct.plan(H200, 'nvidia', ['13.0'], '', False, False, False, 'Ubuntu', '24',
                   installed={'13.0': '/usr/local/cuda-13.0'}, cuda_link='/usr/local/cuda-13.0')
    assert plan['errors'] == []
    assert plan['build_only'] is False
    assert plan['run_on_gpu'] is True
    assert plan['needs_repo'] is False       # no repository set up
    assert plan['manage_link'] is False      # /usr/local/cuda left alone
    assert plan['toolkits'][0]['install'] is False
    assert plan['toolkits'][0]['packages'] == []
    assert plan['packages'] == ['g++']       # the host compiler only (already there on a build host)
    assert plan['notes'] == ['CUDA 13.0 is already installed in /usr/local/cuda-13.0: left as it is']


def test_reference_host_empty_versions_means_the_drivers_cuda():
    plan = ct.plan(H200, 'nvidia', [], '', False, False, False, 'Ubuntu', '24',
                   installed={'13.0': '/usr/local/cuda-13.0'}, cuda_link='/usr/local/cuda-13.0')
    assert plan['errors'] == []
    assert plan['versions'] == ['13.0']
    assert plan['needs_repo'] is False
    assert plan['notes'][0] == 'cuda_toolkit_versions is empty: CUDA 13.0, the newest driver 580.159.04 runs natively'


def test_nvidia_side_by_side_fresh_host():
    plan = ct.plan(H200, 'nvidia', ['13.0', '12.8'], '12.8', False, True, True, 'Debian', '12')
    assert plan['errors'] == []
    assert plan['versions'] == ['12.8', '13.0']
    assert plan['default'] == '12.8'
    assert plan['packages'] == ['cuda-toolkit-12-8', 'g++', 'cuda-toolkit-13-0',
                                'libcudnn9-cuda-12', 'libcudnn9-dev-cuda-12', 'libcudnn9-cuda-13', 'libcudnn9-dev-cuda-13',
                                'libnccl2=*+cuda12.*', 'libnccl-dev=*+cuda12.*']
    assert plan['needs_repo'] is True
    assert plan['manage_link'] is True
    assert plan['link_target'] == '/usr/local/cuda-12.8'
    assert [(t['home'], t['priority'], t['library_dir']) for t in plan['toolkits']] == [
        ('/usr/local/cuda-12.8', 1208, '/usr/local/cuda-12.8/lib64'),
        ('/usr/local/cuda-13.0', 1300, '/usr/local/cuda-13.0/lib64')]
    assert plan['path_dirs'] == ['/usr/local/cuda/bin']
    assert plan['library_dirs'] == ['/usr/local/cuda/lib64']
    assert plan['cuda_home'] == '/usr/local/cuda'
    assert plan['nvcc_prepend_flags'] == ''


def test_nvidia_default_needing_older_gcc_sets_prepend_flags():
    plan = ct.plan(CONTAINER, 'nvidia', ['12.4'], '', False, False, False, 'Debian', '13')
    assert plan['errors'] == []
    assert plan['packages'] == ['cuda-toolkit-12-4', 'g++-13']
    assert plan['nvcc_prepend_flags'] == '-ccbin /usr/bin/g++-13'


def test_driver_too_old_is_refused_with_minimum_driver():
    # R520 runs CUDA 11.x; CUDA 12.4 needs 525.60.13 (12.x minor-version compatibility).
    plan = ct.plan(_driver('520.61.05'), 'nvidia', ['11.8', '12.4'], '', False, False, False, 'Ubuntu', '22')
    assert plan['errors'] == [
        'cuda_toolkit_versions: CUDA 12.4 needs NVIDIA driver 525.60.13 or newer (550.54.14 for every feature of 12.4, '
        'the driver of its release); this host runs 520.61.05, which runs CUDA up to 11.8. Upgrade the driver '
        '(labops.dlstack.nvidia_driver), ask for an older toolkit, or set cuda_toolkit_build_only: true on a host '
        'that only compiles']


def test_driver_580_refuses_cuda_13_1_minor_compat_accepts_13_x():
    # 13.x minor-version compatibility: 580.65.06 runs every 13.x, so 13.1 on R580 is accepted.
    plan = ct.plan(H200, 'nvidia', ['13.1'], '', False, False, False, 'Ubuntu', '24')
    assert plan['errors'] == []
    # driver 535 cannot run CUDA 13.0
    plan = ct.plan(_driver('535.104.05'), 'nvidia', ['13.0'], '', False, False, False, 'Ubuntu', '24')
    assert len(plan['errors']) == 1
    assert plan['errors'][0].startswith('cuda_toolkit_versions: CUDA 13.0 needs NVIDIA driver 580.65.06 or newer;')


def test_build_only_skips_the_driver_check():
    plan = ct.plan(_driver('535.104.05'), 'nvidia', ['13.0'], '', True, False, False, 'Ubuntu', '24')
    assert plan['errors'] == []
    assert plan['build_only'] is True
    assert plan['run_on_gpu'] is False


def test_driver_installed_but_gpu_not_usable_compiles_only():
    plan = ct.plan(_driver('580.159.04', status='driver_not_loaded'), 'nvidia', ['13.0'], '', False, False, False,
                   'Ubuntu', '24')
    assert plan['errors'] == []
    assert plan['build_only'] is False
    assert plan['run_on_gpu'] is False
    assert plan['notes'] == ['gpu_facts status driver_not_loaded: the test program is compiled, not run']


def test_nvidia_without_driver_needs_explicit_versions():
    plan = ct.plan(CONTAINER, 'nvidia', [], '', False, False, False, 'Debian', '12')
    assert plan['errors'] == ['cuda_toolkit_versions: empty, and this host has no NVIDIA driver to choose a version '
                              'for; list the versions to install, for example ["12.8"]']


@pytest.mark.parametrize('versions, default, expected', [
    (['12'], '', 'cuda_toolkit_versions: \'12\': each item must be a quoted "X.Y" string such as "12.8"'),
    ([12.8], '', 'cuda_toolkit_versions: 12.8: each item must be a quoted "X.Y" string such as "12.8"'),
    (['12.8', '12.8'], '', "cuda_toolkit_versions: ['12.8', '12.8'] lists a version twice"),
    (['12.8'], '13', 'cuda_toolkit_default_version: \'13\' must be "" or a quoted "X.Y" string'),
    (['12.8'], '13.0', 'cuda_toolkit_default_version: 13.0 is not in cuda_toolkit_versions (12.8)'),
])
def test_bad_input(versions, default, expected):
    plan = ct.plan(CONTAINER, 'nvidia', versions, default, False, False, False, 'Debian', '12')
    assert plan['errors'] == [expected]
    assert plan['packages'] == []


def test_unknown_source():
    plan = ct.plan(CONTAINER, 'runfile', [], '', False, False, False, 'Debian', '12')
    assert plan['errors'] == ["cuda_toolkit_source: 'runfile' is not one of distro, nvidia"]


def test_link_already_on_default_is_not_managed():
    plan = ct.plan(CONTAINER, 'nvidia', ['12.8'], '', False, False, False, 'Debian', '12',
                   installed={}, cuda_link='/usr/local/cuda-12.8')
    assert plan['manage_link'] is False
    plan = ct.plan(CONTAINER, 'nvidia', ['12.8'], '', False, False, False, 'Debian', '12',
                   installed={}, cuda_link='/usr/local/cuda-12.6')
    assert plan['manage_link'] is True


def test_never_the_cuda_meta_package():
    plan = ct.plan(H200, 'nvidia', ['12.6', '12.8', '13.0'], '', False, False, False, 'Ubuntu', '24')
    assert 'cuda' not in plan['packages']
    assert [p for p in plan['packages'] if p.startswith('cuda')] == ['cuda-toolkit-12-6', 'cuda-toolkit-12-8',
                                                                     'cuda-toolkit-13-0']


# ---- issue #19 row 4 and the live architecture check ---------------------------------------------

import os  # noqa: E402  pylint: disable=wrong-import-position

NVCC = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'nvcc')


def _nvcc(name):
    # the real `nvcc --list-gpu-arch` of Debian's toolkits (tests/unit/fixtures/nvcc/README.md)
    with open(os.path.join(NVCC, name), encoding='utf-8') as handle:
        return handle.read()


def _host(*gpus, driver='580.159.04'):
    facts = _driver(driver)
    facts['gpus'] = [{'index': i, 'name': name, 'compute_capability': cc} for i, (name, cc) in enumerate(gpus)]
    return facts


V100 = ('Tesla V100-SXM2-32GB', '7.0')
GTX1080 = ('NVIDIA GeForce GTX 1080', '6.1')
P100 = ('Tesla P100-PCIE-16GB', '6.0')


@pytest.mark.parametrize('gpu', [V100, GTX1080, P100])
def test_pre_turing_on_r580_gets_12_9_not_13_0(gpu):
    # issue #19 row 4: CUDA 13.0 removed offline compilation for Maxwell/Pascal/Volta (nvcc --list-gpu-arch starts
    # at compute_75); the newest toolkit is the newest the driver runs AND every GPU can be compiled for: 12.9
    plan = ct.plan(_host(gpu), source='nvidia', versions=[], distribution='Debian', major_version='12')
    assert (plan['errors'], plan['versions']) == ([], ['12.9'])
    assert plan['notes'][0].startswith('cuda_toolkit_versions is empty: CUDA 12.9, the newest that driver 580.159.04 runs '
                                       'and that compiles for %s (%s, ' % gpu)


def test_explicit_13_on_volta_fails_naming_the_gpu():
    plan = ct.plan(_host(V100, ('NVIDIA H200', '9.0')), source='nvidia', versions=['12.9', '13.0'],
                   distribution='Debian', major_version='12')
    assert plan['errors'] == [
        'cuda_toolkit_versions: CUDA 13.0 cannot compile for Tesla V100-SXM2-32GB (7.0, Volta): CUDA 13.0 compiles for '
        'compute capability 7.5 and newer (its nvcc --list-gpu-arch has no compute_70). Ask for an older toolkit (12.9 is '
        'the newest that compiles for it; CUDA 13.0 removed Maxwell, Pascal and Volta); or set cuda_toolkit_build_only: '
        'true to build for other GPUs only']
    # build-only hosts may build for other GPUs
    assert ct.plan(_host(V100), source='nvidia', versions=['13.0'], build_only=True, distribution='Debian',
                   major_version='12')['errors'] == []


def test_distro_toolkit_too_old_for_blackwell_is_refused():
    # Debian 12's nvidia-cuda-toolkit is 11.8; Blackwell (10.0) needs CUDA 12.8 (ARCHITECTURES min_cuda)
    plan = ct.plan(_host(('NVIDIA B200', '10.0')), source='distro', distribution='Debian', major_version='12')
    assert plan['errors'] == [
        'cuda_toolkit_versions: CUDA 11.8 cannot compile for NVIDIA B200 (10.0, Blackwell): needs CUDA 12.8 or newer '
        '(its nvcc --list-gpu-arch has no compute_100). Ask for CUDA 12.8 or newer (cuda_toolkit_source: nvidia); or set '
        'cuda_toolkit_build_only: true to build for other GPUs only']


def test_h200_still_gets_13_0():
    plan = ct.plan(H200, source='nvidia', versions=[], distribution='Debian', major_version='12')
    assert plan['versions'] == ['13.0']
    assert plan['gpus'] == [{'name': 'NVIDIA H200', 'compute_capability': '9.0'}]


def test_cudnn_missing_from_nvidias_debian13_repository():
    # issue #19 row 7: "cudnn9 is missing from NVIDIA's debian13 repository"; NVIDIA/cuda-repo-management#32:
    # "The cudnn9 packages are missing from the repository" (NVIDIA: "This is expected")
    plan = ct.plan(H200, source='nvidia', versions=['13.0'], cudnn=True, distribution='Debian', major_version='13')
    assert plan['errors'] == [
        "cuda_toolkit_cudnn: NVIDIA's Debian 13 repository has no cuDNN 9 (libcudnn9-cuda-*); install cuDNN from pip "
        "(nvidia-cudnn-cu12 / -cu13) or the tarball, or set cuda_toolkit_cudnn: false"]
    plan = ct.plan(H200, source='nvidia', versions=['13.0'], cudnn=True, distribution='Debian', major_version='12')
    assert 'libcudnn9-cuda-13' in plan['packages']


def test_parse_nvcc_arch_list_of_real_toolkits():
    assert ct.parse_nvcc_arch_list(_nvcc('list-gpu-arch-11.8-debian12.txt')) == [
        '3.5', '3.7', '5.0', '5.2', '5.3', '6.0', '6.1', '6.2', '7.0', '7.2', '7.5', '8.0', '8.6', '8.7', '8.9', '9.0']
    assert ct.parse_nvcc_arch_list(_nvcc('list-gpu-arch-12.4-debian13.txt'))[0] == '5.0'
    assert ct.parse_nvcc_arch_list('compute_90\ncompute_90a\ncompute_100f\n') == ['9.0', '10.0']


def test_nvcc_lists_every_gpu():
    listed = ct.parse_nvcc_arch_list(_nvcc('list-gpu-arch-12.4-debian13.txt'))
    ok = ct.nvcc_arch_problems('12.4', listed, [('NVIDIA H200', '9.0'), ('Tesla V100-SXM2-32GB', '7.0')])
    assert ok == {'problems': [], 'compared': 'the GPUs of this host: NVIDIA H200 (9.0, Hopper), Tesla V100-SXM2-32GB (7.0, Volta)'}
    bad = ct.nvcc_arch_problems('12.4', listed, [('NVIDIA GB10', '12.1')])
    assert bad['problems'] == ['CUDA 12.4: nvcc --list-gpu-arch has no compute_121 for NVIDIA GB10 (12.1, Blackwell); it lists '
                               'compute_50, compute_52, compute_53, compute_60, compute_61, compute_62, compute_70, compute_72, '
                               'compute_75, compute_80, compute_86, compute_87, compute_89, compute_90']


@pytest.mark.parametrize('version, fixture', [('11.8', 'list-gpu-arch-11.8-debian12.txt'), ('12.4', 'list-gpu-arch-12.4-debian13.txt')])
def test_no_gpu_compares_nvcc_with_the_table(version, fixture):
    listed = ct.parse_nvcc_arch_list(_nvcc(fixture))
    result = ct.nvcc_arch_problems(version, listed, [])
    assert result['problems'] == []
    assert result['compared'].startswith("no GPU on this host: nvcc's list (compute_%s .. compute_90, %d entries) against "
                                         "the collection's table for CUDA %s (" % (listed[0].replace('.', ''), len(listed), version))


def test_no_gpu_a_table_claim_nvcc_does_not_list_is_a_problem():
    listed = [cc for cc in ct.parse_nvcc_arch_list(_nvcc('list-gpu-arch-11.8-debian12.txt')) if cc != '3.5']
    result = ct.nvcc_arch_problems('11.8', listed, [])
    assert result['problems'] == [
        "CUDA 11.8: the collection's tables say it compiles for compute_35, but nvcc --list-gpu-arch does not list them "
        "(it lists compute_37, compute_50, compute_52, compute_53, compute_60, compute_61, compute_62, compute_70, compute_72, compute_75, "
        "compute_80, compute_86, compute_87, compute_89, compute_90): the table in _gpu_knowledge.py is wrong"]

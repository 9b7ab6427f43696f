# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the nvidia_driver role (plugins/module_utils/_nvidia_driver.py).

GPU facts are the shape labops.dlstack.gpu_facts returns. The H200 host is the recorded capture
tests/unit/fixtures/gpu/h200-driver580 (NVIDIA H200, 0x2335, 9.0, Hopper, 580.159.04, open kernel
module, CUDA 13.0); the test checks the capture still says so before using those values. Other GPUs
are written as the probe would report them (architecture + compute capability + PCI id).
apt-cache output for Debian 12 is a recording from a Debian 12 container with non-free enabled.
"""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _nvidia_driver as nd
from ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge import requirements_for_gpus

# `apt-cache policy nvidia-smi libcuda1 nvidia-tesla-999-smi nvidia-kernel-dkms linux-headers-6.1.0-99-amd64`
# in labops-dlstack/debian:12 with non-free enabled: unknown names are simply not listed.
APT_POLICY_DEBIAN12 = """nvidia-smi:
  Installed: (none)
  Candidate: 535.261.03-1
  Version table:
     535.261.03-1 500
        500 http://deb.debian.org/debian bookworm/non-free amd64 Packages
libcuda1:
  Installed: (none)
  Candidate: 535.261.03-1
  Version table:
     535.261.03-1 500
        500 http://deb.debian.org/debian bookworm/non-free amd64 Packages
nvidia-kernel-dkms:
  Installed: (none)
  Candidate: 535.261.03-1
  Version table:
     535.261.03-1 500
        500 http://deb.debian.org/debian bookworm/non-free amd64 Packages
"""


def _gpu(name, dev, cc, arch, status='driver_not_installed', **driver):
    gpus = [{'index': None, 'name': name, 'pci_bus_id': '0000:01:00.0', 'pci_device_id': dev, 'uuid': None,
             'memory_total_mib': None, 'compute_capability': cc, 'architecture': arch, 'mig_mode': None,
             'bound_driver': 'none'}]
    drv = {'installed': False, 'loaded': False, 'version': None, 'branch': None, 'kernel_module': None,
           'cuda_version': None}
    drv.update(driver)
    return {'status': status, 'message': 'recorded', 'gpus': gpus, 'gpu_count': 1, 'driver': drv,
            'nouveau_loaded': False, 'secure_boot': 'disabled', 'in_container': False,
            'requirements': requirements_for_gpus(gpus)}


H200_CAPTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'gpu', 'h200-driver580',
                            'query_gpu_all_nounits.csv')


@pytest.fixture
def h200():
    with open(H200_CAPTURE, encoding='utf-8') as handle:
        text = handle.read()
    for value in ('NVIDIA H200', '580.159.04', '9.0'):
        assert value in text
    facts = _gpu('NVIDIA H200', '0x2335', '9.0', 'Hopper', status='ok', installed=True, loaded=True,
                 version='580.159.04', branch=580, kernel_module='open', cuda_version='13.0')
    facts['gpus'][0].update({'index': 0, 'bound_driver': 'nvidia', 'uuid': 'GPU-19bcf0bb-def5-ad97-5081-496820ff8ff3'})
    return facts


NO_GPU_CONTAINER = {'status': 'no_gpu', 'message': 'no NVIDIA GPU', 'gpus': [], 'gpu_count': 0,
                    'driver': {'installed': False, 'loaded': False, 'version': None, 'branch': None,
                               'kernel_module': None, 'cuda_version': None},
                    'nouveau_loaded': False, 'secure_boot': 'unknown', 'in_container': True,
                    'requirements': requirements_for_gpus([])}
HOPPER = _gpu('NVIDIA H100 80GB HBM3', '0x2330', '9.0', 'Hopper', status='nouveau_bound')
PASCAL = _gpu('Tesla P100-PCIE-16GB', '0x15f8', '6.0', 'Pascal')
BLACKWELL = _gpu('NVIDIA B200', '0x2901', '10.0', 'Blackwell')


def _ubuntu_available(branch=580, server=True, kernel='6.8.0-50-generic', precompiled=True, flavour='open'):
    sfx = '-server' if server else ''
    opn = '-open' if flavour == 'open' else ''
    names = ['nvidia-utils-%d%s' % (branch, sfx), 'libnvidia-compute-%d%s' % (branch, sfx),
             'nvidia-compute-utils-%d%s' % (branch, sfx), 'nvidia-headless-%d%s%s' % (branch, sfx, opn),
             'linux-headers-%s' % kernel]
    if precompiled:
        names += ['nvidia-headless-no-dkms-%d%s%s' % (branch, sfx, opn),
                  'linux-modules-nvidia-%d%s%s-%s' % (branch, sfx, opn, kernel)]
    return dict((n, '%d.95.05-0ubuntu1' % branch) for n in names)


# ---------------------------------------------------------------------------------------------------
# helpers

def test_parse_apt_cache_policy_recorded_debian12():
    assert nd.parse_apt_cache_policy(APT_POLICY_DEBIAN12) == {
        'nvidia-smi': '535.261.03-1', 'libcuda1': '535.261.03-1', 'nvidia-kernel-dkms': '535.261.03-1'}


def test_parse_apt_cache_policy_candidate_none():
    assert nd.parse_apt_cache_policy('foo:\n  Installed: (none)\n  Candidate: (none)\n') == {'foo': None}


@pytest.mark.parametrize('dist,ver,arch,expected', [
    ('Debian', '12', 'x86_64', 'debian12/x86_64'),
    ('Debian', '13.1', 'x86_64', 'debian13/x86_64'),
    ('Ubuntu', '22.04', 'x86_64', 'ubuntu2204/x86_64'),
    ('Ubuntu', '24.04', 'aarch64', 'ubuntu2404/sbsa'),
    ('Ubuntu', '20.04', 'x86_64', None),
    ('Debian', '12', 'ppc64le', None),
])
def test_cuda_repo_path(dist, ver, arch, expected):
    assert nd.cuda_repo_path(dist, ver, arch) == expected


@pytest.mark.parametrize('version,branch', [
    ('535.261.03-1', 535), ('1:580.95.05-0ubuntu1', 580), ('20220217+3~deb12u1', None), ('1.2.2', None)])
def test_package_branch(version, branch):
    assert nd.package_branch(version) == branch


def test_family_packages_leaves_out_toolkit_and_helpers():
    installed = {'nvidia-smi': [{'version': '535.261.03-1'}], 'nvidia-cuda-toolkit': [{'version': '12.0'}],
                 'nvidia-support': [{'version': '20220217+3~deb12u1'}], 'libcuda1': [{'version': '535.261.03-1'}],
                 'bash': [{'version': '5.2'}]}
    assert nd.family_packages(installed) == ['libcuda1', 'nvidia-smi']


# ---------------------------------------------------------------------------------------------------
# the reference GPU host: Ubuntu 24.04 + H200 + 580.159.04 open, loaded -> nothing to change

def test_h200_reference_host_is_satisfied(h200):
    p = nd.plan(h200, 'Ubuntu', '24.04', 'x86_64', '6.8.0-90-generic')
    assert p['action'] == 'satisfied'
    assert p['errors'] == []
    assert (p['branch'], p['flavour']) == (580, 'open')
    assert p['packages'] == [] and p['remove'] == [] and p['hold'] == []


def test_h200_explicit_matching_branch_and_flavour_still_satisfied(h200):
    p = nd.plan(h200, 'Ubuntu', '24.04', 'x86_64', '6.8.0-90-generic', branch='580', flavour='open')
    assert p['action'] == 'satisfied'


def test_h200_other_branch_requested_installs(h200):
    p = nd.plan(h200, 'Ubuntu', '24.04', 'x86_64', '6.8.0-90-generic', branch='570',
                available=_ubuntu_available(570, kernel='6.8.0-90-generic'))
    assert p['action'] == 'install'
    assert p['packages'] == ['nvidia-utils-570-server', 'libnvidia-compute-570-server',
                             'nvidia-headless-no-dkms-570-server-open',
                             'linux-modules-nvidia-570-server-open-6.8.0-90-generic',
                             'nvidia-compute-utils-570-server']


def test_h200_reboot_not_needed(h200):
    d = nd.reboot_decision(h200, '580.159.04-0ubuntu0.24.04.1')
    assert d == {'required': False, 'reboot': False, 'reasons': [], 'why_not': None,
                 'installed_version': '580.159.04', 'loaded_version': '580.159.04'}


# ---------------------------------------------------------------------------------------------------
# Debian 12 / 13 containers (what molecule/nvidia_driver runs)

def test_debian12_container_userspace_only():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '12', 'x86_64', '6.18.44', available=nd.parse_apt_cache_policy(APT_POLICY_DEBIAN12)
                | {'libnvidia-ml1': '535.261.03-1', 'nvidia-persistenced': '535.171.04-1~deb12u1'})
    assert p['action'] == 'install' and p['mode'] == 'container'
    assert (p['branch'], p['flavour'], p['kernel_module_type']) == (535, 'proprietary', 'dkms')
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced']
    assert p['hold'] == p['packages']
    assert p['host_would_need'] == ['nvidia-kernel-dkms', 'linux-headers-6.18.44']
    assert p['why_no_kernel_module'].startswith('container: the NVIDIA kernel module belongs to the host kernel')


def test_debian13_container_default_branch_550():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '13', 'x86_64', '6.12.48+deb13-amd64')
    assert (p['action'], p['branch'], p['flavour']) == ('install', 550, 'proprietary')
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced']


def test_debian13_tesla_535_names():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '13', 'x86_64', None, branch='535')
    assert p['packages'] == ['nvidia-tesla-535-smi', 'libnvidia-tesla-535-cuda1', 'libnvidia-tesla-535-ml1',
                             'libnvidia-tesla-535-cfg1', 'nvidia-persistenced']
    assert p['version_package'] == 'nvidia-tesla-535-smi'


def test_debian12_hopper_host_open_dkms():
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-18-amd64')
    assert (p['action'], p['branch'], p['flavour'], p['kernel_module_type']) == ('install', 535, 'open', 'dkms')
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced',
                             'nvidia-open-kernel-dkms', 'firmware-nvidia-gsp', 'linux-headers-6.1.0-18-amd64',
                             'linux-headers-amd64']
    assert 'linux-headers-6.1.0-18-amd64' not in p['hold'] and 'linux-headers-amd64' not in p['hold']


def test_debian12_pascal_host_proprietary():
    p = nd.plan(PASCAL, 'Debian', '12', 'x86_64', '6.1.0-18-amd64')
    assert (p['branch'], p['flavour']) == (535, 'proprietary')
    assert 'nvidia-kernel-dkms' in p['packages']


def test_debian12_blackwell_has_no_branch():
    p = nd.plan(BLACKWELL, 'Debian', '12', 'x86_64', '6.1.0-18-amd64')
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith('nvidia_driver_branch auto: no branch of debian12 (source distro: 535, 470)')
    assert 'R570 or newer' in p['errors'][0]


def test_debian12_unknown_branch_fails_naming_variable():
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-18-amd64', branch='999')
    assert p['errors'] == ['nvidia_driver_branch 999 is not available on debian12 from source distro; available: 535, 470']


def test_debian12_tesla_470_is_proprietary_only():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '12', 'x86_64', None, branch='470', flavour='open')
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith('nvidia_driver_flavour open is not offered by branch 470 on debian12')


def test_debian_nvidia_source_names():
    # auto takes the newest branch the repository carries: R610 (gpu-driver-container CI builds 610.57.04)
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-18-amd64', source='nvidia')
    assert (p['branch'], p['flavour']) == (610, 'open')
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced',
                             'nvidia-driver-cuda', 'nvidia-kernel-open-dkms', 'linux-headers-6.1.0-18-amd64',
                             'linux-headers-amd64']


def test_debian12_package_missing_from_sources():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '12', 'x86_64', None, available={'nvidia-smi': '535.261.03-1'})
    assert p['action'] == 'fail'
    assert 'nvidia_driver_branch auto: no branch of debian12' in p['errors'][0]


def test_debian12_explicit_branch_missing_names_the_shared_source_mirror():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '12', 'x86_64', None, branch='535', available={'nvidia-smi': '535.261.03-1'})
    assert p['errors'] == [
        'branch 535 from source distro: libcuda1, libnvidia-ml1, nvidia-persistenced not in the configured apt '
        'sources (apt-cache policy). The role enables contrib, non-free and non-free-firmware '
        '(nvidia_driver_debian_components: true, through labops.dlstack.apt_components); check apt_components_mirror.']


# ---------------------------------------------------------------------------------------------------
# Ubuntu 22.04 / 24.04

def test_ubuntu2404_hopper_prefers_signed_precompiled():
    avail = _ubuntu_available(580)
    p = nd.plan(HOPPER, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', available=avail)
    assert (p['action'], p['branch'], p['flavour'], p['kernel_module_type']) == ('install', 580, 'open', 'precompiled')
    assert p['packages'] == ['nvidia-utils-580-server', 'libnvidia-compute-580-server',
                             'nvidia-headless-no-dkms-580-server-open',
                             'linux-modules-nvidia-580-server-open-6.8.0-50-generic',
                             'nvidia-compute-utils-580-server']


def test_ubuntu2404_no_precompiled_for_kernel_falls_back_to_dkms():
    avail = _ubuntu_available(580, precompiled=False)
    p = nd.plan(HOPPER, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', available=avail)
    assert p['kernel_module_type'] == 'dkms'
    assert p['packages'] == ['nvidia-utils-580-server', 'libnvidia-compute-580-server',
                             'nvidia-headless-580-server-open', 'nvidia-compute-utils-580-server',
                             'linux-headers-6.8.0-50-generic']


def test_ubuntu2404_precompiled_required_but_missing():
    avail = _ubuntu_available(580, precompiled=False)
    p = nd.plan(HOPPER, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', kernel_module_type='precompiled',
                available=avail)
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith('nvidia_driver_kernel_module_type precompiled: nvidia-headless-no-dkms-580-server-open')


def test_ubuntu2204_pascal_non_server_proprietary():
    avail = _ubuntu_available(580, server=False, kernel='5.15.0-130-generic', flavour='proprietary')
    p = nd.plan(PASCAL, 'Ubuntu', '22.04', 'x86_64', '5.15.0-130-generic', ubuntu_server=False, available=avail)
    assert (p['branch'], p['flavour'], p['kernel_module_type']) == (580, 'proprietary', 'precompiled')
    assert p['packages'] == ['nvidia-utils-580', 'libnvidia-compute-580', 'nvidia-headless-no-dkms-580',
                             'linux-modules-nvidia-580-5.15.0-130-generic', 'nvidia-compute-utils-580']


def test_ubuntu2204_pascal_open_refused():
    p = nd.plan(PASCAL, 'Ubuntu', '22.04', 'x86_64', '5.15.0-130-generic', flavour='open')
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith('nvidia_driver_flavour open does not run these GPUs: Pascal (6.0): proprietary')


def test_ubuntu2404_blackwell_proprietary_refused():
    p = nd.plan(BLACKWELL, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', flavour='proprietary')
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith('nvidia_driver_flavour proprietary does not run these GPUs: Blackwell (10.0)')


def test_ubuntu2404_blackwell_old_branch_refused():
    p = nd.plan(BLACKWELL, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', branch='550')
    assert p['errors'][0].startswith('nvidia_driver_branch 550 does not run these GPUs: they need R570 or newer')


def test_ubuntu2404_pascal_newer_than_legacy_refused():
    p = nd.plan(PASCAL, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', source='nvidia', branch='580')
    assert p['action'] == 'install'
    assert nd.plan(PASCAL, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', branch='470')['errors'] == [
        'nvidia_driver_branch 470 is not available on ubuntu2404 from source distro; available: 580, 575, 570, 550, 535']


def test_ubuntu_nvidia_source_names():
    p = nd.plan(HOPPER, 'Ubuntu', '22.04', 'x86_64', '5.15.0-130-generic', source='nvidia', branch='570')
    assert p['packages'] == ['nvidia-utils-570', 'libnvidia-compute-570', 'nvidia-open-570',
                             'linux-headers-5.15.0-130-generic']
    p = nd.plan(PASCAL, 'Ubuntu', '22.04', 'x86_64', '5.15.0-130-generic', source='nvidia', branch='570')
    assert 'cuda-drivers-570' in p['packages']


def test_secure_boot_with_dkms_fails_with_mok_steps():
    gpu = copy.deepcopy(HOPPER)
    gpu['secure_boot'] = 'enabled'
    p = nd.plan(gpu, 'Debian', '13', 'x86_64', '6.12.48+deb13-amd64')
    assert p['action'] == 'fail'
    assert 'mokutil --import /var/lib/dkms/mok.pub' in p['errors'][0]
    assert nd.plan(gpu, 'Debian', '13', 'x86_64', '6.12.48+deb13-amd64', mok_configured=True)['action'] == 'install'


def test_secure_boot_with_signed_precompiled_is_fine():
    gpu = copy.deepcopy(HOPPER)
    gpu['secure_boot'] = 'enabled'
    p = nd.plan(gpu, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', available=_ubuntu_available(580))
    assert (p['action'], p['kernel_module_type']) == ('install', 'precompiled')


def test_headers_not_installable():
    avail = _ubuntu_available(580, precompiled=False)
    del avail['linux-headers-6.8.0-50-generic']
    p = nd.plan(HOPPER, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', available=avail)
    assert p['errors'][0].startswith('kernel headers linux-headers-6.8.0-50-generic for the running kernel are not installable')


def test_running_kernel_not_default_boot_kernel():
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-17-amd64', default_kernel='6.1.0-18-amd64')
    assert p['errors'] == ['the running kernel 6.1.0-17-amd64 is not the default boot kernel 6.1.0-18-amd64: a module '
                           'built now would not be loaded after the next reboot. Reboot into 6.1.0-18-amd64 first, '
                           'then run again.']


# ---------------------------------------------------------------------------------------------------
# no GPU, bad input, absent, switching

def test_host_without_gpu_skipped_or_failed():
    gpu = dict(NO_GPU_CONTAINER, in_container=False)
    assert nd.plan(gpu, 'Debian', '12')['action'] == 'skip'
    p = nd.plan(gpu, 'Debian', '12', require_gpu=True)
    assert p['action'] == 'fail'
    assert 'nvidia_driver_require_gpu is true' in p['errors'][0]


@pytest.mark.parametrize('kwargs,start', [
    ({'branch': 'latest'}, "nvidia_driver_branch: 'latest' is not a driver branch"),
    ({'source': 'ppa'}, "nvidia_driver_source: 'ppa' is not one of distro, nvidia"),
    ({'flavour': 'closed'}, "nvidia_driver_flavour: 'closed' is not one of auto, open, proprietary"),
    ({'state': 'latest'}, "nvidia_driver_state: 'latest' is not one of present, absent"),
    ({'kernel_module_type': 'akmod'}, "nvidia_driver_kernel_module_type: 'akmod' is not one of auto, precompiled, dkms"),
    ({'branch': True}, "nvidia_driver_branch: 'True' is not a driver branch"),
])
def test_bad_input_names_the_variable(kwargs, start):
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-18-amd64', **kwargs)
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith(start)


def test_unsupported_platform():
    assert nd.plan(HOPPER, 'Ubuntu', '20.04')['errors'] == [
        'nvidia_driver supports Debian 12/13 and Ubuntu 22.04/24.04, not Ubuntu 20.04']


def test_absent_removes_the_family():
    installed = {'nvidia-smi': '535.261.03-1', 'libcuda1': '535.261.03-1', 'nvidia-cuda-toolkit': '12.0.140~12.0.1-4',
                 'nvidia-kernel-dkms': '535.261.03-1', 'openssl': '3.0'}
    p = nd.plan(HOPPER, 'Debian', '12', state='absent', installed=installed)
    assert (p['action'], p['remove']) == ('remove', ['libcuda1', 'nvidia-kernel-dkms', 'nvidia-smi'])


def test_switch_debian12_535_to_tesla_470_removes_old_branch():
    installed = {'nvidia-smi': '535.261.03-1', 'libcuda1': '535.261.03-1', 'nvidia-alternative': '535.261.03-1',
                 'nvidia-support': '20220217+3~deb12u1', 'nvidia-persistenced': '535.171.04-1~deb12u1'}
    p = nd.plan(PASCAL, 'Debian', '12', 'x86_64', '6.1.0-18-amd64', branch='470', installed=installed)
    assert p['remove'] == ['libcuda1', 'nvidia-alternative', 'nvidia-smi']


def test_switch_flavour_removes_other_kernel_package():
    installed = {'nvidia-smi': '535.261.03-1', 'nvidia-kernel-dkms': '535.261.03-1'}
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-18-amd64', flavour='open', installed=installed)
    assert p['remove'] == ['nvidia-kernel-dkms']


def test_switch_ubuntu_source_nvidia_to_distro():
    installed = {'cuda-drivers-580': '580.95.05-1', 'nvidia-open-580': '580.95.05-1',
                 'nvidia-utils-580': '580.95.05-1', 'libnvidia-compute-580': '580.95.05-1'}
    p = nd.plan(HOPPER, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', installed=installed,
                available=_ubuntu_available(580))
    # the NVIDIA-only metas go; nvidia-utils-580 / libnvidia-compute-580 are replaced by apt itself when the
    # -server packages (which conflict with them) are installed
    assert p['remove'] == ['cuda-drivers-580', 'nvidia-open-580']


def test_candidates_debian12():
    # the main 535 driver and bookworm's nvidia-tesla-535 family (deb.debian.org bookworm non-free Packages)
    assert nd.candidate_packages('Debian', '12', '6.1.0-18-amd64', branch='535', flavour='proprietary') == [
        'libcuda1', 'libnvidia-ml1', 'libnvidia-tesla-535-cfg1', 'libnvidia-tesla-535-cuda1', 'libnvidia-tesla-535-ml1',
        'linux-headers-6.1.0-18-amd64', 'linux-headers-amd64', 'nvidia-kernel-dkms', 'nvidia-persistenced', 'nvidia-smi',
        'nvidia-tesla-535-kernel-dkms', 'nvidia-tesla-535-smi']


# ---------------------------------------------------------------------------------------------------
# reboot

def test_reboot_needed_when_module_not_loaded():
    d = nd.reboot_decision(HOPPER, '535.261.03-1')
    assert d['required'] and d['reboot']
    assert d['reasons'] == ['the NVIDIA kernel module is not loaded; installed driver is 535.261.03']


def test_reboot_on_version_mismatch_and_nouveau_but_never_local():
    gpu = _gpu('NVIDIA H100', '0x2330', '9.0', 'Hopper', status='driver_library_mismatch', installed=True,
               loaded=True, version='570.86.15', kernel_module='open')
    gpu['nouveau_loaded'] = True
    d = nd.reboot_decision(gpu, '580.95.05-0ubuntu1', connection='local')
    assert d['reasons'] == ['nouveau is loaded (it holds the GPU until a reboot with the blacklist in the initramfs)',
                            'loaded kernel module 570.86.15 differs from the installed driver 580.95.05']
    assert (d['required'], d['reboot']) == (True, False)
    assert d['why_not'].startswith('local connection')
    assert nd.reboot_decision(gpu, '580.95.05-0ubuntu1', policy='never')['why_not'] == \
        'nvidia_driver_reboot is never: reboot the host yourself'


# ---------------------------------------------------------------------------------------------------
# site.yml's batches: which hosts have a driver change to make, and the batch settings of the run

INSTALL = {'action': 'install', 'mode': 'host', 'version_package': 'nvidia-smi', 'remove': []}


@pytest.mark.parametrize('planned, state, reboot, expected', [
    (INSTALL, {'converged': True}, {'reboot': False, 'required': False}, False),  # as last converged: unbatched
    (INSTALL, {'converged': True}, None, False),
    (INSTALL, {'converged': True}, {'reboot': True, 'required': True}, True),  # a reboot to do
    (INSTALL, {'converged': True}, {'reboot': False, 'required': True, 'why_not': 'never'}, False),  # only reported
    (INSTALL, {'converged': False}, None, True),  # packages, holds or files to change
    (INSTALL, {'skipped': True, 'changed': False}, None, True),  # not asked (conflicts to remove): a change
    (INSTALL, None, None, True),
    (INSTALL, {'converged': 'yes'}, None, True),  # only a real True counts
    ({'action': 'remove', 'remove': ['nvidia-smi']}, None, None, True),
    ({'action': 'skip'}, None, None, False),  # no GPU: nothing to drive
    ({'action': 'satisfied'}, {'skipped': True}, None, False),  # a loaded driver runs the GPUs: nothing to change
    (None, None, None, False),
])
def test_needs_batch(planned, state, reboot, expected):
    assert nd.needs_batch(planned, state, reboot) is expected


def test_needs_batch_with_the_reboot_decision_of_a_converged_host():
    """The role hands over reboot_decision() for the installed driver: a module not loaded is a reboot to do."""
    reboot = nd.reboot_decision(HOPPER, '535.261.03-1')
    assert nd.needs_batch(INSTALL, {'converged': True}, reboot) is True
    assert nd.needs_batch(INSTALL, {'converged': True}, nd.reboot_decision(HOPPER, '535.261.03-1', policy='never')) is False


HOSTS = ['ws%02d' % n for n in range(1, 41)]


@pytest.mark.parametrize('serial, expected', [
    (None, [10]),  # the default 25% of 40 hosts
    ('25%', [10]),
    ('10%', [4]),
    ('1%', [1]),  # rounded down, at least 1 (ansible's pct_to_int)
    ('100%', [40]),
    ('12.5%', [5]),
    (1, [1]),
    ('3', [3]),
    ([1, '10%', '50%'], [1, 4, 20]),  # a canary, then bigger batches; the last repeats
])
def test_batch_settings_sizes_of_the_hosts_of_the_run(serial, expected):
    got = nd.batch_settings(HOSTS, serial=[serial] * len(HOSTS))
    assert (got['serial'], got['max_fail_percentage'], got['errors']) == (expected, 0, [])


def test_batch_settings_unset_is_the_default_and_a_percentage_of_few_hosts_is_one():
    assert nd.batch_settings(['a', 'b', 'c']) == {'serial': [1], 'max_fail_percentage': 0, 'errors': []}
    assert nd.batch_settings(['a', 'b'], serial=['', None], max_fail=['20', ''],
                             default_max_fail=20) == {'serial': [1], 'max_fail_percentage': 20, 'errors': []}


@pytest.mark.parametrize('serial, message', [
    ('0', "dlstack_serial: '0' is not a batch size"),
    (0, 'dlstack_serial: 0 is not a batch size'),
    ('0%', "dlstack_serial: '0%' is not a batch size"),
    ('150%', "dlstack_serial: '150%' is not a batch size"),
    ('quarter', "dlstack_serial: 'quarter' is not a batch size"),
    (True, 'dlstack_serial: True is not a batch size'),
    ([], 'dlstack_serial: [] is not a batch size'),
    ([1, 'x'], "dlstack_serial: [1, 'x'] is not a batch size"),
])
def test_batch_settings_refuse_what_is_not_a_batch_size(serial, message):
    got = nd.batch_settings(['a', 'b'], serial=[serial, serial])
    assert len(got['errors']) == 1 and got['errors'][0].startswith(message), got['errors']
    assert got['errors'][0].endswith('accepted: a number of hosts (1 or more), a percentage of the hosts of the run '
                                     'such as "25%", or a list of those')


@pytest.mark.parametrize('value', [-1, 101, '50%', 'none', 2.5, False])
def test_batch_settings_refuse_what_is_not_a_failure_percentage(value):
    got = nd.batch_settings(['a'], max_fail=[value])
    assert got['errors'] == ['dlstack_max_fail_percentage: %r is not a percentage; accepted: a whole number from 0 '
                             '(stop at the first failed host) to 100' % (value,)]
    assert got['max_fail_percentage'] == 0  # never looser than the default on an error


def test_batch_settings_one_value_for_the_run():
    got = nd.batch_settings(['a', 'b', 'c'], serial=['25%', None, 1], max_fail=[10, 10, 10])
    assert got['errors'] == ["dlstack_serial: the hosts of this run disagree (25% on a, b; 1 on c); the driver "
                             "batches have one setting for the whole run: set it once (group_vars/all, or -e)"]
    assert nd.batch_settings(['a', 'b'], max_fail=[None, 5])['errors'] == [
        'dlstack_max_fail_percentage: the hosts of this run disagree (0 on a; 5 on b); the driver batches have one '
        'setting for the whole run: set it once (group_vars/all, or -e)']


def test_never_reboot_a_container():
    d = nd.reboot_decision(NO_GPU_CONTAINER, '535.261.03-1', mode='container')
    assert (d['required'], d['reboot']) == (False, False)


def test_verify_after_reboot(h200):
    assert nd.verify_after_reboot(h200, '580.159.04-1') == []
    assert nd.verify_after_reboot(h200, '580.95.05-1') == [
        'after the reboot the loaded module is 580.159.04, the installed driver 580.95.05']


def test_uu_blacklist_matches_driver_packages_only(h200):
    import re
    patterns = nd.unattended_upgrades_blacklist()
    assert patterns[:3] == ['^nvidia-', '^libnvidia-', '^libcuda1']
    # the role's unattended-upgrades template reads them from the plan
    assert nd.plan(h200, 'Ubuntu', '24.04', 'x86_64', '6.8.0-90-generic')['uu_blacklist'] == patterns

    def blocked(name):
        return any(re.match(p, name) for p in patterns)
    assert [n for n in ('nvidia-smi', 'libnvidia-ml1', 'libcuda1', 'linux-modules-nvidia-580-server-open-generic',
                        'linux-image-generic', 'cuda-toolkit-12-8', 'libcudnn9') if blocked(n)] == [
        'nvidia-smi', 'libnvidia-ml1', 'libcuda1', 'linux-modules-nvidia-580-server-open-generic']


# `dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Version}\n' sudo libc6 python3-apt libapt-pkg6.0`
# in labops-dlstack/debian:12 after `SUDO_FORCE_REMOVE=yes dpkg -r sudo python3-apt` (recorded), plus a
# half-configured line of the same format and a line that is not (a warning on stdout).
DPKG_QUERY_DEBIAN12 = (
    'installed\tlibapt-pkg6.0\t2.6.1\n'
    'installed\tlibc6\t2.36-9+deb12u14\n'
    'not-installed\tpython3-apt\t\n'
    'config-files\tsudo\t1.9.13p3-1+deb12u4\n'
    'half-configured\tnvidia-kernel-dkms\t535.261.03-1\n'
    'dpkg-query: warning: something\n'
)


def test_parse_dpkg_query_keeps_packages_on_disk_only():
    assert nd.parse_dpkg_query(DPKG_QUERY_DEBIAN12) == {
        'libapt-pkg6.0': '2.6.1', 'libc6': '2.36-9+deb12u14', 'nvidia-kernel-dkms': '535.261.03-1'}
    assert nd.parse_dpkg_query('') == {}
    assert nd.parse_dpkg_query(None) == {}


def test_dpkg_query_result_plans_like_package_facts(h200):
    # the plan reads {name: version} as it reads package_facts' {name: [{'version': ...}]}
    installed = nd.parse_dpkg_query('installed\tnvidia-driver\t535.261.03-1\ninstalled\tlibcuda1\t535.261.03-1\n')
    assert nd.family_packages(installed) == ['libcuda1', 'nvidia-driver']
    facts = {'nvidia-driver': [{'version': '535.261.03-1'}], 'libcuda1': [{'version': '535.261.03-1'}]}
    kwargs = dict(distribution='Debian', distribution_version='12', kernel_release='6.1.0-40-amd64')
    assert nd.plan(h200, installed=installed, **kwargs) == nd.plan(h200, installed=facts, **kwargs)


def test_dpkg_installed_filter():
    from ansible_collections.labops.dlstack.plugins.filter import nvidia_driver as flt
    dpkg_installed = flt.FilterModule().filters()['dpkg_installed']
    assert dpkg_installed.__name__ == 'parse_dpkg_query'  # the decision itself, imported on the first call
    assert dpkg_installed('installed\tg++\t4:12.2.0-3\nconfig-files\tsudo\t1.9.13p3-1+deb12u4\n') == {'g++': '4:12.2.0-3'}


# ---------------------------------------------------------------------------------------------------
# NVIDIA's repository per platform, renamed Ubuntu packages, distro families (issue #19 rows 2, 3, 7)

TURING = _gpu('Tesla T4', '0x1eb8', '7.5', 'Turing')
KEPLER = _gpu('Tesla K80', '0x102d', '3.7', 'Kepler')


@pytest.mark.parametrize('platform, key', [
    # NVIDIA/cuda-repo-management#39: debian13 is signed with 8793F200.pub,
    # fingerprint 02182E60104FCDC26EAE1B8597A5D4CB8793F200
    ('debian13', {'file': '8793F200.pub', 'fingerprint': '02182E60104FCDC26EAE1B8597A5D4CB8793F200'}),
    ('debian13/sbsa', {'file': '8793F200.pub', 'fingerprint': '02182E60104FCDC26EAE1B8597A5D4CB8793F200'}),
    # 3BF863CC, the key of the other directories since 2022 (nvidia_repo's former default fingerprint)
    ('debian12/x86_64', {'file': '3bf863cc.pub', 'fingerprint': 'EB693B3035CD5710E231E123A4B469963BF863CC'}),
    ('ubuntu2404', {'file': '3bf863cc.pub', 'fingerprint': 'EB693B3035CD5710E231E123A4B469963BF863CC'}),
    ('rhel9', None), ('', None),
])
def test_nvidia_repo_key_per_platform(platform, key):
    assert nd.nvidia_repo_key(platform) == key


def test_nvidia_repo_branches_per_platform():
    # debian13 has no R580 (NVIDIA/cuda-repo-management#40); the repositories carry 590, 595, 610
    # (gpu-driver-container CI: 580.178.04, 595.91.07, 610.57.04)
    assert nd.branches_for('debian13', 'nvidia') == [610, 595, 590]
    assert nd.branches_for('debian12', 'nvidia')[:4] == [610, 595, 590, 580]
    assert nd.branches_for('ubuntu2404', 'nvidia')[-1] == 535


def test_debian13_nvidia_source_has_nothing_for_pascal():
    # Pascal's last branch is R580 and the debian13 repository has none
    p = nd.plan(PASCAL, 'Debian', '13', 'x86_64', '6.12.48+deb13-amd64', source='nvidia')
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith('nvidia_driver_branch auto: no branch of debian13 (source nvidia: 610, 595, 590) '
                                     'fits these GPUs (R367 to R580)')
    assert nd.plan(PASCAL, 'Debian', '13', 'x86_64', '6.12.48+deb13-amd64', source='nvidia', branch='580')['errors'] == [
        'nvidia_driver_branch 580 is not available on debian13 from source nvidia; available: 610, 595, 590']


def test_debian13_nvidia_source_default_without_gpu():
    # a container without GPU gets R595 from debian13 (no R580 LTSB there), R580 elsewhere
    assert nd.plan(NO_GPU_CONTAINER, 'Debian', '13', 'x86_64', None, source='nvidia')['branch'] == 595
    assert nd.plan(NO_GPU_CONTAINER, 'Debian', '12', 'x86_64', None, source='nvidia')['branch'] == 580


@pytest.mark.parametrize('branch, flavour, packages, version_package', [
    # NVIDIA Driver Installation Guide, "Recent Updates" / "Ubuntu 590 and later packages": "Starting with branch
    # 590, the Ubuntu packages will be renamed by removing the branch designation from the package name" and a
    # branch is held by the pinning package nvidia-driver-pinning-<version>, installed before the driver
    (590, 'open', ['nvidia-driver-pinning-590', 'nvidia-utils', 'libnvidia-compute', 'nvidia-open',
                   'linux-headers-6.8.0-50-generic'], 'nvidia-utils'),
    # "cuda-drivers-580 will be removed"; "cuda-drivers: no change"
    (610, 'proprietary', ['nvidia-driver-pinning-610', 'nvidia-utils', 'libnvidia-compute', 'cuda-drivers',
                          'linux-headers-6.8.0-50-generic'], 'nvidia-utils'),
    # up to R580 the names keep the branch
    (580, 'open', ['nvidia-utils-580', 'libnvidia-compute-580', 'nvidia-open-580', 'linux-headers-6.8.0-50-generic'],
     'nvidia-utils-580'),
])
def test_ubuntu_nvidia_source_names_by_branch(branch, flavour, packages, version_package):
    p = nd.plan(TURING, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', source='nvidia', branch=str(branch), flavour=flavour)
    assert (p['action'], p['packages'], p['version_package']) == ('install', packages, version_package)


def test_ubuntu_nvidia_source_missing_pinning_package_stops():
    avail = {'nvidia-utils': '590.48.01-1', 'libnvidia-compute': '590.48.01-1', 'nvidia-open': '590.48.01-1'}
    p = nd.plan(TURING, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', source='nvidia', branch='590', available=avail)
    assert p['errors'][0].startswith('branch 590 from source nvidia: nvidia-driver-pinning-590 not in the configured apt sources')


def test_jammy_470_is_server_only():
    # jammy's nvidia-*-470 (non-server) are transitional packages to 535 (packages.ubuntu.com jammy-updates,
    # issue #19 audit); Kepler (last branch R470) needs the -470-server names, whatever nvidia_driver_ubuntu_server says
    names = nd.package_names('ubuntu2204', 'distro', 470, 'proprietary', '5.15.0-130-generic', ubuntu_server=False)
    assert names['userspace'] == ['nvidia-utils-470-server', 'libnvidia-compute-470-server']
    assert names['precompiled'] == ['nvidia-headless-no-dkms-470-server', 'linux-modules-nvidia-470-server-5.15.0-130-generic',
                                    'nvidia-compute-utils-470-server']
    p = nd.plan(KEPLER, 'Ubuntu', '22.04', 'x86_64', '5.15.0-130-generic', ubuntu_server=False)
    assert (p['branch'], p['flavour'], p['packages'][0]) == (470, 'proprietary', 'nvidia-utils-470-server')
    # other branches keep the non-server names when asked
    assert nd.package_names('ubuntu2204', 'distro', 580, 'proprietary', None, ubuntu_server=False)['userspace'] == [
        'nvidia-utils-580', 'libnvidia-compute-580']


def test_bookworm_tesla_535_family():
    # deb.debian.org bookworm non-free Packages (2026-12-01): nvidia-tesla-535-smi, libnvidia-tesla-535-cuda1,
    # -ml1, -cfg1, nvidia-tesla-535-kernel-dkms 535.216.03-3~deb12u1; no open kernel module of it in contrib
    assert nd.debian_families('debian12', 535) == [{'family': '', 'flavours': ('open', 'proprietary')},
                                                   {'family': 'tesla-535', 'flavours': ('proprietary',)}]
    names = nd.package_names('debian12', 'distro', 535, 'proprietary', '6.1.0-18-amd64', family='tesla-535')
    assert names['userspace'] == ['nvidia-tesla-535-smi', 'libnvidia-tesla-535-cuda1', 'libnvidia-tesla-535-ml1',
                                  'libnvidia-tesla-535-cfg1', 'nvidia-persistenced']
    assert names['dkms'] == ['nvidia-tesla-535-kernel-dkms']
    # trixie: 550 main, 535 only as the tesla family
    assert nd.debian_families('debian13', 535) == [{'family': 'tesla-535', 'flavours': ('proprietary',)}]


def test_a_container_whose_driver_answers_keeps_it(h200):
    # the demo's ws1: a recorded H200 (580.159.04 open, nvidia-smi answers) in a Debian 12 container. Debian 12
    # offers the 535 userspace only; installing it beside a 580 module would break the container's driver
    # ("Driver/library version mismatch"), so the loaded driver is kept, as on a host
    gpu = dict(h200, in_container=True)
    p = nd.plan(gpu, 'Debian', '12', kernel_release='6.1.0-28-amd64')
    assert (p['action'], p['mode'], p['branch'], p['flavour'], p['packages']) == ('satisfied', 'container', 580, 'open', [])
    assert 'this container (its driver userspace answers already)' in p['notes'][0]
    # enforcing the role's packages asks Debian 12 for a branch that runs an H200 (R550+, first listed in
    # 550.40.65 of NVIDIA/open-gpu-kernel-modules' README): bookworm has 535 only, so it says so
    p = nd.plan(gpu, 'Debian', '12', kernel_release='6.1.0-28-amd64', keep_satisfying=False)
    assert (p['action'], p['mode']) == ('fail', 'container')
    assert p['errors'][0].startswith('nvidia_driver_branch auto: no branch of debian12 (source distro: 535, 470) fits these GPUs')


# ---------------------------------------------------------------------------------------------------
# GPU-less install (nvidia_driver_install_without_gpu), host images (nvidia_driver_kernel_release), and what
# apt and DKMS say on the host

NO_GPU_HOST = dict(NO_GPU_CONTAINER, in_container=False, secure_boot='disabled')
# A Turing-or-newer GPU on a fresh Debian 12 host (RTX 3090, Ampere, 0x2204): flavour auto wants open.
AMPERE = _gpu('NVIDIA GeForce RTX 3090', '0x2204', '8.6', 'Ampere', status='nouveau_bound')

# `apt-get -s install --no-install-recommends nvidia-open-kernel-dkms firmware-nvidia-gsp nvidia-smi libcuda1
# libnvidia-ml1 nvidia-persistenced linux-headers-amd64` in labops-dlstack/debian:12 with contrib/non-free on
# 2026-12-01 (rc 100): the open module (bookworm/contrib 535.261.03) wants firmware-nvidia-gsp 535.261.03, the
# archive's candidate is 535.309.01 from bookworm-security.
APT_SIM_DEBIAN12_OPEN_STDOUT = """Reading package lists...
Building dependency tree...
Some packages could not be installed. This may mean that you have
requested an impossible situation or if you are using the unstable
distribution that some required packages have not yet been created
or been moved out of Incoming.
The following information may help to resolve the situation:

The following packages have unmet dependencies:
 nvidia-open-kernel-dkms : Depends: firmware-nvidia-gsp (= 535.261.03) or
                                    firmware-nvidia-gsp-535.261.03
                           Depends: nvidia-open-kernel-support--v1
"""
APT_SIM_DEBIAN12_OPEN = {'rc': 100, 'stdout': APT_SIM_DEBIAN12_OPEN_STDOUT,
                         'stderr': 'E: Unable to correct problems, you have held broken packages.'}
APT_SIM_DEBIAN12_OPEN_REASON = ('nvidia-open-kernel-dkms : Depends: firmware-nvidia-gsp (= 535.261.03) or '
                                'firmware-nvidia-gsp-535.261.03; Depends: nvidia-open-kernel-support--v1; '
                                'E: Unable to correct problems, you have held broken packages.')


def test_no_gpu_host_installs_explicit_branch_and_flavour():
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='535', flavour='proprietary',
                install_without_gpu=True)
    assert p['errors'] == []
    assert (p['action'], p['mode'], p['branch'], p['flavour'], p['without_gpu']) == ('install', 'host', 535, 'proprietary', True)
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced', 'nvidia-kernel-dkms',
                             'linux-headers-6.1.0-57-amd64', 'linux-headers-amd64']
    assert p['hold'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced', 'nvidia-kernel-dkms']
    assert (p['kernel_release'], p['kernel_module']) == ('6.1.0-57-amd64', 'nvidia-current')
    assert p['notes'][-1] == ('no NVIDIA GPU: branch 535 with the proprietary kernel module installed as '
                              'nvidia_driver_install_without_gpu asks (no GPU to check them against; the module cannot '
                              'load until one is fitted)')


@pytest.mark.parametrize('kwargs,named', [
    ({}, 'nvidia_driver_branch and nvidia_driver_flavour cannot be auto'),
    ({'branch': '535'}, 'so nvidia_driver_flavour cannot be auto'),
    ({'flavour': 'open'}, 'so nvidia_driver_branch cannot be auto'),
])
def test_no_gpu_install_needs_explicit_branch_and_flavour(kwargs, named):
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', install_without_gpu=True, **kwargs)
    assert p['action'] == 'fail'
    assert named in p['errors'][0]
    assert p['errors'][0].startswith('nvidia_driver_install_without_gpu: there is no NVIDIA GPU here to decide from')
    assert p['errors'][0].endswith('set nvidia_driver_branch to one of 535, 470 and nvidia_driver_flavour to open or '
                                   'proprietary, for the GPUs this host will get')


def test_no_gpu_install_still_validates_the_branch_and_flavour():
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='580', flavour='open',
                install_without_gpu=True)
    assert p['errors'] == ['nvidia_driver_branch 580 is not available on debian12 from source distro; available: 535, 470']
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='470', flavour='open',
                install_without_gpu=True)
    assert p['errors'][0].startswith('nvidia_driver_flavour open is not offered by branch 470 on debian12')


def test_no_gpu_install_and_require_gpu_contradict():
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='535', flavour='proprietary',
                install_without_gpu=True, require_gpu=True)
    assert p['errors'] == ['nvidia_driver_require_gpu and nvidia_driver_install_without_gpu are both true: fail on a '
                           'host without a GPU, or install there; set one of them to false']


def test_no_gpu_host_without_the_flag_is_still_skipped():
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='535', flavour='proprietary')
    assert p['action'] == 'skip'
    assert 'nvidia_driver_install_without_gpu: true' in p['notes'][0]


def test_host_image_in_a_container_builds_for_the_given_kernel():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '13', 'x86_64', '6.18.44-fc-v769', branch='550', flavour='open',
                install_without_gpu=True, target_kernel='6.12.118+deb13-amd64', default_kernel='6.12.118+deb13-amd64')
    assert p['errors'] == []
    assert (p['mode'], p['kernel_release'], p['kernel_module']) == ('host', '6.12.118+deb13-amd64', 'nvidia-current-open')
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced', 'nvidia-open-kernel-dkms',
                             'firmware-nvidia-gsp', 'linux-headers-6.12.118+deb13-amd64', 'linux-headers-amd64']
    assert p['host_would_need'] == [] and p['why_no_kernel_module'] is None
    assert p['notes'][0] == ('host image in a container: the kernel module is built for 6.12.118+deb13-amd64 '
                             '(nvidia_driver_kernel_release), the initramfs and holds are set as on a host; never a reboot here')


def test_container_without_kernel_release_stays_userspace_only():
    p = nd.plan(NO_GPU_CONTAINER, 'Debian', '12', 'x86_64', '6.18.44-fc-v769', branch='535', flavour='proprietary',
                install_without_gpu=True)
    assert (p['mode'], p['packages']) == ('container', ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced'])
    assert p['host_would_need'] == ['nvidia-kernel-dkms', 'linux-headers-6.18.44-fc-v769']


@pytest.mark.parametrize('bad', ['6.1.0-57-amd64 ', 'latest', '../6.1', '6.1.0/x'])
def test_kernel_release_must_look_like_uname_r(bad):
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', target_kernel=bad + 'x' if bad.endswith(' ') else bad)
    assert p['action'] == 'fail'
    assert p['errors'][0].startswith("nvidia_driver_kernel_release: '")


def test_kernel_release_not_the_default_boot_kernel():
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-56-amd64', target_kernel='6.1.0-55-amd64',
                default_kernel='6.1.0-57-amd64')
    assert p['errors'] == ['nvidia_driver_kernel_release 6.1.0-55-amd64 is not the default boot kernel 6.1.0-57-amd64: '
                           'the module built for it would not be loaded after the next reboot. Set '
                           'nvidia_driver_kernel_release to 6.1.0-57-amd64, or leave it empty for the running kernel '
                           '6.1.0-56-amd64.']
    # a kernel installed but not booted yet, which is the default: build for it
    p = nd.plan(HOPPER, 'Debian', '12', 'x86_64', '6.1.0-56-amd64', target_kernel='6.1.0-57-amd64',
                default_kernel='6.1.0-57-amd64')
    assert p['errors'] == [] and p['packages'][-2:] == ['linux-headers-6.1.0-57-amd64', 'linux-headers-amd64']
    assert p['mode'] == 'host'


@pytest.mark.parametrize('platform,source,branch,flavour,module', [
    # DEST_MODULE_NAME[0]="$PACKAGE_NAME" in the dkms.conf of each .deb (bookworm, trixie, 2026-12-01)
    ('debian12', 'distro', 535, 'proprietary', 'nvidia-current'),
    ('debian12', 'distro', 535, 'open', 'nvidia-current-open'),
    ('debian12', 'distro', 470, 'proprietary', 'nvidia-tesla-470'),
    ('debian13', 'distro', 535, 'proprietary', 'nvidia-tesla-535'),
    ('debian13', 'distro', 550, 'open', 'nvidia-current-open'),
    ('ubuntu2404', 'distro', 580, 'open', 'nvidia'),
    ('debian12', 'nvidia', 580, 'open', 'nvidia'),
])
def test_kernel_module_names(platform, source, branch, flavour, module):
    assert nd.kernel_module_name(platform, source, branch, flavour) == module


# ---- #19 row 1: Debian 12, flavour auto, Turing or newer ----------------------------------------------

def test_apt_simulation_reason_recorded_debian12_open():
    assert nd.apt_simulation(APT_SIM_DEBIAN12_OPEN) == {'ok': False, 'reason': APT_SIM_DEBIAN12_OPEN_REASON}


@pytest.mark.parametrize('result', [{'rc': 0, 'stdout': 'Inst nvidia-smi (535.309.01-0+deb12u1 ...)', 'stderr': ''},
                                    {'skipped': True, 'changed': False}, {}])
def test_apt_simulation_ok_or_not_asked(result):
    assert nd.apt_simulation(result) == {'ok': True, 'reason': None}


def test_apt_simulation_without_unmet_block_keeps_the_error_line():
    assert nd.apt_simulation({'rc': 100, 'stdout': '', 'stderr': 'E: Unable to locate package nvidia-smi'}) == {
        'ok': False, 'reason': 'E: Unable to locate package nvidia-smi'}


def test_debian12_turing_auto_plans_open_until_apt_refuses_it():
    # what the plan alone says (and what the role installed before it asked apt): open
    p = nd.plan(AMPERE, 'Debian', '12', 'x86_64', '6.1.0-57-amd64')
    assert (p['branch'], p['flavour']) == (535, 'open')
    assert 'nvidia-open-kernel-dkms' in p['packages']
    # apt-get -s refuses that set: auto takes proprietary, which Ampere runs too, and says why
    p = nd.plan(AMPERE, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', not_installable={'open': APT_SIM_DEBIAN12_OPEN_REASON})
    assert p['errors'] == []
    assert (p['action'], p['branch'], p['flavour']) == ('install', 535, 'proprietary')
    assert p['packages'] == ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced', 'nvidia-kernel-dkms',
                             'linux-headers-6.1.0-57-amd64', 'linux-headers-amd64']
    assert p['not_installable'] == {'open': APT_SIM_DEBIAN12_OPEN_REASON}
    assert p['notes'] == ['flavour auto: the open kernel module of branch 535 cannot be installed on debian12 from the '
                          'configured apt sources (apt-get -s install: ' + APT_SIM_DEBIAN12_OPEN_REASON + '); the '
                          'proprietary module instead, which these GPUs run as well']


def test_debian12_explicit_open_refused_with_apts_reason():
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='535', flavour='open',
                install_without_gpu=True, not_installable={'open': APT_SIM_DEBIAN12_OPEN_REASON})
    assert p['errors'] == ['nvidia_driver_flavour open: apt cannot install branch 535 with the open kernel module on '
                           'debian12 from the configured sources (apt-get -s install: ' + APT_SIM_DEBIAN12_OPEN_REASON
                           + '). Set nvidia_driver_flavour to proprietary (or auto, which falls back to it).']


def test_blackwell_auto_has_no_fallback_when_open_refused():
    # Blackwell runs only the open module: nothing to fall back to (Ubuntu 24.04 R580)
    p = nd.plan(BLACKWELL, 'Ubuntu', '24.04', 'x86_64', '6.8.0-50-generic', available=_ubuntu_available(580),
                not_installable={'open': 'E: broken'})
    assert p['action'] == 'fail'
    assert p['errors'] == ['nvidia_driver_flavour auto: apt cannot install branch 580 on ubuntu2404 with the open kernel '
                           'module from the configured sources: open: E: broken. Check the apt sources (a mirror behind '
                           'the security archive), or choose another nvidia_driver_branch or nvidia_driver_source.']


def test_explicit_flavour_refused_for_gpu_that_runs_only_it():
    p = nd.plan(PASCAL, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', flavour='proprietary',
                not_installable={'proprietary': 'E: broken'})
    assert p['errors'][0].endswith('(apt-get -s install: E: broken). Check the apt sources, or choose another '
                                   'nvidia_driver_branch.')


# ---- DKMS, dpkg and modinfo on the host --------------------------------------------------------------

# `dkms status` in labops-dlstack/debian-kernel:12 after nvidia-kernel-dkms (dkms 3.0.10), and dkms 2.8 (jammy)
DKMS_STATUS_DEBIAN12 = 'nvidia-current/535.309.01, 6.1.0-57-amd64, x86_64: installed\n'


@pytest.mark.parametrize('text,kernel,expected', [
    (DKMS_STATUS_DEBIAN12, '6.1.0-57-amd64', {'known': True, 'version': '535.309.01', 'state': 'installed', 'build': False}),
    (DKMS_STATUS_DEBIAN12, '6.1.0-58-amd64', {'known': True, 'version': '535.309.01', 'state': None, 'build': True}),
    ('nvidia-current/535.309.01: added\n', '6.1.0-57-amd64',
     {'known': True, 'version': '535.309.01', 'state': 'added', 'build': True}),
    ('nvidia-current/535.261.03, 6.1.0-57-amd64, x86_64: installed\nnvidia-current/535.309.01: added\n', '6.1.0-57-amd64',
     {'known': True, 'version': '535.309.01', 'state': 'added', 'build': True}),
    ('nvidia-current/535.309.01, 6.1.0-57-amd64, x86_64: installed (WARNING! Diff between built and installed module!)\n',
     '6.1.0-57-amd64', {'known': True, 'version': '535.309.01', 'state': 'installed', 'build': False}),
    ('nvidia, 535.54.03, 5.15.0-76-generic, x86_64: installed\n', '5.15.0-76-generic',
     {'known': True, 'version': '535.54.03', 'state': 'installed', 'build': False}),
    ('', '6.1.0-57-amd64', {'known': False, 'version': None, 'state': None, 'build': True}),
])
def test_dkms_state(text, kernel, expected):
    module = 'nvidia' if text.startswith('nvidia,') else 'nvidia-current'
    assert nd.dkms_state(text, module, kernel) == expected


def test_parse_dkms_status_fields():
    assert nd.parse_dkms_status(DKMS_STATUS_DEBIAN12) == [
        {'module': 'nvidia-current', 'version': '535.309.01', 'kernel': '6.1.0-57-amd64', 'arch': 'x86_64', 'state': 'installed'}]


def test_dkms_build_error_recorded_debian13_open():
    # /var/lib/dkms/nvidia-current-open/550.163.01/build/make.log, nvidia-open-kernel-dkms 550.163.01-2 against
    # linux-headers-6.12.118+deb13-amd64 in labops-dlstack/debian-kernel:13 (2026-12-01)
    log = ('  CONFTEST: fence_set_error\n'
           '/var/lib/dkms/nvidia-current-open/550.163.01/build/nvidia/nv-pci.c:237:9: error: too few arguments to '
           'function \u2018pci_resize_resource\u2019\n'
           'make[4]: *** [/usr/src/linux-headers-6.12.118+deb13-common/scripts/Makefile.build:234: '
           '/var/lib/dkms/nvidia-current-open/550.163.01/build/nvidia/nv-pci.o] Error 1\n')
    assert nd.dkms_build_error(log) == ('nvidia/nv-pci.c:237:9: error: too few arguments to function '
                                        '\u2018pci_resize_resource\u2019')
    assert nd.dkms_build_error('make: Nothing to be done\n') is None


def test_broken_family_packages():
    out = ('nvidia-open-kernel-dkms iF \nnvidia-smi hi \nlibcuda1:amd64 ii \nnvidia-kernel-common iU \n'
           'nvidia-cuda-toolkit iF \nnvidia-kernel-dkms rc \nbash ii \nnvidia-persistenced hF \n'
           'firmware-nvidia-gsp iiR\n')
    assert nd.broken_family_packages(out) == ['firmware-nvidia-gsp', 'nvidia-kernel-common', 'nvidia-open-kernel-dkms',
                                              'nvidia-persistenced']


@pytest.mark.parametrize('modinfo,expected', [
    ({'rc': 0, 'stdout': '535.309.01\n', 'stderr': ''}, []),
    ({'rc': 0, 'stdout': '535.261.03\n', 'stderr': ''},
     ['the nvidia-current kernel module for kernel 6.1.0-57-amd64 is 535.261.03, the installed driver 535.309.01: '
      'run dkms autoinstall -k 6.1.0-57-amd64']),
    ({'rc': 1, 'stdout': '', 'stderr': 'modinfo: ERROR: Module nvidia-current not found.\n'},
     ['no nvidia-current kernel module for kernel 6.1.0-57-amd64 (modinfo: modinfo: ERROR: Module nvidia-current not '
      'found.): DKMS did not build it; see dkms status and /var/lib/dkms/nvidia-current/*/build/make.log']),
])
def test_built_module_problems(modinfo, expected):
    assert nd.built_module_problems(modinfo, '535.309.01-0+deb12u1', 'nvidia-current', '6.1.0-57-amd64') == expected


# ---- reboot without a GPU ------------------------------------------------------------------------------

def test_no_gpu_reboot_only_for_a_rebuilt_initramfs():
    d = nd.reboot_decision(NO_GPU_HOST, '535.309.01-0+deb12u1', without_gpu=True)
    assert (d['required'], d['reboot'], d['reasons']) == (False, False, [])
    d = nd.reboot_decision(NO_GPU_HOST, '535.309.01-0+deb12u1', without_gpu=True, initramfs_rebuilt=True)
    assert (d['required'], d['reboot']) == (True, True)
    assert d['reasons'] == ['no GPU: the initramfs was rebuilt with the nouveau blacklist; one reboot proves the host '
                            'boots it before its GPUs are fitted (the NVIDIA module cannot load without a GPU)']
    d = nd.reboot_decision(NO_GPU_HOST, '535.309.01-0+deb12u1', without_gpu=True, initramfs_rebuilt=True, connection='local')
    assert (d['required'], d['reboot']) == (True, False)


def test_no_gpu_reboot_never_in_a_host_image_container():
    d = nd.reboot_decision(NO_GPU_CONTAINER, '535.309.01-0+deb12u1', mode='host', without_gpu=True, initramfs_rebuilt=True)
    assert (d['required'], d['reboot']) == (False, False)
    assert d['why_not'].startswith('container:')


def test_gpu_host_reboot_reasons_unchanged_by_initramfs():
    d = nd.reboot_decision(HOPPER, '535.309.01-0+deb12u1', initramfs_rebuilt=True)
    assert d['reasons'] == ['the NVIDIA kernel module is not loaded; installed driver is 535.309.01']


def test_verify_after_reboot_without_gpu():
    assert nd.verify_after_reboot(NO_GPU_HOST, '535.309.01-0+deb12u1', without_gpu=True) == []
    assert nd.verify_after_reboot(dict(NO_GPU_HOST, nouveau_loaded=True), '535.309.01', without_gpu=True) == [
        'nouveau is still loaded after the reboot: check /etc/modprobe.d and the initramfs']
    assert nd.verify_after_reboot(NO_GPU_HOST, '535.309.01')[0].startswith('after the reboot no NVIDIA kernel module is loaded')


@pytest.mark.parametrize('kwargs', [{'chroot': True}, {'connection': 'community.general.chroot'}])
def test_never_reboot_in_a_chroot(kwargs):
    d = nd.reboot_decision(NO_GPU_HOST, '535.309.01-0+deb12u1', without_gpu=True, initramfs_rebuilt=True, **kwargs)
    assert (d['required'], d['reboot']) == (False, False)
    assert d['why_not'] == 'chroot: a host image is being built here; never reboot (the host it runs in is another)'


@pytest.mark.parametrize('kernel,meta', [
    ('6.1.0-57-amd64', 'linux-headers-amd64'),            # bookworm
    ('6.12.118+deb13-amd64', 'linux-headers-amd64'),      # trixie
    ('6.12.118+deb13-cloud-amd64', 'linux-headers-cloud-amd64'),
    ('6.12.9+bpo-amd64', 'linux-headers-amd64'),          # bookworm-backports
    ('6.1.0-57-rt-amd64', 'linux-headers-rt-amd64'),
    ('', None), (None, None), ('linux', None),
])
def test_debian_headers_metapackage(kernel, meta):
    assert nd.debian_headers_metapackage(kernel) == meta


def test_headers_metapackage_only_where_apt_has_it():
    avail = {n: '535.309.01-0+deb12u1'
             for n in ('nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced', 'nvidia-kernel-dkms')}
    avail['linux-headers-6.1.0-57-amd64'] = '6.1.192-3'
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='535', flavour='proprietary',
                install_without_gpu=True, available=avail)
    assert p['errors'] == [] and 'linux-headers-amd64' not in p['packages']
    avail['linux-headers-amd64'] = '6.1.192-3'
    p = nd.plan(NO_GPU_HOST, 'Debian', '12', 'x86_64', '6.1.0-57-amd64', branch='535', flavour='proprietary',
                install_without_gpu=True, available=avail)
    assert p['packages'][-1] == 'linux-headers-amd64'


def test_repo_settings_follow_the_host_and_each_variable():
    from ansible_collections.labops.dlstack.plugins.module_utils._nvidia_driver import repo_settings
    base = 'https://developer.download.nvidia.com/compute/cuda/repos/'
    got = repo_settings('Debian', '13.2', 'x86_64', base_url=base)
    assert got == {'path': 'debian13/x86_64', 'url': base + 'debian13/x86_64/',
                   'key_url': base + 'debian13/x86_64/8793F200.pub',
                   'fingerprint': '02182E60104FCDC26EAE1B8597A5D4CB8793F200', 'errors': []}
    got = repo_settings('Ubuntu', '24.04', 'aarch64', base_url=base, url='file:///srv/mirror/', key_fingerprint='abcd' * 10)
    assert (got['path'], got['url'], got['key_url'], got['fingerprint']) == (
        'ubuntu2404/sbsa', 'file:///srv/mirror/', 'file:///srv/mirror/3bf863cc.pub', 'ABCD' * 10)
    # a host NVIDIA has no directory for: refused unless the variables name one
    assert repo_settings('Fedora', '41', 'x86_64', base_url=base)['errors'][0].startswith(
        "nvidia_repo: NVIDIA's CUDA repository has no directory for Fedora 41 x86_64")
    named = repo_settings('Fedora', '41', 'x86_64', distro='debian12', arch='x86_64', base_url=base)
    assert (named['path'], named['errors']) == ('debian12/x86_64', [])


# --- the fact nvidia_driver_result and the host report ---------------------------------------------------------

def _container_plan():
    gpu = {'status': 'no_gpu', 'gpus': [], 'driver': {'loaded': False}, 'in_container': True}
    planned = nd.plan(gpu, 'Debian', '12', kernel_release='6.1.0-57-amd64', install_without_gpu=True, branch='535',
                      flavour='proprietary')
    return dict(planned, deferred=None), gpu


def test_role_result_from_a_container_install():
    planned, gpu = _container_plan()
    assert planned['action'] == 'install', planned['errors']
    result = nd.role_result(planned, gpu, installed_version='535.309.01-0+deb12u1', kernel_module_version='\n',
                            reboot={'required': False, 'reboot': False, 'reasons': [], 'why_not': None})
    assert sorted(result) == sorted(nd.RESULT_FROM_PLAN + (
        'kernel_module_version', 'held', 'removed', 'installed_version', 'loaded_version', 'gpu_status',
        'kernel_module_loaded', 'reboot_required', 'reboot_reasons', 'reboot_not_done_because'))
    assert result['action'] == 'install' and result['mode'] == 'container' and result['branch'] == 535
    assert result['kernel_module_version'] is None  # modinfo said nothing
    assert result['held'] == planned['hold'] and result['held']
    assert result['installed_version'] == '535.309.01-0+deb12u1'
    assert (result['loaded_version'], result['gpu_status'], result['kernel_module_loaded']) == (None, 'no_gpu', False)
    assert (result['reboot_required'], result['reboot_reasons'], result['reboot_not_done_because']) == (False, [], None)
    assert result['deferred'] is None


def test_role_result_without_hold_reboot_or_install():
    planned, gpu = _container_plan()
    gpu = dict(gpu, driver={'loaded': True, 'version': '535.309.01'})
    result = nd.role_result(dict(planned, deferred='waits: 1 GPU process (python, alice)'), gpu, hold=False)
    assert result['held'] == [] and result['installed_version'] == ''
    assert result['loaded_version'] == '535.309.01' and result['kernel_module_loaded'] is True
    assert result['reboot_required'] is False and result['reboot_reasons'] == []
    assert result['deferred'] == 'waits: 1 GPU process (python, alice)'


def test_host_report_keeps_only_a_pending_reboot():
    planned, gpu = _container_plan()
    done = nd.role_result(planned, gpu, reboot={'required': True, 'reasons': ['nouveau is loaded'], 'why_not': None})
    report = nd.host_report(done)
    assert not set(nd.REBOOT_KEYS) & set(report)
    assert (report['reboot_pending'], report['reboot_pending_reasons'], report['reboot_pending_because']) == (False, [], None)
    left = nd.role_result(planned, gpu, reboot={'required': True, 'reasons': ['nouveau is loaded'],
                                                'why_not': 'nvidia_driver_reboot is never'})
    report = nd.host_report(left)
    assert (report['reboot_pending'], report['reboot_pending_reasons'], report['reboot_pending_because']) == (
        True, ['nouveau is loaded'], 'nvidia_driver_reboot is never')
    assert {k: v for k, v in report.items() if not k.startswith('reboot_pending')} == {
        k: v for k, v in left.items() if k not in nd.REBOOT_KEYS}

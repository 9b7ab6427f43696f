# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The knowledge tables and their functions, checked against the research tables and real captures."""

from __future__ import annotations

import ast
import glob
import os
import re

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as k
from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import parse_nvidia_smi_xml

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'gpu')
TSV = os.path.join(FIXTURES, 'pciids', 'nvidia_pci_ids_from_pciids_2026-08-22.tsv')


def _tsv_rows():
    with open(TSV, encoding='utf-8') as handle:
        next(handle)
        return [line.rstrip('\n').split('\t') for line in handle if line.strip()]


# ---- compute capability -> architecture (T5) -----------------------------------------------------

@pytest.mark.parametrize('cc, arch', [
    ('2.0', 'Fermi'), ('3.7', 'Kepler'),
    ('5.0', 'Maxwell'), ('5.2', 'Maxwell'), ('6.0', 'Pascal'), ('6.1', 'Pascal'), ('7.0', 'Volta'),
    ('7.5', 'Turing'), ('8.0', 'Ampere'), ('8.6', 'Ampere'), ('8.9', 'Ada'), ('9.0', 'Hopper'),
    ('10.0', 'Blackwell'), ('10.3', 'Blackwell'), ('11.0', 'Blackwell'), ('12.0', 'Blackwell'), ('12.1', 'Blackwell'),
    ('sm_90', 'Hopper'), ('compute_120', 'Blackwell'), ((8, 9), 'Ada'), ('9', 'Hopper'), ('86', 'Ampere'),
    ('1.0', None), ('garbage', None), (None, None),
])
def test_arch_from_compute_capability(cc, arch):
    assert k.arch_from_compute_capability(cc) == arch


@pytest.mark.parametrize('value, expected', [
    ('9.0', '9.0'), ('sm_100', '10.0'), ('sm_120a', '12.0'), ('compute_90', '9.0'), (9.0, '9.0'), ((12, 1), '12.1'),
    ('75', '7.5'), ('x', None), (True, None),
])
def test_normalize_compute_capability(value, expected):
    assert k.normalize_compute_capability(value) == expected


@pytest.mark.parametrize('name, expected', [('Ada Lovelace', 'Ada'), ('hopper', 'Hopper'), ('Blackwell', 'Blackwell'),
                                            ('Rubin', 'Rubin'), ('Feynman', None), ('', None)])
def test_normalize_architecture(name, expected):
    # 'Ada Lovelace' is how nvidia-smi -q -x spells it (netdata rtx-4090-driver-535.xml)
    assert k.normalize_architecture(name) == expected


# ---- PCI ids: every TSV row ------------------------------------------------------------------------

# rows of the TSV that are not GPUs (tools/gen_pci_ids.py NOT_GPUS): 0x22ce / 0x22d0 are the
# GB10's PCIe host bridges (pci.ids "GB10 GEN5 X4 PCIe host", "GB10 GEN4 X1 PCIe host"; issue #19 audit)
NOT_GPUS = ('22ce', '22d0')


@pytest.mark.parametrize('row', _tsv_rows(), ids=lambda r: r[0])
def test_pci_table_matches_tsv(row):
    device_id, chip, arch, cc, name = row[:5]
    info = k.pci_device_info('0x' + device_id)
    if device_id in NOT_GPUS:
        assert info is None
        assert name.endswith('PCIe host')
        return
    assert info['pci_device_id'] == '0x' + device_id
    assert info['chip'] == chip
    assert info['architecture'] == arch
    assert info['pci_name'] == name
    expected_cc = cc or k.CHIP_COMPUTE_CAPABILITY.get(chip)
    assert info['compute_capability'] == expected_cc
    if expected_cc:
        assert k.arch_from_compute_capability(expected_cc) == arch


def test_pci_table_is_generated_from_the_tsv():
    import importlib.util
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'tools', 'gen_pci_ids.py')
    spec = importlib.util.spec_from_file_location('gen_pci_ids', path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(['--check']) == 0
    assert len(_tsv_rows()) == 959


@pytest.mark.parametrize('value, expected', [
    ('0x2335', '0x2335'), ('2335', '0x2335'), (0x2335, '0x2335'), ('0x233510DE', '0x2335'),  # nvidia-smi pci.device_id
    ('0x000000DE', None),  # the A10G vGPU in telegraf/a10g.xml
    ('0x1AF41042', None),  # not NVIDIA
    ('[REDACTED]', None), (None, None),
])
def test_normalize_pci_device_id(value, expected):
    assert k.normalize_pci_device_id(value) == expected


@pytest.mark.parametrize('device_id, arch, cc', [
    ('0x2335', 'Hopper', '9.0'),     # H200 (h200-driver580)
    ('0x2b85', 'Blackwell', '12.0'),  # RTX 5090 (open-gpu-kernel-modules#862)
    ('0x2901', 'Blackwell', '10.0'),  # B200
    ('0x2184', 'Turing', '7.5'),     # "Graphics Device" of telegraf/gtx-1660-ti.xml
    ('0x1d01', 'Pascal', '6.1'),     # GT 1030
    ('0x102d', 'Kepler', '3.7'),     # Tesla K80 (CC from CHIP_COMPUTE_CAPABILITY)
    ('0xffff', None, None),
])
def test_arch_from_pci_device_id(device_id, arch, cc):
    assert k.arch_from_pci_device_id(device_id) == arch
    assert k.compute_capability_from_pci_device_id(device_id) == cc


@pytest.mark.parametrize('name, arch, cc', [
    ('NVIDIA A10G', 'Ampere', '8.6'),            # telegraf/a10g.xml hides the device id (0x000000DE)
    ('NVIDIA GeForce RTX 3090', 'Ampere', '8.6'),  # telegraf/rtx-3090-v12.xml has it [REDACTED]
    ('GeForce GTX 1070 Ti', 'Pascal', '6.1'),      # telegraf/gtx-1070-ti.xml has no pci block
    ('GRID P4-1Q', None, None),                   # a vGPU profile name: no match
])
def test_pci_device_info_from_name(name, arch, cc):
    info = k.pci_device_info_from_name(name)
    assert (info['architecture'] if info else None) == arch
    assert (info['compute_capability'] if info else None) == cc


@pytest.mark.parametrize('value, arch', [('9.0', 'Hopper'), ('0x2335', 'Hopper'), ('2b85', 'Blackwell'), ('Ada Lovelace', 'Ada'), ('8.9', 'Ada'), ('', None)])
def test_gpu_arch(value, arch):
    assert k.gpu_arch(value) == arch


# ---- CUDA <-> driver (T2, B.4) -------------------------------------------------------------------

@pytest.mark.parametrize('cuda, driver', [
    # T2 "min Linux driver (minor-compat)"
    ('cu118', '450.80.02'), ('cu121', '525.60.13'), ('cu124', '525.60.13'), ('cu126', '525.60.13'),
    ('cu128', '525.60.13'), ('cu129', '525.60.13'), ('cu130', '580.65.06'), ('cu132', '580.65.06'),
    ('11.0', '450.36.06'), ('13.0', '580.65.06'), ('12.8.1', '525.60.13'), ('10.2', '440.33'),
])
def test_cuda_min_driver(cuda, driver):
    assert k.cuda_min_driver(cuda) == driver


def test_cuda_min_driver_unknown():
    with pytest.raises(ValueError):
        k.cuda_min_driver('8.0')
    with pytest.raises(ValueError):
        k.cuda_min_driver('nonsense')


@pytest.mark.parametrize('driver, cuda, ok', [
    ('580.159.04', '13.0', True), ('580.159.04', '13.2', True),  # 13.x minor-version compatibility
    ('575.57.08', '13.0', False), ('570.124.04', '12.8', True), ('525.60.13', '12.9', True),
    ('525.60.12', '12.0', False), ('470.74', '11.8', True), ('418.43', '11.0', False),
    ('610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]', 'cu132', True),
    (None, '12.0', False), ('580.159.04', '99.0', False),
])
def test_driver_supports_cuda(driver, cuda, ok):
    assert k.driver_supports_cuda(driver, cuda) is ok


def _xml_captures():
    out = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, '*', '*.xml'))):
        with open(path, encoding='utf-8') as handle:
            parsed = parse_nvidia_smi_xml(handle.read())
        if parsed['driver_version'] and parsed['cuda_version']:
            out.append((os.path.relpath(path, FIXTURES), parsed['driver_version'], parsed['cuda_version']))
    return out


def test_every_capture_with_a_driver_is_used():
    # all XML captures but the truncated gtx-1070-ti.xml carry driver and CUDA version
    assert len(_xml_captures()) == 25


@pytest.mark.parametrize('capture, driver, cuda', _xml_captures(), ids=lambda v: v if isinstance(v, str) and v.endswith('.xml') else None)
def test_driver_max_cuda_matches_what_nvidia_smi_reported(capture, driver, cuda):
    """nvidia-smi prints the driver's CUDA version next to the driver version: the table must agree."""
    assert k.driver_max_cuda(driver) == cuda


@pytest.mark.parametrize('driver, cuda', [
    ('580.159.04', '13.0'),  # h200-driver580/misc.txt: "CUDA Version : 13.0"
    ('610.57.04', '13.3'),   # R610 capture: "CUDA UMD version : 13.3"
    ('375.74', None), (None, None),
])
def test_driver_max_cuda(driver, cuda):
    assert k.driver_max_cuda(driver) == cuda


@pytest.mark.parametrize('driver, branch', [('580.159.04', 580), ('470.74', 470), ('610.57.04 [Deprecated]', 610), (None, None)])
def test_driver_branch(driver, branch):
    assert k.driver_branch(driver) == branch


# ---- driver requirements (T5, B.5) ---------------------------------------------------------------

@pytest.mark.parametrize('gpus, min_branch, max_branch, flavour, supported, satisfiable', [
    (['9.0'], 520, None, 'open', ['open', 'proprietary'], True),
    (['6.1'], 367, 580, 'proprietary', ['proprietary'], True),
    (['5.2', '7.0'], 384, 580, 'proprietary', ['proprietary'], True),
    (['12.0'], 570, None, 'open', ['open'], True),
    (['10.0', '9.0'], 570, None, 'open', ['open'], True),
    (['6.1', '7.5'], 410, 580, 'proprietary', ['proprietary'], True),
    (['6.1', '12.0'], 570, 580, None, [], False),   # Pascal needs proprietary, Blackwell open
    (['3.7', '12.0'], 570, 470, None, [], False),   # Kepler ends at R470, Blackwell starts at R570
    # GH200 0x2342: open only; first in the README at 535.43.19
    ([{'architecture': 'Hopper', 'compute_capability': '9.0', 'pci_device_id': '0x2342'}], 535, None, 'open', ['open'], True),
    # H200 0x2335: first in the open-gpu-kernel-modules README at 550.40.65 (device minimum above Hopper's R520)
    (['0x2335'], 550, None, 'open', ['open', 'proprietary'], True),
    (['Turing'], 410, None, 'open', ['open', 'proprietary'], True),
    ([], None, None, None, [], True),
])
def test_requirements_for_gpus(gpus, min_branch, max_branch, flavour, supported, satisfiable):
    req = k.requirements_for_gpus(gpus)
    assert req['min_branch'] == min_branch
    assert req['max_branch'] == max_branch
    assert req['kernel_module'] == flavour
    assert req['kernel_modules_supported'] == supported
    assert req['satisfiable'] is satisfiable
    assert req['reasons']


@pytest.mark.parametrize('gpus, driver, flavour, problems', [
    (['9.0'], '580.159.04', 'open', []),
    (['12.0'], '580.159.04', 'proprietary', ['the proprietary kernel module does not run these GPUs (they need: open)']),
    (['12.0'], '550.54.14', 'open', ['driver R550 is older than R570, the oldest branch these GPUs need']),
    (['6.1'], '595.71.05', 'proprietary', ['driver R595 is newer than R580, the last branch that supports these GPUs']),
    (['6.1'], '580.159.04', 'open', ['the open kernel module does not run these GPUs (they need: proprietary)']),
])
def test_driver_requirement_problems(gpus, driver, flavour, problems):
    assert k.driver_requirement_problems(k.requirements_for_gpus(gpus), driver, flavour) == problems


# ---- torch wheels (B.2, B.3, T4) -------------------------------------------------------------------

def test_h200_torch_211_cu130_arch_list_is_the_captured_one(fixture_text):
    """misc.txt: torch 2.11.0+cu130 on the H200 printed its torch.cuda.get_arch_list()."""
    line = [ln for ln in fixture_text('h200-driver580', 'misc.txt').splitlines() if ln.startswith('2.11.0+cu130')][0]
    arch_list = ast.literal_eval(line[line.index('['):])
    variant = k.TORCH_RELEASES['2.11']['variants']['cu130']
    assert tuple(k.normalize_compute_capability(a) for a in arch_list if a.startswith('sm_')) == variant['archs']
    assert variant['ptx'] is None  # no compute_XY in the list: no PTX in the released wheel


@pytest.mark.parametrize('archs, ptx, cc, cuda, verdict', [
    (('8.0', '8.6'), None, '8.9', None, 'native'),   # Ada runs sm_86
    (('8.0',), None, '8.6', None, 'native'),
    (('9.0',), None, '9.0', None, 'native'),
    (('10.0',), None, '10.3', None, 'native'),      # B300 runs sm_100
    (('12.0',), None, '12.1', None, 'native'),      # GB10 runs sm_120
    (('8.6',), None, '8.0', None, None),            # higher minor does not run on lower
    (('9.0',), None, '10.0', None, None),           # other major: no
    (('9.0',), '9.0', '10.0', '12.4', None),        # PTX, but CUDA 12.4 does not know Blackwell
    (('9.0',), '9.0', '10.0', '12.8', 'ptx'),
    (('12.0',), '12.0', '11.0', '13.0', None),      # PTX never runs backwards
    (('7.5', '12.0'), '12.0', '12.1', '13.0', 'native'),
    (('7.5',), None, 'bad', None, None),
])
def test_arch_list_runs_on(archs, ptx, cc, cuda, verdict):
    assert k.arch_list_runs_on(archs, ptx, cc, cuda) == verdict


@pytest.mark.parametrize('torch, ccs, driver, variants', [
    ('2.11', ['9.0'], '580.159.04', ['cu130', 'cu128', 'cu126', 'cu129', 'cpu']),  # the H200
    ('2.11', ['9.0'], '570.124.04', ['cu128', 'cu126', 'cu129', 'cpu']),           # cu130 needs >= 580.65.06
    ('2.11', ['6.1'], '580.159.04', ['cu126', 'cpu']),                             # Pascal: cu126 only
    ('2.11', ['7.0'], '580.159.04', ['cu126', 'cpu']),                             # sm_70 dropped from cu128 in 2.11
    ('2.8', ['7.0'], '580.159.04', ['cu128', 'cu126', 'cu129', 'cpu']),             # T5: Volta cu128/129 only 2.8-2.10; cu129 experimental in 2.8
    ('2.13', ['9.0'], '580.159.04', ['cu130', 'cu126', 'cu132', 'cpu']),            # stable before experimental: not cu132
    ('2.11', ['12.0'], '590.44.01', ['cu130', 'cu128', 'cu129', 'cpu']),           # RTX PRO 6000 Blackwell
    ('2.6', ['12.0'], '590.44.01', ['cpu']),                                      # no Blackwell before 2.7
    ('2.7', ['12.0'], '590.44.01', ['cu128', 'cpu']),
    ('2.11', ['6.1', '12.0'], '580.159.04', ['cpu']),                              # no common variant
    ('2.11', ['8.0'], '510.47.03', ['cpu']),                                      # driver too old for any 2.11 wheel
    ('2.5', ['8.0'], '510.47.03', ['cu118', 'cpu']),
    ('2.5', ['12.0'], '590.44.01', ['cpu']),                                      # 9.0+PTX from CUDA 12.4 does not serve sm_120
    ('2.14', ['9.0'], '580.159.04', ['cu132', 'cu130', 'cu126', 'cpu']),
    ('2.11', [], '580.159.04', ['cpu']),
    ('2.11', ['9.0'], None, ['cu130', 'cu128', 'cu126', 'cu129', 'cpu']),           # no driver filter (planning)
    ('2.11.0+cu130', ['sm_90'], '580.159.04', ['cu130', 'cu128', 'cu126', 'cu129', 'cpu']),
])
def test_torch_variants(torch, ccs, driver, variants):
    assert k.torch_variants(torch, ccs, driver) == variants


def test_torch_releases_cover_2_4_to_2_15():
    assert k.torch_releases()[0] == '2.4'
    # torch 2.15.0 is on PyPI (released 2026-10-28)
    assert k.latest_torch_release() == '2.15'
    for version in ('2.5', '2.6', '2.7', '2.8', '2.9', '2.10', '2.11', '2.12', '2.13', '2.14', '2.15'):
        release = k.TORCH_RELEASES[version]
        assert release['default'] in release['variants']
        for variant in release['variants']:
            assert re.match(r'^cu1[1-3]\d$', variant)
            k.cuda_min_driver(variant)


def test_unknown_torch_version():
    with pytest.raises(ValueError, match='known: 2.4, 2.5'):
        k.torch_variants('1.13', ['9.0'])


def test_torch_recommendation_h200():
    rec = k.torch_recommendation('2.11', ['9.0'], '580.159.04')
    assert rec['recommended_variant'] == 'cu130'
    assert rec['index_url'] == 'https://download.pytorch.org/whl/cu130'
    assert rec['pypi_default_variant'] == 'cu130'
    assert [c['variant'] for c in rec['candidates']] == ['cu130', 'cu128', 'cu126', 'cu129']
    assert rec['candidates'][0]['min_driver'] == '580.65.06'


def test_torch_recommendation_not_usable_lists_candidates():
    rec = k.torch_recommendation('2.11', ['12.0'], None, usable=False)
    assert rec['variants'] == ['cpu']
    assert rec['recommended_variant'] == 'cpu'
    assert [(c['variant'], c['min_driver']) for c in rec['candidates']] == [('cu130', '580.65.06'), ('cu128', '525.60.13'), ('cu129', '525.60.13')]


@pytest.mark.parametrize('variant, template, url', [
    ('cu130', k.TORCH_WHEEL_INDEX_TEMPLATE, 'https://download.pytorch.org/whl/cu130'),
    ('cpu', k.TORCH_WHEEL_INDEX_TEMPLATE, 'https://download.pytorch.org/whl/cpu'),
    ('cu126', 'https://mirror.lab/whl/{variant}/', 'https://mirror.lab/whl/cu126/'),
])
def test_torch_wheel_index(variant, template, url):
    assert k.torch_wheel_index(variant, template) == url


# ---- issue #19: knowledge that matches the real world ----------------------------------------------

NVCC = os.path.join(FIXTURES, '..', 'nvcc')


def _nvcc_list(name):
    with open(os.path.join(NVCC, name), encoding='utf-8') as handle:
        return [k.normalize_compute_capability(line.strip()) for line in handle if line.strip()]


@pytest.mark.parametrize('cuda, driver', [
    # CUDA release notes, "CUDA Toolkit and Corresponding Driver Versions": CUDA 9.1 (9.1.85) >= 390.46
    ('9.1', '390.46'),
    # issue #19 audit: "610.43.02 runs CUDA 13.3 (the 13.3.0 runfile's driver)"
    ('13.3', '610.43.02'),
    # issue #19 audit: "CUDA 13.4 exists"; its GA driver is not recorded
    ('13.4', None),
])
def test_cuda_toolkit_drivers(cuda, driver):
    assert k.cuda_toolkit_driver(cuda) == driver
    assert cuda in k.known_cuda_versions()


def test_cuda_13_4_plans_through_minor_version_compatibility():
    # CUDA 13.x runs on >= 580.65.06 (minor-version compatibility, research B.4)
    assert k.cuda_min_driver('13.4') == '580.65.06'
    assert k.driver_supports_cuda('580.159.04', '13.4') is True
    # but no driver is taken to run 13.4 natively: its GA driver is unknown
    assert k.driver_max_cuda('620.10.01') == '13.3'
    assert k.driver_max_cuda('610.43.02') == '13.3'
    assert k.driver_max_cuda('595.45.04') == '13.2'
    assert k.driver_max_cuda('390.46') == '9.1'
    assert k.driver_max_cuda('387.26') == '9.0'


@pytest.mark.parametrize('cuda, lowest', [
    ('9.2', '3.0'), ('10.2', '3.0'), ('11.0', '3.5'), ('11.8', '3.5'), ('12.0', '5.0'), ('12.9', '5.0'),
    # CUDA 13.0 removed offline compilation for Maxwell, Pascal and Volta: nvcc --list-gpu-arch starts at
    # compute_75 (issue #19 audit)
    ('13.0', '7.5'), ('13.4', '7.5'), ('8.0', None),
])
def test_cuda_min_compute_capability(cuda, lowest):
    assert k.cuda_min_compute_capability(cuda) == lowest


@pytest.mark.parametrize('cuda, fixture', [
    # the real nvcc of Debian's nvidia-cuda-toolkit 11.8.89~11.8.0-5~deb12u1 and 12.4.131~12.4.1-2
    # (tests/unit/fixtures/nvcc/README.md)
    ('11.8', 'list-gpu-arch-11.8-debian12.txt'),
    ('12.4', 'list-gpu-arch-12.4-debian13.txt'),
])
def test_compile_targets_are_what_real_nvcc_lists(cuda, fixture):
    assert k.cuda_compile_targets(cuda) == _nvcc_list(fixture)


@pytest.mark.parametrize('cuda, cc, ok', [
    ('13.0', '7.0', False), ('13.0', '6.1', False), ('13.0', '5.2', False), ('12.9', '7.0', True),
    ('13.0', '7.5', True), ('12.8', '12.1', False), ('12.9', '12.1', True), ('12.9', '11.0', False),
    ('13.0', '11.0', True), ('11.8', '9.0', True), ('11.7', '9.0', False), ('12.4', '3.7', False),
    ('13.0', 'bad', False), ('bad', '9.0', False),
])
def test_cuda_compiles_for(cuda, cc, ok):
    assert k.cuda_compiles_for(cuda, cc) is ok


@pytest.mark.parametrize('driver, ccs, cuda', [
    # issue #19 row 4: "A V100, GTX 1080 or P100 on R580 [...] gets 13.0 today"; the newest toolkit is the
    # newest the driver runs AND every GPU can be compiled for: 12.9
    ('580.159.04', ['7.0'], '12.9'), ('580.159.04', ['6.1'], '12.9'), ('580.159.04', ['6.0'], '12.9'),
    ('580.159.04', ['9.0'], '13.0'), ('580.159.04', ['7.0', '9.0'], '12.9'), ('580.159.04', [], '13.0'),
    ('575.57.08', ['12.1'], '12.9'), ('570.124.06', ['12.0'], '12.8'), ('470.256.02', ['3.7'], '11.4'),
    ('610.57.04', ['9.0'], '13.3'), ('375.74', ['6.1'], None),
])
def test_newest_cuda_for(driver, ccs, cuda):
    assert k.newest_cuda_for(driver, ccs) == cuda


@pytest.mark.parametrize('device, first', [
    # NVIDIA/open-gpu-kernel-modules README "Product Name | PCI ID", first release tag listing each id
    # (tests/unit/fixtures/gpu/open-gpu-kernel-modules/first_driver_by_device.tsv); issue #19 row 5
    ('0x3182', '580.82.07'),   # B300 SXM6 AC
    ('0x31c2', '580.82.07'),   # GB300
    ('0x2e12', '580.94.13'),   # GB10
    ('0x2d83', '575.64.03'),   # GeForce RTX 5050
    ('0x2bb5', '575.57.08'),   # RTX PRO 6000 Blackwell Server Edition
    ('0x2348', '565.57.01'),   # GH200 144G HBM3e
    ('0x2901', '570.86.15'),   # B200
    ('0x2900', None),          # GB100 "Reserved Dev ID A": not in the README, the architecture minimum applies
    ('0x20b0', None),          # A100: Ampere predates the open modules, their README says nothing of its first driver
])
def test_device_min_driver(device, first):
    assert k.device_min_driver(device) == first


@pytest.mark.parametrize('device, min_branch, min_driver', [
    ('0x3182', 580, '580.82.07'), ('0x31c2', 580, '580.82.07'), ('0x2e12', 580, '580.94.13'),
    ('0x2d83', 575, '575.64.03'), ('0x2bb5', 575, '575.57.08'), ('0x2348', 565, '565.57.01'),
    ('0x2b85', 570, '570.86.16'),   # RTX 5090: the R570 of the architecture
])
def test_blackwell_and_hopper_minimum_is_per_device(device, min_branch, min_driver):
    req = k.requirements_for_gpus([device])
    assert (req['min_branch'], req['min_driver']) == (min_branch, min_driver)
    assert 'first NVIDIA/open-gpu-kernel-modules release whose README lists %s' % device in req['reasons'][0]


def test_driver_older_than_the_devices_first_release_is_a_problem():
    req = k.requirements_for_gpus([{'architecture': 'Blackwell', 'compute_capability': '12.1', 'pci_device_id': '0x2e12'}])
    assert k.driver_requirement_problems(req, '580.82.07', 'open') == [
        'driver 580.82.07 is older than 580.94.13, the first driver release NVIDIA lists these GPUs in']
    assert k.driver_requirement_problems(req, '580.94.13', 'open') == []


def test_rubin_is_named_not_dropped():
    # NVML nvmlDeviceGetArchitecture: RUBIN = 13 (research C.2); chips GR100/GR102 (issue #19 audit)
    info = k.architecture_info('Rubin')
    assert (info['nvml_enum'], info['pci_prefix'], info['kernel_modules']) == (13, 'GR', ('open',))
    req = k.requirements_for_gpus([{'architecture': 'Rubin', 'compute_capability': None, 'pci_device_id': None}])
    assert req['architectures'] == ['Rubin']
    assert req['kernel_module'] == 'open'
    assert "first driver and CUDA version not known to the collection's tables" in req['reasons'][0]
    assert not any('unknown architecture' in r for r in req['reasons'])


@pytest.mark.parametrize('device', ['0x22ce', '0x22d0'])
def test_gb10_host_bridges_are_not_gpus(device):
    # pci.ids: "GB10 GEN5 X4 PCIe host" / "GB10 GEN4 X1 PCIe host" (issue #19: PCIe host bridges, not GPUs)
    assert k.pci_device_info(device) is None
    assert k.requirements_for_gpus([device])['architectures'] == []


def test_torch_2_15():
    # PyPI torch 2.15.0 (2026-10-28): Requires-Python >=3.11, cp311 .. cp315 wheels, default +cu132 with
    # arch flags sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 and no PTX; CUDA 13.0 stable as well; cu126 removed
    # (pytorch/pytorch#190385)
    release = k.TORCH_RELEASES['2.15']
    assert (release['python'], release['default'], release['patches']) == ('3.11-3.15', 'cu132', ('2.15.0',))
    assert sorted(release['variants']) == ['cu130', 'cu132']
    assert release['variants']['cu132']['archs'] == ('7.5', '8.0', '8.6', '9.0', '10.0', '12.0')
    assert release['variants']['cu132']['ptx'] is None
    assert k.torch_variants('2.15', ['9.0'], '580.159.04') == ['cu132', 'cu130', 'cpu']
    # no Maxwell/Pascal/Volta wheel any more
    assert k.torch_variants('2.15', ['6.1'], '580.159.04') == ['cpu']
    assert k.torch_variants('2.15', ['7.0'], '580.159.04') == ['cpu']


@pytest.mark.parametrize('release, python', [
    # PyPI manylinux x86_64 wheels: no cp315 for 2.13 and 2.14 (issue #19 row 6), cp313 for 2.5
    ('2.13', '3.10-3.14'), ('2.14', '3.10-3.14'), ('2.12', '3.10-3.14'), ('2.5', '3.9-3.13'), ('2.4', '3.8-3.12'),
])
def test_python_ranges_from_the_wheels(release, python):
    assert k.TORCH_RELEASES[release]['python'] == python


def test_python_range_per_machine():
    # torch 2.5.x on PyPI: cp313 for x86_64 only
    assert k.torch_python_range('2.5', 'aarch64') == '3.9-3.12'
    assert k.torch_python_range('2.5', 'x86_64') == '3.9-3.13'
    assert k.torch_python_range('2.14', 'arm64') == '3.10-3.14'


@pytest.mark.parametrize('release, variant', [
    # the wheels' arch flags hold no compute_XY: no PTX (PyPI default wheels, issue #19 row 7)
    ('2.5', 'cu124'), ('2.6', 'cu124'), ('2.12', 'cu130'), ('2.13', 'cu130'), ('2.14', 'cu130'), ('2.11', 'cu130'),
])
def test_no_ptx_where_the_wheels_have_none(release, variant):
    spec = k.TORCH_RELEASES[release]['variants'][variant]
    assert spec['ptx'] is None
    assert spec['archs'] in (('5.0', '6.0', '7.0', '7.5', '8.0', '8.6', '9.0'), ('7.5', '8.0', '8.6', '9.0', '10.0', '12.0'))


@pytest.mark.parametrize('release, default', [
    # torch/version.py of the PyPI aarch64 wheels: +cpu (or no tag, CPU) up to 2.10, +cu130 from 2.11, +cu132 in 2.15
    ('2.4', 'cpu'), ('2.10', 'cpu'), ('2.11', 'cu130'), ('2.14', 'cu130'), ('2.15', 'cu132'),
])
def test_pypi_default_on_aarch64(release, default):
    assert k.TORCH_RELEASES[release]['default_aarch64'] == default
    assert k.torch_recommendation(release, [], machine='aarch64')['pypi_default_variant'] == default


def test_aarch64_arch_lists_are_shorter():
    # PyPI aarch64 wheels 2.11-2.14 (+cu130) and 2.15 (+cu132): sm_80 sm_90 sm_100 sm_110 sm_120, no PTX;
    # build_cuda.sh filter_aarch64_archs keeps fewer architectures than x86_64 (research B.3)
    for release, variant in (('2.11', 'cu130'), ('2.14', 'cu130'), ('2.15', 'cu132')):
        archs, ptx = k.variant_archs(k.TORCH_RELEASES[release]['variants'][variant], 'aarch64')
        assert (archs, ptx) == (('8.0', '9.0', '10.0', '11.0', '12.0'), None)
    # a Turing GPU has x86_64 wheels but no aarch64 one; Thor (11.0) the other way round
    assert k.torch_variants('2.14', ['7.5'], '580.159.04') == ['cu132', 'cu130', 'cu126', 'cpu']
    assert k.torch_variants('2.14', ['7.5'], '580.159.04', machine='aarch64') == ['cpu']
    assert k.torch_variants('2.14', ['11.0'], '580.159.04') == ['cpu']
    assert k.torch_variants('2.14', ['11.0'], '580.159.04', machine='aarch64') == ['cu132', 'cu130', 'cpu']
    # GH200 on aarch64: cu126 (8.0, 9.0) too
    assert k.torch_variants('2.14', ['9.0'], '580.159.04', machine='aarch64') == ['cu132', 'cu130', 'cu126', 'cpu']
    # variants with no aarch64 wheel known are left out there
    assert k.torch_variants('2.6', ['9.0'], '580.159.04', machine='aarch64') == ['cpu']
    assert k.torch_recommendation('2.14', ['9.0'], '580.159.04', machine='aarch64')['machine'] == 'aarch64'


@pytest.mark.parametrize('value, machine', [('x86_64', 'x86_64'), ('amd64', 'x86_64'), ('aarch64', 'aarch64'),
                                            ('arm64', 'aarch64'), ('sbsa', 'aarch64'), (None, 'x86_64'), ('ppc64le', None)])
def test_normalize_machine(value, machine):
    assert k.normalize_machine(value) == machine


@pytest.mark.parametrize('value, expected', [
    # Ubuntu's driver packages carry an epoch (deb-version(7): "[epoch:]upstream_version[-debian_revision]"),
    # e.g. nvidia-utils-580-server 1:580.95.05-0ubuntu0.24.04.2: the driver version is what follows it
    ('1:580.95.05-0ubuntu1', '580.95.05'),
    ('580.95.05-1', '580.95.05'),
    ('610.57.04 [Deprecated]', '610.57.04'),
])
def test_version_string_drops_a_package_epoch(value, expected):
    assert k.version_string(value) == expected
    assert k.parse_version(value) == tuple(int(p) for p in expected.split('.'))

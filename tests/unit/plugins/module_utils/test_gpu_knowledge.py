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


@pytest.mark.parametrize('name, expected', [('Ada Lovelace', 'Ada'), ('hopper', 'Hopper'), ('Blackwell', 'Blackwell'), ('Rubin', None), ('', None)])
def test_normalize_architecture(name, expected):
    # 'Ada Lovelace' is how nvidia-smi -q -x spells it (netdata rtx-4090-driver-535.xml)
    assert k.normalize_architecture(name) == expected


# ---- PCI ids: every TSV row ------------------------------------------------------------------------

@pytest.mark.parametrize('row', _tsv_rows(), ids=lambda r: r[0])
def test_pci_table_matches_tsv(row):
    device_id, chip, arch, cc, name = row[:5]
    info = k.pci_device_info('0x' + device_id)
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
    path = os.path.join(FIXTURES, '..', '..', 'tools', 'gen_pci_ids.py')
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
    ([{'architecture': 'Hopper', 'compute_capability': '9.0', 'pci_device_id': '0x2342'}], 520, None, 'open', ['open'], True),  # GH200
    (['0x2335'], 520, None, 'open', ['open', 'proprietary'], True),
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
def test_driver_meets_requirements(gpus, driver, flavour, problems):
    assert k.driver_meets_requirements(k.requirements_for_gpus(gpus), driver, flavour) == problems


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


def test_torch_releases_cover_2_5_to_2_14():
    assert k.torch_releases()[0] == '2.4'
    assert k.latest_torch_release() == '2.14'
    for version in ('2.5', '2.6', '2.7', '2.8', '2.9', '2.10', '2.11', '2.12', '2.13', '2.14'):
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

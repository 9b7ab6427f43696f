# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It runs on managed hosts, so it is pure Python >= 3.9 with no third-party imports.

"""What the collection knows about NVIDIA GPUs, drivers, CUDA and PyTorch wheels.

Plain data plus small pure functions. Every table carries its source; the research notes quoted
are shared/research/conda-pytorch-probe.md (tables T2, T4, T5, B.2-B.5) and
shared/research/nvidia-anchors.md, which cite the primary sources named below.

Vocabulary used throughout:
- compute capability: a string "X.Y" ("9.0"), as nvidia-smi's compute_cap prints it;
- architecture: "Maxwell", "Pascal", "Volta", "Turing", "Ampere", "Ada", "Hopper", "Blackwell";
- driver version: "580.159.04"; driver branch: its first number (580);
- PCI device id: "0x2335" (lower case, 4 hex digits, vendor 0x10de implied);
- torch wheel variant: "cu130", "cu126", ..., "cpu" (the suffix of https://download.pytorch.org/whl/<variant>).
"""

from __future__ import annotations

import re

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_pci_ids import (
    DEVICE_FIRST_DRIVER,
    DEVICE_GROUPS,
    DEVICE_NAMES,
    PCIIDS_SOURCE,
)

# --------------------------------------------------------------------------------------------------
# Architectures
# --------------------------------------------------------------------------------------------------

SRC_T5 = 'conda-pytorch-probe.md T5/B.5 (NVML enum: index ids 69060717009, 71285142382; branches: NVIDIA/ansible-role-nvidia-driver#89)'
SRC_LEGACY = 'NVIDIA legacy GPU list (nvidia.com/object/IO_32667): Fermi last branch R390, Kepler last branch R470; CC from developer.nvidia.com/cuda-gpus'
SRC_OPEN = ('NVIDIA/open-gpu-kernel-modules README ("Turing or later"); open modules need the GSP '
            '(negativo17/nvidia-driver#158); Blackwell open only (amazon-eks-ami#2769, Start9Labs/start-technologies#3465)')

# One row per architecture, oldest first.
#   compute_capabilities: every CC of the family (first = the lowest)
#   pci_prefix: chip code-name prefix in pci.ids ("GH100 [H200 SXM 141GB]")
#   kernel_modules: driver kernel-module flavours that run this architecture
#   min_branch: first driver branch that supports the family (first CUDA toolkit with its sm_XY and the
#               driver bundled with it); min_branch_by_cc refines it per CC
#   max_branch: last driver branch that supports it (legacy branch), None = all current branches
#   min_cuda: first CUDA toolkit that knows the architecture (a wheel built with an older CUDA can not
#             serve it, not even through PTX); min_cuda_by_cc refines it
ARCHITECTURES = (
    {'name': 'Fermi', 'compute_capabilities': ('2.0', '2.1'), 'nvml_enum': None, 'pci_prefix': 'GF',
     'kernel_modules': ('proprietary',), 'min_branch': None, 'max_branch': 390,
     'min_cuda': '3.0', 'source': SRC_LEGACY},
    {'name': 'Kepler', 'compute_capabilities': ('3.0', '3.2', '3.5', '3.7'), 'nvml_enum': 2, 'pci_prefix': 'GK',
     'kernel_modules': ('proprietary',), 'min_branch': None, 'max_branch': 470,
     'min_cuda': '5.0', 'source': SRC_LEGACY},
    {'name': 'Maxwell', 'compute_capabilities': ('5.0', '5.2', '5.3'), 'nvml_enum': 3, 'pci_prefix': 'GM',
     'kernel_modules': ('proprietary',), 'min_branch': 340, 'max_branch': 580,
     'min_cuda': '6.0', 'source': SRC_T5 + '; max R580 legacy: NixOS/nixos-hardware#1880'},
    {'name': 'Pascal', 'compute_capabilities': ('6.0', '6.1', '6.2'), 'nvml_enum': 4, 'pci_prefix': 'GP',
     'kernel_modules': ('proprietary',), 'min_branch': 367, 'max_branch': 580,
     'min_cuda': '8.0', 'source': SRC_T5 + '; max R580 legacy: NixOS/nixos-hardware#1880'},
    {'name': 'Volta', 'compute_capabilities': ('7.0', '7.2'), 'nvml_enum': 5, 'pci_prefix': 'GV',
     'kernel_modules': ('proprietary',), 'min_branch': 384, 'max_branch': 580,
     'min_cuda': '9.0', 'source': SRC_T5},
    {'name': 'Turing', 'compute_capabilities': ('7.5',), 'nvml_enum': 6, 'pci_prefix': 'TU',
     'kernel_modules': ('open', 'proprietary'), 'min_branch': 410, 'max_branch': None,
     'min_cuda': '10.0', 'source': SRC_T5 + '; ' + SRC_OPEN},
    {'name': 'Ampere', 'compute_capabilities': ('8.0', '8.6', '8.7'), 'nvml_enum': 7, 'pci_prefix': 'GA',
     'kernel_modules': ('open', 'proprietary'), 'min_branch': 450, 'min_branch_by_cc': {'8.6': 455, '8.7': 470},
     'max_branch': None, 'min_cuda': '11.0', 'min_cuda_by_cc': {'8.6': '11.1', '8.7': '11.4'},
     'source': SRC_T5 + ' (Ampere >= R455 for RTX 30)'},
    {'name': 'Ada', 'compute_capabilities': ('8.9',), 'nvml_enum': 8, 'pci_prefix': 'AD',
     'kernel_modules': ('open', 'proprietary'), 'min_branch': 520, 'max_branch': None,
     'min_cuda': '11.8', 'source': SRC_T5 + ' (Ada >= R520: unverified in the research)'},
    {'name': 'Hopper', 'compute_capabilities': ('9.0',), 'nvml_enum': 9, 'pci_prefix': 'GH',
     'kernel_modules': ('open', 'proprietary'), 'min_branch': 520, 'max_branch': None,
     'min_cuda': '11.8', 'source': SRC_T5 + ' (CUDA 11.8/R520 era, exact first branch unverified)'},
    {'name': 'Blackwell', 'compute_capabilities': ('10.0', '10.3', '11.0', '12.0', '12.1'), 'nvml_enum': 10, 'pci_prefix': 'GB',
     'kernel_modules': ('open',), 'min_branch': 570, 'min_branch_by_cc': {'11.0': 580},
     'max_branch': None, 'min_cuda': '12.8', 'min_cuda_by_cc': {'10.3': '12.9', '12.1': '12.9', '11.0': '13.0'},
     'source': SRC_T5 + '; B.5: R570 list covers B200/GB200/RTX 5090/5080/5070 Ti only, later ids need 575/580 '
                        '(awslabs/amazon-eks-ami nvidia-open-supported-devices-{570,580,595}.txt)'},
    # Rubin: named so that a GPU nvidia-smi / NVML reports as Rubin is not dropped as unknown. NVML's
    # nvmlDeviceGetArchitecture enum RUBIN = 13 (research C.2, index ids 69060717009, 71285142382); chips
    # GR100/GR102 (issue #19 audit). No compute capability, first driver or first CUDA is recorded in any
    # source here, and pci.ids 2026.08.22 has no GR1xx id: those stay None ("unknown"), and the open kernel
    # module is the only flavour ("Blackwell and later are only supported by the open kernel modules",
    # Start9Labs/start-technologies#3465).
    {'name': 'Rubin', 'compute_capabilities': (), 'nvml_enum': 13, 'pci_prefix': 'GR',
     'kernel_modules': ('open',), 'min_branch': None, 'max_branch': None, 'min_cuda': None,
     'requirements_unknown': True,
     'source': 'NVML enum RUBIN 13 (research C.2); no driver/CUDA minimum recorded'},
)

_ARCH_BY_NAME = dict((a['name'].lower(), a) for a in ARCHITECTURES)
# spellings seen in nvidia-smi -q -x <product_architecture> and elsewhere
_ARCH_ALIASES = {'ada lovelace': 'ada', 'lovelace': 'ada', 'grace hopper': 'hopper'}
_ARCH_BY_CC = {}
for _arch in ARCHITECTURES:
    for _cc in _arch['compute_capabilities']:
        _ARCH_BY_CC[_cc] = _arch['name']

# Compute capability of chips whose TSV rows carry none (Fermi, Kepler). Source: SRC_LEGACY.
CHIP_COMPUTE_CAPABILITY = {
    'GF100': '2.0', 'GF110': '2.0',
    'GF104': '2.1', 'GF106': '2.1', 'GF108': '2.1', 'GF114': '2.1', 'GF116': '2.1', 'GF117': '2.1', 'GF119': '2.1',
    'GK104': '3.0', 'GK106': '3.0', 'GK107': '3.0',
    'GK110': '3.5', 'GK180': '3.5', 'GK208': '3.5',
    'GK210': '3.7',
}

# Devices that need the open kernel module although their architecture allows both: Grace Hopper
# ("For cutting-edge platforms such as NVIDIA Grace Hopper ... you must use the open-source GPU kernel
# modules", NVIDIA blog quoted in conda-pytorch-probe.md B.5). Ids: pci.ids names "GH200 ...".
OPEN_ONLY_DEVICE_IDS = frozenset(('0x2342', '0x2348'))

# The first driver release that supports a device, per PCI device id, where NVIDIA says so: the first
# NVIDIA/open-gpu-kernel-modules release tag whose README "Product Name | PCI ID" table lists the id
# (_gpu_pci_ids.DEVICE_FIRST_DRIVER, generated from that README's history). Used for the architectures
# whose devices arrived one by one after the open modules existed, so the README's first listing is the
# device's first driver: B300 0x3182 and GB300 0x31c2 first in 580.82.07, GB10 0x2e12 in 580.94.13,
# RTX 5050 0x2d83 in 575.64.03, RTX PRO 6000 Server 0x2bb5 in 575.57.08, GH200 144G 0x2348 in 565.57.01.
# (Turing/Ampere predate the open modules: their README listing starts at R515 and says nothing about
# the proprietary module's first driver.)
DEVICE_MIN_DRIVER_ARCHITECTURES = ('Hopper', 'Blackwell')

# Open kernel modules: first released with R515; NVIDIA's installers default to them from R560
# (NVIDIA blog "NVIDIA Transitions Fully Towards Open-Source GPU Kernel Modules", research B.5).
OPEN_KERNEL_MODULE_MIN_BRANCH = 515
OPEN_KERNEL_MODULE_DEFAULT_BRANCH = 560

# --------------------------------------------------------------------------------------------------
# CUDA <-> driver
# --------------------------------------------------------------------------------------------------

# (CUDA version, Linux driver of the toolkit's GA runfile = the first driver that reports this CUDA
# version in nvidia-smi, source). Rows 11.8 .. 13.2 from conda-pytorch-probe.md B.4 (Jimver/cuda-toolkit
# src/links/linux-links.ts@3d45d157); older rows from the CUDA Toolkit release notes, table
# "CUDA Toolkit and Corresponding Driver Versions" (docs.nvidia.com/cuda/cuda-toolkit-release-notes).
CUDA_TOOLKIT_DRIVERS = (
    ('9.0', '384.81', 'CUDA release notes'),
    # 9.1.85 needs >= 390.46 (CUDA release notes, table "CUDA Toolkit and Corresponding Driver Versions";
    # 387.26 was 9.1's beta-era number, issue #19 audit)
    ('9.1', '390.46', 'CUDA release notes'),
    ('9.2', '396.26', 'CUDA release notes'),
    ('10.0', '410.48', 'CUDA release notes'),
    ('10.1', '418.39', 'CUDA release notes'),
    ('10.2', '440.33', 'CUDA release notes'),
    ('11.0', '450.36.06', 'CUDA release notes; uv backend.rs cu110'),
    ('11.1', '455.23', 'CUDA release notes'),
    ('11.2', '460.27.03', 'CUDA release notes'),
    ('11.3', '465.19.01', 'CUDA release notes'),
    ('11.4', '470.42.01', 'CUDA release notes'),
    ('11.5', '495.29.05', 'CUDA release notes'),
    ('11.6', '510.39.01', 'CUDA release notes'),
    ('11.7', '515.43.04', 'CUDA release notes'),
    ('11.8', '520.61.05', 'B.4'),
    ('12.0', '525.60.13', 'B.4'),
    ('12.1', '530.30.02', 'B.4'),
    ('12.2', '535.54.03', 'B.4'),
    ('12.3', '545.23.06', 'B.4'),
    ('12.4', '550.54.14', 'B.4'),
    ('12.5', '555.42.02', 'B.4'),
    ('12.6', '560.28.03', 'B.4'),
    ('12.8', '570.86.10', 'B.4'),
    ('12.9', '575.51.03', 'B.4'),
    ('13.0', '580.65.06', 'B.4'),
    ('13.1', '590.44.01', 'B.4'),
    ('13.2', '595.45.04', 'B.4'),
    # 13.3.0's runfile bundles 610.43.02 (issue #19 audit: "610.43.02 runs CUDA 13.3 (the 13.3.0 runfile's
    # driver)"; the runfile is named cuda_13.3.0_610.43.02_linux.run in public build scripts, and hosts on
    # 610.43.02 report "Driver / CUDA UMD 610.43.02 / 13.3", public code index); consistent with the R610
    # capture (research C.2: 610.57.04 reports "CUDA UMD version : 13.3").
    ('13.3', '610.43.02', 'CUDA 13.3.0 runfile driver (issue #19 audit)'),
    # 13.4 exists (issue #19 audit; packages such as cuda-nvml-dev-13-4_13.4.46-1 in public build scripts;
    # StackHPC ansible-slurm-appliance moves to CUDA 13.4, nvidia-anchors.md section 0); its Linux GA driver is
    # not recorded: None. It is planned through 13.x minor-version compatibility (cuda_min_driver), never
    # chosen as "what a driver runs natively".
    ('13.4', None, 'exists (issue #19 audit); GA driver not recorded'),
)

# Offline compilation: the lowest compute capability each CUDA toolkit still compiles for (the first
# entry of `nvcc --list-gpu-arch`), as (first CUDA version, lowest CC), oldest first. Sources: CUDA
# Toolkit release notes, "Deprecated or Dropped Features": 9.0 removed Fermi (sm_20); 11.0 removed
# sm_30/sm_32; 12.0 removed Kepler (sm_35, sm_37); 13.0 removed "offline compilation and library support
# for Maxwell, Pascal and Volta" (`nvcc --list-gpu-arch` starts at compute_75, issue #19 audit).
# Checked against the real nvcc of Debian's toolkits by roles/cuda_toolkit verify (11.8: compute_35 ..
# compute_90; 12.4: compute_50 .. compute_90). The newest CC a toolkit knows is ARCHITECTURES' min_cuda.
CUDA_MIN_COMPUTE_CAPABILITY = (
    ('9.0', '3.0'),
    ('11.0', '3.5'),
    ('12.0', '5.0'),
    ('13.0', '7.5'),
)

# Minor-version compatibility: an application built with CUDA X.y runs on any driver >= this one
# (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html; exact minima as
# uv uses them, astral-sh/uv crates/uv-torch/src/backend.rs@6eeb4631; CUDA 13.0 GA: 580.65.06). B.4/T2.
CUDA_MINOR_COMPAT_MIN_DRIVER = {
    11: '450.80.02',
    12: '525.60.13',
    13: '580.65.06',
}
CUDA_MIN_DRIVER_EXCEPTIONS = {'11.0': '450.36.06'}

# --------------------------------------------------------------------------------------------------
# PyTorch wheels
# --------------------------------------------------------------------------------------------------

TORCH_WHEEL_INDEX_TEMPLATE = 'https://download.pytorch.org/whl/{variant}'

_A37 = ('3.7', '5.0', '6.0', '7.0', '7.5', '8.0', '8.6', '9.0')
_A50 = ('5.0', '6.0', '7.0', '7.5', '8.0', '8.6', '9.0')
_A70_120 = ('7.0', '7.5', '8.0', '8.6', '9.0', '10.0', '12.0')
_A75_120 = ('7.5', '8.0', '8.6', '9.0', '10.0', '12.0')
# aarch64 (sbsa) wheels carry fewer architectures: pytorch .ci/manywheel/build_cuda.sh
# filter_aarch64_archs keeps the server GPUs Arm hosts have (research B.3: cu126 8.0, 9.0; cu128 8.0,
# 9.0, 10.0, 12.0; cu130/cu132 add 11.0, Thor).
_S80_90 = ('8.0', '9.0')
_S80_120 = ('8.0', '9.0', '10.0', '12.0')
_S80_110_120 = ('8.0', '9.0', '10.0', '11.0', '12.0')

# Facts read from the released wheels on PyPI (the default variant of each release; pypi.org simple API,
# each wheel's torch/version.py and the arch flags string torch.cuda.get_arch_list() returns, read out of
# torch/lib/libtorch_python.so of the manylinux x86_64 and aarch64 cp311 wheels, 2026-12-01; `make
# knowledge-check` reads them again):
#   2.4 +cu121 sm_50..sm_90; 2.5, 2.6 +cu124 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90 (no compute_90: no
#   PTX); 2.7 +cu126 sm_50..sm_90; 2.8-2.10 +cu128 sm_70..sm_120; 2.11-2.14 +cu130 sm_75 sm_80 sm_86 sm_90
#   sm_100 sm_120 (no PTX); 2.15 +cu132 the same, no PTX. aarch64: +cpu up to 2.10 (2.4, 2.5: no local
#   tag, CPU), +cu130 sm_80 sm_90 sm_100 sm_110 sm_120 (no PTX) for 2.11-2.14, +cu132 the same for 2.15.
SRC_PYPI_WHEELS = 'PyPI wheels 2026-12-01: torch/version.py and the arch flags in torch/lib/libtorch_python.so'


def _v(status, archs, ptx=None, sbsa=None, sbsa_ptx=None):
    # status: stable | experimental (both listed in PyTorch's release matrix) | extra (published on
    # download.pytorch.org but outside the matrix); archs: cubins (sm_XY) in the Linux x86_64 wheel;
    # ptx: the compute_XY the wheel also carries as PTX (JIT forward), or None; sbsa / sbsa_ptx: the same
    # for the Linux aarch64 (sbsa) wheel, sbsa None = no aarch64 CUDA wheel known for this variant.
    return {'status': status, 'archs': archs, 'ptx': ptx, 'archs_aarch64': sbsa, 'ptx_aarch64': sbsa_ptx}


# torch release -> wheel variants -> compiled architectures. Source: conda-pytorch-probe.md B.2
# (pytorch RELEASE.md "Release Compatibility Matrix", PRs pytorch/pytorch#143538, #157482, #170603,
# #175253, #182849, #187075, #194367) and B.3 (pytorch/builder manywheel/build_cuda.sh, pytorch
# .ci/manywheel/build_cuda.sh @00c7a380 / @799d09f2, torch.cuda.get_arch_list() reports and the H200
# run: 2.11.0+cu130 -> sm_75 sm_80 sm_86 sm_90 sm_100 sm_120, no PTX); every PyPI default variant as read
# from the wheel (SRC_PYPI_WHEELS above), which wins over RELEASE.md's "+PTX" where they differ.
# 'default' is the CUDA variant of the plain PyPI wheel on x86_64, 'default_aarch64' on aarch64.
# 'python': the CPython versions PyPI has manylinux x86_64 wheels for (cp3XY, free-threaded cp3XYt not
# counted); 'python_aarch64' where aarch64 differs. 'patches': the patch releases on PyPI.
TORCH_RELEASES = {
    '2.4': {'released': '2024-07', 'python': '3.8-3.12', 'patches': ('2.4.0', '2.4.1'),
            'default': 'cu121', 'default_aarch64': 'cpu', 'variants': {
                'cu118': _v('stable', _A37), 'cu121': _v('stable', _A50), 'cu124': _v('experimental', _A50)}},
    # cp313 x86_64 wheels exist for 2.5 (PyPI), not for aarch64
    '2.5': {'released': '2024-10', 'python': '3.9-3.13', 'python_aarch64': '3.9-3.12', 'patches': ('2.5.0', '2.5.1'),
            'default': 'cu124', 'default_aarch64': 'cpu', 'variants': {
                'cu118': _v('stable', _A37), 'cu121': _v('stable', _A50), 'cu124': _v('stable', _A50)}},
    '2.6': {'released': '2025-01', 'python': '3.9-3.13', 'patches': ('2.6.0',),
            'default': 'cu124', 'default_aarch64': 'cpu', 'variants': {
                'cu118': _v('stable', _A37), 'cu124': _v('stable', _A50), 'cu126': _v('experimental', _A50)}},
    '2.7': {'released': '2025-04', 'python': '3.9-3.13', 'patches': ('2.7.0', '2.7.1'),
            'default': 'cu126', 'default_aarch64': 'cpu', 'variants': {
                'cu118': _v('stable', _A37), 'cu126': _v('stable', _A50, sbsa=_S80_90),
                'cu128': _v('experimental', _A75_120, '12.0', sbsa=_S80_120)}},
    '2.8': {'released': '2025-07', 'python': '3.9-3.13', 'patches': ('2.8.0',),
            'default': 'cu128', 'default_aarch64': 'cpu', 'variants': {
                'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu128': _v('stable', _A70_120, sbsa=_S80_120),
                'cu129': _v('experimental', _A70_120, '12.0')}},
    '2.9': {'released': '2025-10', 'python': '3.10-3.14', 'patches': ('2.9.0', '2.9.1'),
            'default': 'cu128', 'default_aarch64': 'cpu', 'variants': {
                'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu128': _v('stable', _A70_120, sbsa=_S80_120),
                'cu129': _v('extra', _A70_120, '12.0'),
                'cu130': _v('experimental', _A75_120, '12.0', sbsa=_S80_110_120, sbsa_ptx='12.0')}},
    '2.10': {'released': '2026-01', 'python': '3.10-3.14', 'patches': ('2.10.0',),
             'default': 'cu128', 'default_aarch64': 'cpu', 'variants': {
                 'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu128': _v('stable', _A70_120, sbsa=_S80_120),
                 'cu129': _v('extra', _A70_120, '12.0'),
                 'cu130': _v('experimental', _A75_120, '12.0', sbsa=_S80_110_120, sbsa_ptx='12.0')}},
    '2.11': {'released': '2026-03-18', 'python': '3.10-3.14', 'patches': ('2.11.0',),
             'default': 'cu130', 'default_aarch64': 'cu130', 'variants': {
                 'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu128': _v('stable', _A75_120, sbsa=_S80_120),
                 'cu129': _v('extra', _A75_120, '12.0'),
                 'cu130': _v('stable', _A75_120, sbsa=_S80_110_120)}},
    # 2.12-2.14 cu130: no PTX (read from the wheels, SRC_PYPI_WHEELS; RELEASE.md's "+PTX" does not hold);
    # cu132: "+PTX" per RELEASE.md only (no wheel of it on PyPI to read). cu129 for 2.12.1 and the 2.13 cu129
    # test channel are left out (outside the matrix, arch list unknown).
    '2.12': {'released': '2026-05-13', 'python': '3.10-3.14', 'patches': ('2.12.0', '2.12.1'),
             'default': 'cu130', 'default_aarch64': 'cu130', 'variants': {
                 'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu130': _v('stable', _A75_120, sbsa=_S80_110_120),
                 'cu132': _v('experimental', _A75_120, '12.0', sbsa=_S80_110_120, sbsa_ptx='12.0')}},
    # no cp315 wheel for 2.13 and 2.14 (PyPI: cp310 .. cp314, cp314t)
    '2.13': {'released': '2026-07-08', 'python': '3.10-3.14', 'patches': ('2.13.0',),
             'default': 'cu130', 'default_aarch64': 'cu130', 'variants': {
                 'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu130': _v('stable', _A75_120, sbsa=_S80_110_120),
                 'cu132': _v('experimental', _A75_120, '12.0', sbsa=_S80_110_120, sbsa_ptx='12.0')}},
    '2.14': {'released': '2026-09-02', 'python': '3.10-3.14', 'patches': ('2.14.0', '2.14.1'),
             'default': 'cu130', 'default_aarch64': 'cu130', 'variants': {
                 'cu126': _v('stable', _A50, sbsa=_S80_90), 'cu130': _v('stable', _A75_120, sbsa=_S80_110_120),
                 'cu132': _v('stable', _A75_120, '12.0', sbsa=_S80_110_120, sbsa_ptx='12.0')}},
    # 2.15.0 (PyPI, 2026-10-28): Requires-Python >=3.11, cp311 .. cp315; default +cu132, sm_75 .. sm_120
    # with no PTX (x86_64), sm_80 .. sm_120 with no PTX (aarch64), read from the wheels. cu126 removed: no
    # Maxwell/Pascal/Volta wheel (pytorch/pytorch#190385); CUDA 13.0 is stable as well (issue #19 audit),
    # its arch list is taken to be the cu132 one (same build_cuda.sh list; no cu130 wheel on PyPI to read).
    '2.15': {'released': '2026-10-28', 'python': '3.11-3.15', 'patches': ('2.15.0',),
             'default': 'cu132', 'default_aarch64': 'cu132', 'variants': {
                 'cu130': _v('stable', _A75_120, sbsa=_S80_110_120),
                 'cu132': _v('stable', _A75_120, sbsa=_S80_110_120)}},
}

MACHINES = {'x86_64': 'x86_64', 'amd64': 'x86_64', 'aarch64': 'aarch64', 'arm64': 'aarch64', 'sbsa': 'aarch64'}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

_VERSION_RE = re.compile(r'(\d+(?:\.\d+)+|\d+)')
# the epoch of a Debian package version ('1:580.95.05-0ubuntu1'; deb-version(7))
_EPOCH_RE = re.compile(r'^\s*\d+:(?=\d)')


def parse_version(value):
    """'580.159.04' -> (580, 159, 4); '610.57.04 [Deprecated; ...]' -> (610, 57, 4); None when no number."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(int(p) for p in value)
    match = _VERSION_RE.search(_EPOCH_RE.sub('', str(value)))
    if not match:
        return None
    return tuple(int(p) for p in match.group(1).split('.'))


def version_string(value):
    """The dotted number inside value ('610.57.04 [Deprecated]' -> '610.57.04'), or None.

    A Debian package version's epoch is not part of it: '1:580.95.05-0ubuntu1' -> '580.95.05'.
    """
    if value is None:
        return None
    match = _VERSION_RE.search(_EPOCH_RE.sub('', str(value)))
    return match.group(1) if match else None


def driver_branch(driver_version):
    """'580.159.04' -> 580."""
    parsed = parse_version(driver_version)
    return parsed[0] if parsed else None


def normalize_compute_capability(value):
    """'9.0', '9', 9.0, (9, 0), 'sm_90', 'compute_90', '90' -> '9.0'; None when not a CC."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return '%d.%d' % (int(value[0]), int(value[1]))
    text = str(value).strip().lower()
    match = re.match(r'^(?:sm_|compute_)(\d+)(\d)[a-z]?$', text)
    if match:
        return '%d.%d' % (int(match.group(1)), int(match.group(2)))
    match = re.match(r'^(\d+)\.(\d+)$', text)
    if match:
        return '%d.%d' % (int(match.group(1)), int(match.group(2)))
    match = re.match(r'^(\d+)$', text)
    if match:
        number = int(match.group(1))
        if number < 20:
            return '%d.0' % number
        return '%d.%d' % (number // 10, number % 10)
    return None


def _cc_tuple(cc):
    cc = normalize_compute_capability(cc)
    if cc is None:
        return None
    major, minor = cc.split('.')
    return (int(major), int(minor))


def normalize_architecture(name):
    """'Ada Lovelace' -> 'Ada'; 'hopper' -> 'Hopper'; unknown -> None."""
    if not name:
        return None
    key = str(name).strip().lower()
    key = _ARCH_ALIASES.get(key, key)
    arch = _ARCH_BY_NAME.get(key)
    return arch['name'] if arch else None


def architecture_info(name):
    """The ARCHITECTURES row of an architecture name, or None."""
    arch = normalize_architecture(name)
    return _ARCH_BY_NAME[arch.lower()] if arch else None


def arch_from_compute_capability(compute_capability):
    """'9.0' -> 'Hopper', '8.9' -> 'Ada', '12.0' -> 'Blackwell'; None when unknown."""
    cc = normalize_compute_capability(compute_capability)
    if cc is None:
        return None
    if cc in _ARCH_BY_CC:
        return _ARCH_BY_CC[cc]
    # an unlisted minor of a known major (for example 8.8): same family as the major's known CCs when
    # they all belong to one architecture
    major = cc.split('.')[0]
    names = set(name for known, name in _ARCH_BY_CC.items() if known.split('.')[0] == major)
    if len(names) == 1:
        return names.pop()
    return None


def min_compute_capability(architecture):
    """Lowest compute capability of an architecture ('Pascal' -> '6.0')."""
    arch = architecture_info(architecture)
    return arch['compute_capabilities'][0] if arch else None


# --------------------------------------------------------------------------------------------------
# PCI ids
# --------------------------------------------------------------------------------------------------

_PCI_DEVICES = {}
for _chip, _arch_name, _cc, _ids in DEVICE_GROUPS:
    for _id in _ids.split():
        _PCI_DEVICES[_id] = (_chip, _arch_name, _cc or CHIP_COMPUTE_CAPABILITY.get(_chip) or None)


def normalize_pci_device_id(value):
    """'0x2335', '2335', 0x2335, nvidia-smi's '0x233510DE' (device << 16 | vendor) -> '0x2335'.

    Returns None for anything that is not an NVIDIA device id (for example a vGPU's '0x000000DE').
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().lower()
        if text.startswith('0x'):
            text = text[2:]
        if not re.match(r'^[0-9a-f]{1,8}$', text):
            return None
        if len(text) == 8:
            if text[4:] != '10de':
                return None
            text = text[:4]
        number = int(text, 16)
    if number <= 0 or number > 0xffff:
        return None
    return '0x%04x' % number


def pci_device_info(device_id):
    """PCI device id -> {'pci_device_id', 'chip', 'architecture', 'compute_capability', 'pci_name'} or None.

    Source: pci.ids (see _gpu_pci_ids.PCIIDS_SOURCE); compute capability of Fermi/Kepler chips from
    CHIP_COMPUTE_CAPABILITY; None compute capability where neither knows it.
    """
    norm = normalize_pci_device_id(device_id)
    if norm is None:
        return None
    entry = _PCI_DEVICES.get(norm[2:])
    if entry is None:
        return None
    chip, arch, cc = entry
    return {'pci_device_id': norm, 'chip': chip, 'architecture': arch, 'compute_capability': cc,
            'pci_name': DEVICE_NAMES.get(norm[2:]), 'source': PCIIDS_SOURCE}


def arch_from_pci_device_id(device_id):
    """'0x2335' -> 'Hopper'; None when the id is not in the table."""
    info = pci_device_info(device_id)
    return info['architecture'] if info else None


def compute_capability_from_pci_device_id(device_id):
    """'0x2335' -> '9.0'; None when unknown."""
    info = pci_device_info(device_id)
    return info['compute_capability'] if info else None


def _name_key(name):
    text = re.sub(r'\s+', ' ', str(name).strip().lower())
    for prefix in ('nvidia ',):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def _build_name_index():
    index = {}
    for dev, pci_name in DEVICE_NAMES.items():
        match = re.search(r'\[(.*)\]', pci_name)
        if not match:
            continue
        for alias in match.group(1).split(' / '):
            index.setdefault(_name_key(alias), set()).add(dev)
    return index


_NAME_INDEX = _build_name_index()


def pci_device_info_from_name(name):
    """Best effort: a product name as nvidia-smi prints it ('NVIDIA A10G') -> pci_device_info-like dict.

    Used when the PCI device id is hidden (vGPU, redacted captures). Matches the bracketed marketing
    names of pci.ids; returns None when no name matches or the matches disagree on architecture.
    The returned compute capability is None when the matches disagree on it.
    """
    if not name:
        return None
    devs = _NAME_INDEX.get(_name_key(name))
    if not devs:
        return None
    infos = [pci_device_info(dev) for dev in sorted(devs)]
    archs = set(i['architecture'] for i in infos)
    if len(archs) != 1:
        return None
    ccs = set(i['compute_capability'] for i in infos)
    return {'pci_device_id': None, 'chip': infos[0]['chip'], 'architecture': archs.pop(),
            'compute_capability': ccs.pop() if len(ccs) == 1 else None,
            'pci_name': infos[0]['pci_name'], 'source': PCIIDS_SOURCE + ' (matched by name)'}


def gpu_arch(value):
    """Architecture of a compute capability ('9.0'), a PCI device id ('0x2335') or an architecture name."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower().startswith('0x') or re.match(r'^[0-9a-fA-F]{4}$', text):
        arch = arch_from_pci_device_id(text)
        if arch:
            return arch
    arch = normalize_architecture(text)
    if arch:
        return arch
    return arch_from_compute_capability(text)


# --------------------------------------------------------------------------------------------------
# CUDA <-> driver functions
# --------------------------------------------------------------------------------------------------

def normalize_cuda_version(value):
    """'13.0', '13', 'cu130', 'cu118', '12.8.1', 13000 (NVML int) -> '13.0' / '11.8' / '12.8'."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value >= 1000:
            return '%d.%d' % (value // 1000, (value % 1000) // 10)
        return '%d.0' % value
    text = str(value).strip().lower()
    match = re.match(r'^cu(\d+)(\d)$', text)
    if match:
        return '%d.%d' % (int(match.group(1)), int(match.group(2)))
    parsed = parse_version(text)
    if not parsed:
        return None
    if len(parsed) == 1:
        return '%d.0' % parsed[0]
    return '%d.%d' % (parsed[0], parsed[1])


def cuda_min_driver(cuda_version):
    """Minimum Linux driver for a CUDA version (minor-version compatibility): '13.0' -> '580.65.06'.

    Accepts 'cu130'-style variants too. Raises ValueError for a CUDA major the tables do not know.
    """
    cuda = normalize_cuda_version(cuda_version)
    if cuda is None:
        raise ValueError('not a CUDA version: %r' % (cuda_version,))
    if cuda in CUDA_MIN_DRIVER_EXCEPTIONS:
        return CUDA_MIN_DRIVER_EXCEPTIONS[cuda]
    major = int(cuda.split('.')[0])
    if major in CUDA_MINOR_COMPAT_MIN_DRIVER:
        return CUDA_MINOR_COMPAT_MIN_DRIVER[major]
    for known, driver, _src in CUDA_TOOLKIT_DRIVERS:
        if known == cuda and driver:
            return driver
    raise ValueError('CUDA %s is not in the tables (known: %s)' % (cuda, ', '.join(r[0] for r in CUDA_TOOLKIT_DRIVERS)))


def cuda_toolkit_driver(cuda_version):
    """Driver bundled with the CUDA toolkit runfile ('12.8' -> '570.86.10'), None when unknown."""
    cuda = normalize_cuda_version(cuda_version)
    for known, driver, _src in CUDA_TOOLKIT_DRIVERS:
        if known == cuda:
            return driver
    return None


def driver_supports_cuda(driver_version, cuda_version):
    """True when the driver runs applications built with that CUDA version ('580.159.04', '13.0' -> True)."""
    driver = parse_version(driver_version)
    if driver is None:
        return False
    try:
        minimum = parse_version(cuda_min_driver(cuda_version))
    except ValueError:
        return False
    return driver >= minimum


def driver_max_cuda(driver_version):
    """Newest CUDA version a driver runs natively, as nvidia-smi reports it ('580.159.04' -> '13.0').

    Newer CUDA minor versions of the same major also run through minor-version compatibility; see
    driver_supports_cuda. None for a driver older than the table or no version.
    """
    driver = parse_version(driver_version)
    if driver is None:
        return None
    best = None
    for cuda, ga_driver, _src in CUDA_TOOLKIT_DRIVERS:
        if ga_driver and driver >= parse_version(ga_driver):
            best = cuda
    return best


def known_cuda_versions():
    """Every CUDA version of the tables, oldest first ('9.0' ... '13.4')."""
    return [row[0] for row in CUDA_TOOLKIT_DRIVERS]


def cuda_min_compute_capability(cuda_version):
    """Lowest compute capability a CUDA toolkit compiles for ('12.9' -> '5.0', '13.0' -> '7.5'), None before 9.0."""
    cuda = parse_version(normalize_cuda_version(cuda_version))
    best = None
    for first, cc in CUDA_MIN_COMPUTE_CAPABILITY:
        if cuda is not None and cuda >= parse_version(first):
            best = cc
    return best


def cuda_compiles_for(cuda_version, compute_capability):
    """True when nvcc of that CUDA version has the GPU's own architecture (compute_XY of its CC).

    The CC must be at least the toolkit's lowest (CUDA_MIN_COMPUTE_CAPABILITY) and the toolkit at least
    the first CUDA that knows the CC (ARCHITECTURES min_cuda). Unknown CC or CUDA: False.
    """
    cuda = parse_version(normalize_cuda_version(cuda_version))
    cc = _cc_tuple(compute_capability)
    low = _cc_tuple(cuda_min_compute_capability(cuda_version))
    first = min_cuda_for_compute_capability(compute_capability)
    if cuda is None or cc is None or low is None or first is None:
        return False
    return cc >= low and cuda >= parse_version(first)


def cuda_compile_targets(cuda_version):
    """The compute capabilities of the tables a CUDA version compiles for, lowest first ('11.8' -> ['3.5', ... '9.0'])."""
    out = []
    for arch in ARCHITECTURES:
        for cc in arch['compute_capabilities']:
            if cuda_compiles_for(cuda_version, cc):
                out.append(cc)
    return sorted(out, key=_cc_tuple)


def newest_cuda_for(driver_version, compute_capabilities):
    """The newest CUDA toolkit the driver runs natively AND that compiles for every GPU, or None.

    ('580.159.04', ['9.0']) -> '13.0'; ('580.159.04', ['7.0']) -> '12.9' (CUDA 13 has no Volta).
    """
    ceiling = driver_max_cuda(driver_version)
    if ceiling is None:
        return None
    ccs = [c for c in (normalize_compute_capability(c) for c in compute_capabilities or ()) if c]
    best = None
    for cuda in known_cuda_versions():
        if parse_version(cuda) > parse_version(ceiling):
            break
        if all(cuda_compiles_for(cuda, cc) for cc in ccs):
            best = cuda
    return best


# --------------------------------------------------------------------------------------------------
# driver requirements of a set of GPUs
# --------------------------------------------------------------------------------------------------

def device_min_driver(device_id, architecture=None):
    """First driver release for a PCI device id where the README of NVIDIA/open-gpu-kernel-modules gives it.

    '0x2348' (GH200 144G) -> '565.57.01'; None for ids it does not list and for architectures outside
    DEVICE_MIN_DRIVER_ARCHITECTURES (their first listing says nothing about the device's first driver).
    """
    norm = normalize_pci_device_id(device_id)
    if norm is None:
        return None
    arch = normalize_architecture(architecture) or arch_from_pci_device_id(norm)
    if arch not in DEVICE_MIN_DRIVER_ARCHITECTURES:
        return None
    return DEVICE_FIRST_DRIVER.get(norm[2:])


def _gpu_descriptor(gpu):
    """Accepts a dict (gpu fact), a compute capability, a PCI device id or an architecture name."""
    if isinstance(gpu, dict):
        arch = normalize_architecture(gpu.get('architecture'))
        cc = normalize_compute_capability(gpu.get('compute_capability'))
        dev = normalize_pci_device_id(gpu.get('pci_device_id'))
        if arch is None and cc:
            arch = arch_from_compute_capability(cc)
        if arch is None and dev:
            arch = arch_from_pci_device_id(dev)
        if cc is None and dev:
            cc = compute_capability_from_pci_device_id(dev)
        return arch, cc, dev
    text = str(gpu).strip()
    if text.lower().startswith('0x'):
        return arch_from_pci_device_id(text), compute_capability_from_pci_device_id(text), normalize_pci_device_id(text)
    arch = normalize_architecture(text)
    if arch:
        return arch, None, None
    cc = normalize_compute_capability(text)
    return arch_from_compute_capability(cc), cc, None


def requirements_for_gpus(gpus):
    """Driver branch range and kernel-module flavour a set of GPUs needs.

    gpus: iterable of gpu facts (dicts with architecture / compute_capability / pci_device_id),
    compute capabilities, PCI device ids or architecture names.

    Returns {'architectures', 'min_branch', 'max_branch', 'min_driver', 'kernel_module',
    'kernel_modules_supported', 'satisfiable', 'reasons'}; kernel_module is the flavour to install (open
    when both work), None when no single driver serves all GPUs (satisfiable False) or there is no GPU.
    min_driver: the first driver release (full version) the newest of these devices needs where NVIDIA
    lists it per device (device_min_driver), else None; min_branch includes its branch.
    """
    archs = []
    min_branch = None
    max_branch = None
    min_driver = None
    flavours = set(('open', 'proprietary'))
    reasons = []
    unknown = 0
    seen = set()
    for gpu in gpus or ():
        arch_name, cc, dev = _gpu_descriptor(gpu)
        info = architecture_info(arch_name)
        if info is None:
            unknown += 1
            continue
        first_driver = device_min_driver(dev, info['name'])
        key = (info['name'], cc, dev in OPEN_ONLY_DEVICE_IDS, first_driver)
        if key in seen:
            continue
        seen.add(key)
        if info['name'] not in archs:
            archs.append(info['name'])
        gpu_min = info.get('min_branch_by_cc', {}).get(cc, info['min_branch'])
        gpu_max = info['max_branch']
        gpu_flavours = set(info['kernel_modules'])
        if dev in OPEN_ONLY_DEVICE_IDS:
            gpu_flavours = set(('open',))
        if gpu_flavours == set(('open',)):
            gpu_min = max(gpu_min or 0, OPEN_KERNEL_MODULE_MIN_BRANCH)
        if first_driver:
            gpu_min = max(gpu_min or 0, driver_branch(first_driver))
            if min_driver is None or parse_version(first_driver) > parse_version(min_driver):
                min_driver = first_driver
        if gpu_min is not None:
            min_branch = gpu_min if min_branch is None else max(min_branch, gpu_min)
        if gpu_max is not None:
            max_branch = gpu_max if max_branch is None else min(max_branch, gpu_max)
        flavours &= gpu_flavours
        label = info['name'] + (' (%s)' % cc if cc else '')
        parts = []
        if gpu_flavours == set(('open',)):
            parts.append('open kernel module only')
        elif gpu_flavours == set(('proprietary',)):
            parts.append('proprietary kernel module only (the open module needs a GSP, Turing or newer)')
        else:
            parts.append('open or proprietary kernel module, open recommended')
        if first_driver:
            parts.append('driver %s or newer (the first NVIDIA/open-gpu-kernel-modules release whose README lists %s)'
                         % (first_driver, dev))
        elif gpu_min is not None:
            parts.append('driver R%d or newer' % gpu_min)
        if info.get('requirements_unknown'):
            parts.append('first driver and CUDA version not known to the collection\'s tables: the newest branch is needed')
        if gpu_max is not None:
            parts.append('driver R%d or older (R%d is its last, legacy, branch)' % (gpu_max, gpu_max))
        reasons.append('%s: %s' % (label, '; '.join(parts)))
    if unknown:
        reasons.append('%d GPU(s) of unknown architecture: not taken into account' % unknown)
    satisfiable = True
    if not archs:
        return {'architectures': [], 'min_branch': None, 'max_branch': None, 'min_driver': None, 'kernel_module': None,
                'kernel_modules_supported': [], 'satisfiable': True,
                'reasons': reasons or ['no NVIDIA GPU: no driver needed']}
    if not flavours:
        satisfiable = False
        reasons.append('conflict: some GPUs need the open kernel module and others the proprietary one; '
                       'no single driver runs them all')
    if min_branch is not None and max_branch is not None and min_branch > max_branch:
        satisfiable = False
        reasons.append('conflict: driver R%d or newer is needed, but R%d is the newest branch some GPUs support'
                       % (min_branch, max_branch))
    supported = sorted(flavours)
    kernel_module = None
    if satisfiable:
        kernel_module = 'open' if 'open' in flavours else 'proprietary'
    return {'architectures': archs, 'min_branch': min_branch, 'max_branch': max_branch, 'min_driver': min_driver,
            'kernel_module': kernel_module, 'kernel_modules_supported': supported,
            'satisfiable': satisfiable, 'reasons': reasons}


def driver_requirement_problems(requirements, driver_version, kernel_module=None):
    """Check an installed driver against requirements_for_gpus(); returns a list of problems ([] = fine).

    kernel_module: 'open' / 'proprietary' / None (unknown: not checked).
    """
    problems = []
    branch = driver_branch(driver_version)
    if branch is None:
        return ['no driver version']
    low = requirements.get('min_branch')
    high = requirements.get('max_branch')
    if low is not None and branch < low:
        problems.append('driver R%s is older than R%s, the oldest branch these GPUs need' % (branch, low))
    elif requirements.get('min_driver') and parse_version(driver_version) < parse_version(requirements['min_driver']):
        problems.append('driver %s is older than %s, the first driver release NVIDIA lists these GPUs in'
                        % (version_string(driver_version), requirements['min_driver']))
    if high is not None and branch > high:
        problems.append('driver R%s is newer than R%s, the last branch that supports these GPUs' % (branch, high))
    supported = requirements.get('kernel_modules_supported') or []
    if kernel_module and supported and kernel_module not in supported:
        problems.append('the %s kernel module does not run these GPUs (they need: %s)' % (kernel_module, ' or '.join(supported)))
    return problems


# --------------------------------------------------------------------------------------------------
# PyTorch wheel variants
# --------------------------------------------------------------------------------------------------

def torch_releases():
    """Known torch releases, oldest first."""
    return sorted(TORCH_RELEASES, key=parse_version)


def latest_torch_release():
    return torch_releases()[-1]


def normalize_torch_version(torch_version):
    """'2.11', '2.11.0', '2.11.0+cu130', None (= newest known) -> '2.11'; ValueError when unknown."""
    if torch_version is None or str(torch_version).strip() == '':
        return latest_torch_release()
    parsed = parse_version(str(torch_version).split('+', 1)[0])
    if not parsed or len(parsed) < 2:
        raise ValueError('not a torch version: %r' % (torch_version,))
    key = '%d.%d' % (parsed[0], parsed[1])
    if key not in TORCH_RELEASES:
        raise ValueError('torch %s is not in the tables (known: %s)' % (key, ', '.join(torch_releases())))
    return key


def variant_cuda_version(variant):
    """'cu130' -> '13.0'; 'cpu' -> None."""
    if variant == 'cpu':
        return None
    return normalize_cuda_version(variant)


def min_cuda_for_compute_capability(compute_capability):
    """First CUDA toolkit that knows a compute capability ('10.0' -> '12.8'), None when unknown."""
    cc = normalize_compute_capability(compute_capability)
    info = architecture_info(arch_from_compute_capability(cc))
    if info is None:
        return None
    return info.get('min_cuda_by_cc', {}).get(cc, info['min_cuda'])


def arch_list_runs_on(archs, ptx, compute_capability, cuda_version=None):
    """The sm_XY / PTX rule: can a binary built for archs (+ ptx) run on a GPU of compute_capability?

    Returns 'native' (a cubin sm_XY with the same major and minor <= the GPU's minor), 'ptx' (only by
    JIT-compiling the PTX compute_XY, which needs XY <= the GPU's CC and, when cuda_version is given, a
    CUDA version that knows the GPU) or None (does not run).
    """
    gpu = _cc_tuple(compute_capability)
    if gpu is None:
        return None
    for arch in archs:
        cubin = _cc_tuple(arch)
        if cubin and cubin[0] == gpu[0] and cubin[1] <= gpu[1]:
            return 'native'
    if ptx:
        ptx_cc = _cc_tuple(ptx)
        if ptx_cc and ptx_cc <= gpu:
            needed = min_cuda_for_compute_capability(compute_capability)
            if cuda_version is None or needed is None or parse_version(cuda_version) >= parse_version(needed):
                return 'ptx'
    return None


def torch_wheel_index(variant, template=TORCH_WHEEL_INDEX_TEMPLATE):
    """'cu130' -> 'https://download.pytorch.org/whl/cu130' (template may name {variant})."""
    return template.format(variant=variant)


def normalize_machine(machine):
    """'x86_64' / 'amd64' -> 'x86_64'; 'aarch64' / 'arm64' / 'sbsa' -> 'aarch64'; None -> 'x86_64'; else None."""
    if machine is None or str(machine).strip() == '':
        return 'x86_64'
    return MACHINES.get(str(machine).strip().lower())


def variant_archs(spec, machine='x86_64'):
    """(cubin archs, ptx) of one TORCH_RELEASES variant for a machine; archs None = no such wheel known."""
    if normalize_machine(machine) == 'aarch64':
        return spec.get('archs_aarch64'), spec.get('ptx_aarch64')
    return spec['archs'], spec['ptx']


def torch_python_range(torch_version, machine='x86_64'):
    """'3.10-3.14': the CPython versions a torch release has wheels for on the machine."""
    release = TORCH_RELEASES[normalize_torch_version(torch_version)]
    if normalize_machine(machine) == 'aarch64':
        return release.get('python_aarch64') or release['python']
    return release['python']


def torch_candidates(torch_version, compute_capabilities, machine='x86_64'):
    """Every CUDA variant of a torch release that runs on all the given GPUs, best first, ignoring the driver.

    machine: 'x86_64' or 'aarch64' (the aarch64 / sbsa wheels carry fewer architectures; variants with no
    aarch64 wheel known are left out there).

    Each item: {'variant', 'cuda_version', 'min_driver', 'status', 'runs'} where runs is 'native' or
    'ptx' (at least one GPU needs PTX JIT). Order: PyTorch's stable variants, then its experimental
    ones, then 'extra' ones; within each, native before PTX-only, newer CUDA first. (An experimental
    build is never recommended over a stable one that runs: torch 2.13 on an H200 gets cu130, not cu132.)
    """
    release = TORCH_RELEASES[normalize_torch_version(torch_version)]
    ccs = []
    for cc in compute_capabilities or ():
        norm = normalize_compute_capability(cc)
        if norm and norm not in ccs:
            ccs.append(norm)
    if not ccs:
        return []
    out = []
    for variant, spec in release['variants'].items():
        cuda = variant_cuda_version(variant)
        archs, ptx = variant_archs(spec, machine)
        if archs is None:
            continue
        verdicts = [arch_list_runs_on(archs, ptx, cc, cuda) for cc in ccs]
        if any(v is None for v in verdicts):
            continue
        out.append({'variant': variant, 'cuda_version': cuda, 'min_driver': cuda_min_driver(cuda),
                    'status': spec['status'], 'runs': 'ptx' if 'ptx' in verdicts else 'native'})
    rank = {'stable': 0, 'experimental': 1, 'extra': 2}
    out.sort(key=lambda c: (rank.get(c['status'], 2), c['runs'] == 'ptx', tuple(-p for p in parse_version(c['cuda_version']))))
    return out


def torch_variants(torch_version, compute_capabilities, driver_version=None, machine='x86_64'):
    """Wheel variants of a torch release that run on every GPU with the driver, best first, 'cpu' last.

    torch_version: '2.11' (None = newest release known); compute_capabilities: list like ['9.0'];
    driver_version: the installed driver ('580.159.04'); None means "do not filter by driver"
    (planning). With no compute capability the answer is ['cpu'].
    """
    out = []
    for cand in torch_candidates(torch_version, compute_capabilities, machine):
        if driver_version is not None and not driver_supports_cuda(driver_version, cand['cuda_version']):
            continue
        out.append(cand['variant'])
    out.append('cpu')
    return out


def torch_recommendation(torch_version, compute_capabilities, driver_version=None, usable=True,
                         index_template=TORCH_WHEEL_INDEX_TEMPLATE, machine='x86_64'):
    """The torch facts of the probe: which wheel variant to install.

    usable=False (no working driver/GPU access) gives variants ['cpu'] but still lists the candidates
    the GPUs could use once the driver works. machine: the host's CPU architecture (x86_64, aarch64).
    """
    version = normalize_torch_version(torch_version)
    machine = normalize_machine(machine) or 'x86_64'
    candidates = torch_candidates(version, compute_capabilities, machine)
    if usable and driver_version is not None:
        variants = torch_variants(version, compute_capabilities, driver_version, machine)
    else:
        variants = ['cpu']
    recommended = variants[0]
    for cand in candidates:
        cand['index_url'] = torch_wheel_index(cand['variant'], index_template)
    return {
        'torch_version': version,
        'variants': variants,
        'recommended_variant': recommended,
        'index_url': torch_wheel_index(recommended, index_template),
        'pypi_default_variant': TORCH_RELEASES[version]['default_aarch64' if machine == 'aarch64' else 'default'],
        'python': torch_python_range(version, machine),
        'machine': machine,
        'candidates': candidates,
    }

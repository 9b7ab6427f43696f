# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate plugins/module_utils/_gpu_pci_ids.py from the pci.ids-derived TSV.

Inputs:
- tests/unit/fixtures/gpu/pciids/nvidia_pci_ids_from_pciids_2026-08-22.tsv (a copy of
  shared/research/nvidia_pci_ids_from_pciids_2026-08-22.tsv, columns: device_id, chip, arch,
  compute_cap_guess, pci_ids_name; derived from pciutils/pciids:pci.ids@c1c12547, Version 2026.08.22),
  less NOT_GPUS (rows of the TSV that are not GPUs);
- tests/unit/fixtures/gpu/open-gpu-kernel-modules/first_driver_by_device.tsv (device_id, first_driver,
  readme_name: the first driver release whose NVIDIA/open-gpu-kernel-modules README lists the device;
  written by tools/gen_first_driver_tsv.py from a clone of that repository).

Usage (from the collection root):
    python3 tools/gen_pci_ids.py            # rewrite the module
    python3 tools/gen_pci_ids.py --check    # exit 1 if the module is stale

tests/unit/plugins/module_utils/test_gpu_knowledge.py (test_pci_table_is_generated_from_the_tsv) runs
--check, so the table and the TSV can not drift apart silently.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
TSV = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'gpu', 'pciids', 'nvidia_pci_ids_from_pciids_2026-08-22.tsv')
FIRST_DRIVER_TSV = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'gpu', 'open-gpu-kernel-modules',
                                'first_driver_by_device.tsv')

# Rows of the pci.ids TSV that are not GPUs, with the reason. 0x22ce and 0x22d0 are the GB10's PCIe
# host bridges: pci.ids names them "GB10 GEN5 X4 PCIe host" / "GB10 GEN4 X1 PCIe host" (no product in
# brackets), the open-gpu-kernel-modules README lists neither (its GB10 GPU is 0x2e12), and the audit of
# issue #19 ("0x22ce and 0x22d0 are GB10 PCIe host bridges, not GPUs") names them.
NOT_GPUS = {
    '22ce': 'GB10 PCIe host bridge (pci.ids "GB10 GEN5 X4 PCIe host")',
    '22d0': 'GB10 PCIe host bridge (pci.ids "GB10 GEN4 X1 PCIe host")',
}
TARGET = os.path.join(ROOT, 'plugins', 'module_utils', '_gpu_pci_ids.py')

HEADER = '''\
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# GENERATED FILE - do not edit by hand. Regenerate with:
#     python3 tools/gen_pci_ids.py
# Source: tests/unit/fixtures/gpu/pciids/nvidia_pci_ids_from_pciids_2026-08-22.tsv, which is derived from
# pciutils/pciids:pci.ids@c1c12547 (pci.ids Version 2026.08.22; pci.ids is dual licensed GPL-2.0-or-later /
# BSD-3-Clause). The TSV maps each NVIDIA GPU PCI device id to its chip code name (the prefix of the
# pci.ids name), the architecture of that chip family and the compute capability of the chip.
# Fermi and Kepler rows carry no compute capability in the TSV; _gpu_knowledge.CHIP_COMPUTE_CAPABILITY
# supplies those. TSV rows that are not GPUs are left out (NOT_GPUS of the generator).
# DEVICE_FIRST_DRIVER: tests/unit/fixtures/gpu/open-gpu-kernel-modules/first_driver_by_device.tsv, the first
# NVIDIA/open-gpu-kernel-modules release tag whose README "Product Name | PCI ID" table lists the device.
# _DEVICES holds one row per device (a TSV row and its first driver); DEVICE_NAMES, DEVICE_FIRST_DRIVER and
# DEVICE_GROUPS are built from it at the end.

"""PCI device id -> chip, architecture, compute capability; first driver listing it (data, and its builder)."""

from __future__ import annotations

PCIIDS_VERSION = '2026.08.22'
PCIIDS_SOURCE = 'pciutils/pciids:pci.ids@c1c12547 (Version 2026.08.22)'

'''


def read_tsv(path):
    rows = []
    with open(path, encoding='utf-8') as handle:
        header = handle.readline().rstrip('\n').split('\t')
        if header[:5] != ['device_id', 'chip', 'arch', 'compute_cap_guess', 'pci_ids_name']:
            raise ValueError('unexpected TSV header: %r' % (header,))
        for line in handle:
            line = line.rstrip('\n')
            if not line:
                continue
            device_id, chip, arch, cc, name = line.split('\t')[:5]
            rows.append((device_id.lower(), chip, arch, cc, name))
    return rows


def read_first_driver_tsv(path):
    """(source line, [(device_id, first_driver, readme_name)])."""
    source = ''
    rows = []
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.rstrip('\n')
            if line.startswith('# Source: '):
                source = line[len('# Source: '):]
            if not line or line.startswith('#') or line.startswith('device_id\t'):
                continue
            device_id, first_driver, name = line.split('\t')[:3]
            rows.append((device_id.lower(), first_driver, name))
    return source, rows


BUILDER = '''
# device id -> name as pci.ids spells it (chip code name, marketing names in brackets)
DEVICE_NAMES = dict((row[0], row[5]) for row in _DEVICES)
# device id -> first driver release whose open-gpu-kernel-modules README lists it
DEVICE_FIRST_DRIVER = dict((row[0], row[4]) for row in _DEVICES if row[4])
# (chip, architecture, compute capability or '', space separated 4-digit device ids), in the order the
# (chip, architecture, compute capability) first appear in _DEVICES
DEVICE_GROUPS = tuple(key + (' '.join(row[0] for row in _DEVICES if row[1:4] == key),)
                      for key in dict.fromkeys(row[1:4] for row in _DEVICES))
'''


def render(rows, first_driver=None):
    """The module's text from the pci.ids TSV rows and read_first_driver_tsv()'s (source, rows), if any."""
    rows = [r for r in rows if r[0] not in NOT_GPUS]
    source, first_rows = first_driver if first_driver is not None else ('', [])
    drivers = dict((device_id, version) for device_id, version, _name in first_rows)
    unknown = sorted(set(drivers) - set(r[0] for r in rows))
    if unknown:
        raise ValueError('first driver TSV lists devices that are not GPUs of the pci.ids TSV: %s' % ' '.join(unknown))
    parts = textwrap.wrap(source, 100, drop_whitespace=False) or ['']
    out = [HEADER, 'FIRST_DRIVER_SOURCE = (\n%s)\n' % ''.join('    %r\n' % part for part in parts)]
    out.append('\n# (device id, chip, architecture, compute capability or \'\' when the TSV has none, first driver release\n'
               '#  whose open-gpu-kernel-modules README lists the device or \'\', name as pci.ids spells it)\n'
               '_DEVICES = (\n')
    for device_id, chip, arch, cc, name in rows:
        out.append("    %r,\n" % ((device_id, chip, arch, cc, drivers.get(device_id, ''), name),))
    out.append(')\n')
    out.append(BUILDER)
    return ''.join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='only compare, do not write')
    parser.add_argument('--tsv', default=TSV)
    parser.add_argument('--first-driver-tsv', default=FIRST_DRIVER_TSV)
    parser.add_argument('--target', default=TARGET)
    args = parser.parse_args(argv)
    text = render(read_tsv(args.tsv), read_first_driver_tsv(args.first_driver_tsv))
    if args.check:
        with open(args.target, encoding='utf-8') as handle:
            current = handle.read()
        if current != text:
            sys.stderr.write('%s is stale; run tools/gen_pci_ids.py\n' % args.target)
            return 1
        return 0
    with open(args.target, 'w', encoding='utf-8') as handle:
        handle.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())

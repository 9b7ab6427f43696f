# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extract, per PCI device id, the first NVIDIA driver whose open-gpu-kernel-modules README lists it.

Input: a git clone of NVIDIA/open-gpu-kernel-modules with its tags (one tag per driver release).
Every tag's README.md has the table "Product Name | PCI ID" of the GPUs that release supports (device
id, optionally subsystem vendor and device). The tags are taken in version order (515.43.04 <
520.56.06 < ... < 595.45.04, numbers compared as integers) and each device id gets the first tag that
lists it under any subsystem.

Output: tests/unit/fixtures/gpu/open-gpu-kernel-modules/first_driver_by_device.tsv (columns
device_id, first_driver, readme_name; '#' lines say where it came from). tools/gen_pci_ids.py
turns it into DEVICE_FIRST_DRIVER of plugins/module_utils/_gpu_pci_ids.py.

Usage (from the collection root; the clone is not part of the collection):
    python3 tools/gen_first_driver_tsv.py /path/to/open-gpu-kernel-modules
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'gpu', 'open-gpu-kernel-modules', 'first_driver_by_device.tsv')

# "| NVIDIA H200                                             | 2335 10DE 18BF |"
ROW_RE = re.compile(r'^\|\s*([^|]*?)\s*\|\s*([0-9A-F]{4})((?: [0-9A-F]{4}){0,2})\s*\|\s*$', re.M)


def version_key(tag):
    return tuple(int(part) for part in re.findall(r'\d+', tag))


def git(repo, *args):
    return subprocess.run(['git', '-C', repo] + list(args), capture_output=True, text=True, check=True).stdout


def readme_rows(text):
    """[(device_id '2335', product name)] of one README's supported-GPU table."""
    return [(m.group(2).lower(), m.group(1)) for m in ROW_RE.finditer(text)]


def first_drivers(repo):
    tags = sorted((t for t in git(repo, 'tag').split() if re.match(r'^\d+\.\d+(\.\d+)?$', t)), key=version_key)
    first = {}
    for tag in tags:
        try:
            text = git(repo, 'show', '%s:README.md' % tag)
        except subprocess.CalledProcessError:
            continue
        for device_id, name in readme_rows(text):
            first.setdefault(device_id, (tag, name))
    return tags, first


def render(repo, tags, first):
    head = git(repo, 'rev-parse', 'HEAD').strip()
    out = ['# Source: NVIDIA/open-gpu-kernel-modules README.md "Product Name | PCI ID" table, %d release tags '
           '%s .. %s (clone HEAD %s)\n' % (len(tags), tags[0], tags[-1], head),
           '# first_driver: the first tag, in version order, whose README lists the device id (any subsystem)\n',
           'device_id\tfirst_driver\treadme_name\n']
    for device_id in sorted(first):
        tag, name = first[device_id]
        out.append('%s\t%s\t%s\n' % (device_id, tag, name))
    return ''.join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('repo', help='a clone of NVIDIA/open-gpu-kernel-modules with its tags')
    parser.add_argument('--out', default=OUT)
    args = parser.parse_args(argv)
    tags, first = first_drivers(args.repo)
    with open(args.out, 'w', encoding='utf-8') as handle:
        handle.write(render(args.repo, tags, first))
    sys.stdout.write('%d device ids from %d tags -> %s\n' % (len(first), len(tags), args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())

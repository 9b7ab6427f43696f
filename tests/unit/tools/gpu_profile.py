# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a recorded GPU host (sys/, proc/, dev/, nvidia-smi replay) from real captures.

    python3 tests/unit/tools/gpu_profile.py PROFILE DEST

The demo lab copies DEST into a container and points labops.dlstack.gpu_facts at it
(sysfs_root=DEST/sys, procfs_root=DEST/proc, nvidia_smi_path=DEST/bin/nvidia-smi), so the roles
decide from real recorded hardware. The probe reports such hosts with source=recorded and every
report labels them SIMULATED. Every tree carries /.dockerenv: it stands for the container it is
copied into, so the roles stay in container mode (no kernel work, no reboot).

Profiles:
  h200             NVIDIA H200, driver 580.159.04 open module, CUDA 13.0 (h200-driver580 captures)
  rtx3090-nouveau  GeForce RTX 3090 (PCI id and bus from telegraf/3090-v13.xml) bound to nouveau,
                   no NVIDIA driver installed: the state of a fresh Debian desktop
  rtx4090-r535     GeForce RTX 4090 on driver 535.86.05, proprietary module, CUDA 12.2 (the GPU, bus,
                   UUID, memory and driver of netdata/rtx-4090-driver-535.xml; nvidia-smi replays them)
  blackwell-nodriver  RTX PRO 6000 Blackwell Max-Q (PCI id and bus from
                   telegraf/pro-6000-maxq-blackwell-v13.xml), no driver bound or installed: a new server
  t4-busy          Tesla T4 on driver 515.105.01 (proprietary module, CUDA 11.7) running a job: the GPU, bus,
                   UUID, memory, driver and processes of telegraf/tesla-t4.xml (Xorg, graphics, 22 MiB; python,
                   compute, pid 5762, 1005 MiB); nvidia-smi replays them, --query-compute-apps included
  t4-idle          the same machine after the job ended: only Xorg is left on the GPU
  In t4-busy and t4-idle, who owns the processes and since when is not in the capture: the profile
  says so (a stand-in, like the rest of the tree): python belongs to alice (uid 1000) and started 71 h
  10 min before the recorded /proc/uptime, Xorg to root at boot.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import xml.etree.ElementTree as ET

from gpu_tree import REPO_ROOT, HostTree, ReplayNvidiaSmi, help_query_fields

FIXTURES = os.path.join(REPO_ROOT, 'tests', 'unit', 'fixtures', 'gpu')


def _read(*parts):
    with open(os.path.join(FIXTURES, *parts), encoding='utf-8') as handle:
        return handle.read()


def _section(text, title):
    return text.split('################ %s\n' % title, 1)[1].split('\n\n', 1)[0] + '\n'


def h200(tree, bindir):
    misc = _read('h200-driver580', 'misc.txt')
    tree.add_pci_capture(_read('h200-driver580', 'sysfs_pci_10de.txt'))
    tree.load_module('nvidia', _section(misc, '/sys/module/nvidia/version').strip(), _section(misc, '/proc/driver/nvidia/version'))
    tree.dev_nodes('nvidiactl', 'nvidia0', 'nvidia-uvm', 'nvidia-uvm-tools')
    header = _read('h200-driver580', 'query_gpu_all.csv').splitlines()[0]
    fields = [f.strip().split(' [')[0] for f in next(csv.reader([header], skipinitialspace=True))]
    values = next(csv.reader(_read('h200-driver580', 'query_gpu_all_nounits.csv').splitlines(), skipinitialspace=True))
    smi = ReplayNvidiaSmi(gpus=[dict(zip(fields, values))],
                          valid_fields=help_query_fields(_read('h200-driver580', 'help-query-gpu.txt')),
                          version={'rc': 0, 'stdout': _section(misc, 'nvidia-smi --version')})
    smi.script(bindir, portable=True)


def rtx3090_nouveau(tree, bindir):
    gpu = ET.fromstring(_read('telegraf', '3090-v13.xml')).find('gpu')
    bus = gpu.get('id').lower()[-12:]  # 00000000:01:00.0 -> 0000:01:00.0 form sysfs uses
    device = '0x' + gpu.find('pci/pci_device_id').text[:4].lower()
    tree.add_pci(bus, '0x10de', device, '0x030000', driver='nouveau')
    tree.load_module('nouveau')
    # no NVIDIA driver: no nvidia-smi at all (bindir stays empty)


def _xml_gpu(*parts):
    root = ET.fromstring(_read(*parts))
    gpu = root.find('gpu')
    bus = gpu.get('id').lower()[-12:]  # 00000000:84:00.0 -> 0000:84:00.0 form sysfs uses
    device = '0x' + gpu.find('pci/pci_device_id').text[:4].lower()
    return root, gpu, bus, device


def rtx4090_r535(tree, bindir):
    root, gpu, bus, device = _xml_gpu('netdata', 'rtx-4090-driver-535.xml')
    driver = root.find('driver_version').text
    tree.add_pci(bus, '0x10de', device, '0x030000', driver='nvidia')
    # proprietary module: licence taint P, and /proc's version line without "Open Kernel Module"
    tree.load_module('nvidia', driver, 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Tue Jul 18 20:37:52 UTC 2023\n'
                     % driver, taint='POE')
    tree.dev_nodes('nvidiactl', 'nvidia0', 'nvidia-uvm', 'nvidia-uvm-tools')
    record = {'index': gpu.find('minor_number').text, 'name': gpu.find('product_name').text,
              'pci.bus_id': gpu.get('id'), 'uuid': gpu.find('uuid').text,
              'memory.total': gpu.find('fb_memory_usage/total').text.split()[0], 'compute_cap': '8.9',
              'mig.mode.current': '[N/A]', 'driver_version': driver,
              'pci.device_id': '0x' + gpu.find('pci/pci_device_id').text}
    smi = ReplayNvidiaSmi(gpus=[record], valid_fields=help_query_fields(_read('netdata', 'help-query-gpu.txt')))
    smi.script(bindir, portable=True)


def blackwell_nodriver(tree, bindir):
    _root, _gpu, bus, device = _xml_gpu('telegraf', 'pro-6000-maxq-blackwell-v13.xml')
    tree.add_pci(bus, '0x10de', device, '0x030000')
    # no driver: nothing bound, no module, no nvidia-smi (bindir stays empty)


# t4-busy / t4-idle: what the capture cannot say (owner, start time): the stand-in values.
T4_UPTIME_S = 300000.0
T4_STARTED_S = {675: 20.0, 5762: T4_UPTIME_S - (71 * 3600 + 600)}  # Xorg at boot; python 71 h 10 min ago
T4_OWNER = {675: 0, 5762: 1000}
T4_FDS = {675: ('nvidiactl', 'nvidia0', 'nvidia-modeset'), 5762: ('nvidiactl', 'nvidia0', 'nvidia-uvm')}


def _t4(tree, bindir, running):
    root, gpu, bus, device = _xml_gpu('telegraf', 'tesla-t4.xml')
    driver = root.find('driver_version').text
    tree.add_pci(bus, '0x10de', device, '0x030200', driver='nvidia')
    tree.load_module('nvidia', driver, 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Fri Mar 31 00:00:00 UTC 2023\n'
                     % driver, taint='POE')
    tree.dev_nodes('nvidiactl', 'nvidia0', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia-modeset')
    record = {'index': gpu.find('minor_number').text, 'name': gpu.find('product_name').text,
              'pci.bus_id': gpu.get('id'), 'uuid': gpu.find('uuid').text,
              'memory.total': gpu.find('fb_memory_usage/total').text.split()[0], 'compute_cap': '7.5',
              'mig.mode.current': '[N/A]', 'driver_version': driver,
              'pci.device_id': '0x' + gpu.find('pci/pci_device_id').text}
    tree.uptime(T4_UPTIME_S)
    tree.passwd(('root', 0), ('alice', 1000))
    apps = []
    for proc in gpu.findall('processes/process_info'):
        pid = int(proc.find('pid').text)
        compute = 'C' in proc.find('type').text
        if compute and not running:
            continue  # the job ended
        name = proc.find('process_name').text
        tree.add_process(pid, os.path.basename(name), T4_OWNER[pid], int(T4_STARTED_S[pid] * 100), devices=T4_FDS[pid])
        if compute:
            apps.append({'gpu_bus_id': gpu.get('id'), 'pid': str(pid), 'process_name': name,
                         'used_gpu_memory': proc.find('used_memory').text.split()[0]})
    smi = ReplayNvidiaSmi(gpus=[record], valid_fields=help_query_fields(_read('netdata', 'help-query-gpu.txt')),
                          compute_apps=apps,
                          compute_apps_fields=help_query_fields(_read('nvidia_gpu_exporter', 'h200-590.48.01-compute-apps.txt')))
    smi.script(bindir, portable=True)


def t4_busy(tree, bindir):
    _t4(tree, bindir, running=True)


def t4_idle(tree, bindir):
    _t4(tree, bindir, running=False)


PROFILES = {'h200': h200, 'rtx3090-nouveau': rtx3090_nouveau, 'rtx4090-r535': rtx4090_r535,
            'blackwell-nodriver': blackwell_nodriver, 't4-busy': t4_busy, 't4-idle': t4_idle}


def main(argv):
    if len(argv) != 3 or argv[1] not in PROFILES:
        sys.stderr.write('usage: gpu_profile.py {%s} DEST\n' % ','.join(sorted(PROFILES)))
        return 2
    dest = argv[2]
    shutil.rmtree(dest, ignore_errors=True)
    tree = HostTree(dest)
    tree.dockerenv()
    tree.efi(secure_boot=False)
    bindir = os.path.join(dest, 'bin')
    os.makedirs(bindir, exist_ok=True)
    PROFILES[argv[1]](tree, bindir)
    with open(os.path.join(dest, 'SIMULATED'), 'w', encoding='utf-8') as handle:
        handle.write('Recorded GPU host "%s" built by tests/unit/tools/gpu_profile.py from real captures; not real hardware.\n' % argv[1])
    print(dest)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

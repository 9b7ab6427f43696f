# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to labops.dlstack. Runs on managed hosts: pure Python >= 3.9, stdlib only.

"""Reading a host's GPU state: sysfs/procfs files, nvidia-smi output, and the status they add up to.

Everything here is a function of file trees (sysfs_root, procfs_root, root, dev_root) and of a
`run(argv) -> (rc, stdout, stderr)` callable, so tests feed it recorded data and the module feeds it
the real host. Sources for the facts used: shared/research/conda-pytorch-probe.md part C
(C.2 nvidia-smi/NVML, C.3 sysfs, C.5 error messages).
"""

from __future__ import annotations

import csv
import glob
import io
import os
import platform
import re
import xml.etree.ElementTree as ET

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge import (
    arch_from_compute_capability,
    driver_branch,
    driver_max_cuda,
    driver_requirement_problems,
    min_compute_capability,
    normalize_architecture,
    normalize_compute_capability,
    normalize_cuda_version,
    normalize_pci_device_id,
    pci_device_info,
    pci_device_info_from_name,
    requirements_for_gpus,
    torch_recommendation,
    version_string,
)
from ansible_collections.labops.dlstack.plugins.module_utils._gpu_processes import (
    gpu_processes,
    interactive_sessions,
    own_ancestors,
    parse_xml_processes,
)

NVIDIA_VENDOR = '0x10de'
# PCI class codes of GPU functions: 0x0300xx VGA compatible (GeForce, workstation), 0x0302xx 3D
# controller (datacenter; the H200 is 0x030200), 0x0380xx other display controller (rare). C.3.
GPU_CLASS_PREFIXES = ('0x0300', '0x0302', '0x0380')

EFI_GLOBAL_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c'

# --query-gpu fields, in order. pci.device_id is not in the list but lets the PCI table name
# the architecture when compute_cap is missing (R470).
QUERY_FIELDS = ('index', 'name', 'pci.bus_id', 'uuid', 'memory.total', 'compute_cap', 'mig.mode.current',
                'driver_version', 'pci.device_id')
# fields that identify a GPU: never dropped by the field-by-field fallback
REQUIRED_FIELDS = ('index', 'name')

STATUSES = ('ok', 'no_gpu', 'driver_not_installed', 'driver_not_loaded', 'nouveau_bound',
            'driver_library_mismatch', 'gpu_unsupported_by_driver', 'no_device_access')

# ------------------------------------------------------------------------------------------------
# small file helpers
# ------------------------------------------------------------------------------------------------


def read_text(path, limit=1024 * 1024):
    """File content as text, None when it can not be read."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read(limit)
    except (IOError, OSError):
        return None
    return data.decode('utf-8', 'replace')


def read_bytes(path, limit=4096):
    try:
        with open(path, 'rb') as handle:
            return handle.read(limit)
    except (IOError, OSError):
        return None


def _strip(value):
    return value.strip() if value is not None else None


# ------------------------------------------------------------------------------------------------
# sysfs / procfs
# ------------------------------------------------------------------------------------------------

def normalize_pci_bus_id(bus_id):
    """'00000000:00:06.0' (nvidia-smi) or '0000:00:06.0' (sysfs) -> '0000:00:06.0' (lower case)."""
    if not bus_id:
        return None
    text = str(bus_id).strip().lower()
    match = re.match(r'^(?:([0-9a-f]+):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$', text)
    if not match:
        return text
    domain = int(match.group(1) or '0', 16)
    return '%04x:%02x:%02x.%s' % (domain, int(match.group(2), 16), int(match.group(3), 16), match.group(4))


def scan_pci(sysfs_root='/sys'):
    """NVIDIA GPU functions from <sysfs_root>/bus/pci/devices/*: list of dicts, sorted by bus id.

    Each: pci_bus_id, pci_device_id ('0x2335'), pci_class ('0x030200'), subsystem_vendor,
    subsystem_device, bound_driver ('nvidia', 'nouveau', 'vfio-pci', ... or 'none'), numa_node.
    """
    out = []
    pattern = os.path.join(sysfs_root, 'bus', 'pci', 'devices', '*')
    for path in sorted(glob.glob(pattern)):
        vendor = _strip(read_text(os.path.join(path, 'vendor')))
        if vendor is None or vendor.lower() != NVIDIA_VENDOR:
            continue
        pci_class = _strip(read_text(os.path.join(path, 'class')))
        if pci_class is None or not pci_class.lower().startswith(GPU_CLASS_PREFIXES):
            continue
        driver_link = os.path.join(path, 'driver')
        bound = 'none'
        if os.path.islink(driver_link):
            bound = os.path.basename(os.readlink(driver_link))
        elif os.path.isdir(driver_link):
            bound = os.path.basename(os.path.realpath(driver_link))
        numa = _strip(read_text(os.path.join(path, 'numa_node')))
        out.append({
            'pci_bus_id': normalize_pci_bus_id(os.path.basename(path)),
            'pci_device_id': normalize_pci_device_id(_strip(read_text(os.path.join(path, 'device')))),
            'pci_class': pci_class.lower(),
            'subsystem_vendor': _strip(read_text(os.path.join(path, 'subsystem_vendor'))),
            'subsystem_device': _strip(read_text(os.path.join(path, 'subsystem_device'))),
            'bound_driver': bound,
            'numa_node': int(numa) if numa and re.match(r'^-?\d+$', numa) else None,
        })
    return out


_PROC_VERSION_RE = re.compile(r'NVRM version:\s*(?P<desc>.*?Kernel Module.*?)\s+(?P<version>\d+\.\d+(?:\.\d+)?)\s')


def parse_proc_driver_version(text):
    """/proc/driver/nvidia/version -> {'version', 'kernel_module': 'open'|'proprietary'} or None.

    Open:        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ..."
    Proprietary: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  375.74  Wed Jun 14 01:39:39 PDT 2017"
    """
    if not text:
        return None
    match = _PROC_VERSION_RE.search(text + ' ')
    if not match:
        return None
    flavour = 'open' if 'Open Kernel Module' in match.group('desc') else 'proprietary'
    return {'version': match.group('version'), 'kernel_module': flavour}


def kernel_module_flavour_from_taint(taint):
    """/sys/module/nvidia/taint: 'P' (proprietary licence) marks the proprietary module; open is MIT/GPL."""
    if taint is None:
        return None
    taint = taint.strip()
    return 'proprietary' if 'P' in taint else 'open'


def read_kernel_module(sysfs_root='/sys', procfs_root='/proc'):
    """State of the nvidia kernel module: {'loaded', 'version', 'kernel_module'}."""
    module_dir = os.path.join(sysfs_root, 'module', 'nvidia')
    sys_version = _strip(read_text(os.path.join(module_dir, 'version')))
    proc = parse_proc_driver_version(read_text(os.path.join(procfs_root, 'driver', 'nvidia', 'version')))
    loaded = os.path.isdir(module_dir) or proc is not None or module_listed(procfs_root, 'nvidia')
    flavour = proc['kernel_module'] if proc else None
    if flavour is None and loaded:
        flavour = kernel_module_flavour_from_taint(read_text(os.path.join(module_dir, 'taint')))
    version = sys_version or (proc['version'] if proc else None)
    return {'loaded': bool(loaded), 'version': version, 'kernel_module': flavour}


def module_listed(procfs_root, name):
    """True when /proc/modules has a line for the kernel module `name`."""
    text = read_text(os.path.join(procfs_root, 'modules'))
    if not text:
        return False
    for line in text.splitlines():
        if line.split(' ', 1)[0] == name:
            return True
    return False


def nouveau_loaded(sysfs_root='/sys', procfs_root='/proc'):
    return os.path.isdir(os.path.join(sysfs_root, 'module', 'nouveau')) or module_listed(procfs_root, 'nouveau')


def secure_boot_state(sysfs_root='/sys'):
    """'enabled' / 'disabled' / 'unknown' from the EFI variable SecureBoot-<global guid>.

    The efivarfs file holds 4 bytes of attributes then the value: byte 5 is 1 when Secure Boot is on.
    No /sys/firmware/efi next to other firmware entries (acpi, dmi, ...) means a legacy BIOS boot:
    Secure Boot can not be on. An empty /sys/firmware is what container runtimes mask it with: unknown.
    """
    firmware = os.path.join(sysfs_root, 'firmware')
    efi = os.path.join(firmware, 'efi')
    if not os.path.isdir(efi):
        try:
            entries = os.listdir(firmware)
        except OSError:
            entries = []
        return 'disabled' if entries else 'unknown'
    data = read_bytes(os.path.join(efi, 'efivars', 'SecureBoot-' + EFI_GLOBAL_GUID))
    if data is None or len(data) < 5:
        return 'unknown'
    return 'enabled' if data[4:5] == b'\x01' else 'disabled'


_CGROUP_CONTAINER_RE = re.compile(r'(docker|kubepods|containerd|libpod|lxc|crio|podman|machine\.slice/.*\.scope)')


def detect_container(root='/', procfs_root='/proc'):
    """(in_container, evidence): /.dockerenv, /run/.containerenv, /proc/1/environ container=, /proc/1/cgroup."""
    if os.path.exists(os.path.join(root, '.dockerenv')):
        return True, '/.dockerenv'
    if os.path.exists(os.path.join(root, 'run', '.containerenv')):
        return True, '/run/.containerenv'
    environ = read_bytes(os.path.join(procfs_root, '1', 'environ'), 65536)
    if environ:
        for item in environ.split(b'\0'):
            if item.startswith(b'container='):
                return True, '/proc/1/environ ' + item.decode('utf-8', 'replace')
    cgroup = read_text(os.path.join(procfs_root, '1', 'cgroup'))
    if cgroup:
        for line in cgroup.splitlines():
            path = line.split(':', 2)[-1]
            if _CGROUP_CONTAINER_RE.search(path):
                return True, '/proc/1/cgroup ' + line.strip()
    return False, None


def device_nodes(dev_root='/dev'):
    """NVIDIA device nodes: {'nvidiactl': bool, 'gpus': ['nvidia0', ...], 'accessible': bool}."""
    ctl = os.path.join(dev_root, 'nvidiactl')
    gpus = sorted((os.path.basename(p) for p in glob.glob(os.path.join(dev_root, 'nvidia[0-9]*'))),
                  key=lambda n: int(re.sub(r'\D', '', n) or 0))
    present = os.path.exists(ctl) and bool(gpus)
    accessible = present and os.access(ctl, os.R_OK | os.W_OK) and all(
        os.access(os.path.join(dev_root, g), os.R_OK | os.W_OK) for g in gpus)
    return {'nvidiactl': os.path.exists(ctl), 'gpus': gpus, 'accessible': bool(accessible)}


# ------------------------------------------------------------------------------------------------
# nvidia-smi
# ------------------------------------------------------------------------------------------------

_NA_VALUES = ('', 'n/a', '[n/a]', '[not supported]', 'not supported', '[unknown error]', '[insufficient permissions]',
              '[requested functionality has been deprecated]', 'requested functionality has been deprecated', '[gpu is lost]')
_INVALID_FIELD_RE = re.compile(r'Field "(?P<field>[^"]+)" is not a valid field to query')


def na_to_none(value):
    """nvidia-smi's '[N/A]', 'N/A', '[Not Supported]', ... -> None; other values stripped."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() in _NA_VALUES or (text.startswith('[') and text.endswith(']')):
        return None
    return text


def query_args(fields):
    return ['--query-gpu=' + ','.join(fields), '--format=csv,noheader,nounits']


def invalid_field(text):
    """'Field "compute_cap" is not a valid field to query.' -> 'compute_cap'; None otherwise."""
    match = _INVALID_FIELD_RE.search(text or '')
    return match.group('field') if match else None


def header_fields(header_line):
    """A csv header ('index, name, memory.total [MiB]') -> ['index', 'name', 'memory.total']."""
    return [re.sub(r'\s*\[[^\]]*\]\s*$', '', f.strip()) for f in header_line.split(',')]


def parse_query_csv(text, fields=None):
    """Rows of a --query-gpu CSV as dicts field -> raw value (None for N/A values).

    fields: the queried fields when the output has no header (noheader); None when the first line is
    the header (format=csv).
    """
    rows = []
    lines = [line for line in (text or '').splitlines() if line.strip()]
    if not lines:
        return rows
    if fields is None:
        fields = header_fields(lines[0])
        lines = lines[1:]
    reader = csv.reader(io.StringIO('\n'.join(lines)), skipinitialspace=True)
    for values in reader:
        if len(values) != len(fields):
            continue
        rows.append(dict((f, na_to_none(v)) for f, v in zip(fields, values)))
    return rows


def _int_of(value):
    if value is None:
        return None
    match = re.match(r'^\s*(\d+)', str(value))
    return int(match.group(1)) if match else None


def memory_mib(value):
    """'143771', '143771 MiB' -> 143771; '1.5 GiB' -> 1536."""
    if value is None:
        return None
    match = re.match(r'^\s*([\d.]+)\s*([KMGT]i?B)?\s*$', str(value), re.IGNORECASE)
    if not match:
        return None
    number = float(match.group(1))
    unit = (match.group(2) or 'MiB').lower()
    factor = {'kib': 1.0 / 1024, 'kb': 1.0 / 1024, 'mib': 1, 'mb': 1, 'gib': 1024, 'gb': 1024, 'tib': 1024 * 1024, 'tb': 1024 * 1024}[unit]
    return int(round(number * factor))


def mig_mode(value):
    """'Enabled' -> 'enabled', 'Disabled' -> 'disabled', N/A -> None."""
    value = na_to_none(value)
    if value is None:
        return None
    low = value.lower()
    return low if low in ('enabled', 'disabled') else None


def gpu_from_query_row(row):
    """One --query-gpu row (dict from parse_query_csv) -> a partial gpu fact."""
    return {
        'index': _int_of(row.get('index')),
        'name': row.get('name'),
        'pci_bus_id': normalize_pci_bus_id(row.get('pci.bus_id')),
        'pci_device_id': normalize_pci_device_id(row.get('pci.device_id')),
        'uuid': row.get('uuid'),
        'memory_total_mib': memory_mib(row.get('memory.total')),
        'compute_capability': normalize_compute_capability(row.get('compute_cap')),
        'mig_mode': mig_mode(row.get('mig.mode.current')),
        'driver_version': version_string(row.get('driver_version') or row.get('kmd_version')),
    }


def query_gpus(run, nvidia_smi, fields=QUERY_FIELDS):
    """Run `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`, dropping invalid fields.

    Older drivers lack fields (R470 has no compute_cap: 'Field "compute_cap" is not a valid field to
    query.', rc 2): such a field is dropped and the query repeated. Returns a dict:
    {'ok', 'rc', 'stdout', 'stderr', 'fields', 'dropped_fields', 'rows'}.
    """
    fields = list(fields)
    dropped = []
    while True:
        rc, out, err = run([nvidia_smi] + query_args(fields))
        bad = invalid_field((out or '') + '\n' + (err or ''))
        if rc != 0 and bad and bad in fields and bad not in REQUIRED_FIELDS:
            fields.remove(bad)
            dropped.append(bad)
            continue
        rows = parse_query_csv(out, fields) if rc == 0 else []
        return {'ok': rc == 0 and bool(rows), 'rc': rc, 'stdout': out, 'stderr': err, 'fields': fields,
                'dropped_fields': dropped, 'rows': rows}


_KV_RE = re.compile(r'^\s*(?P<key>[A-Za-z][A-Za-z0-9 .\-]*?)\s*:\s*(?P<value>.*?)\s*$')


def parse_nvidia_smi_version(text):
    """`nvidia-smi --version` (or the header of `nvidia-smi -q`) -> dict.

    R580:  "DRIVER version : 580.159.04" / "CUDA Version : 13.0"
    R610:  "DRIVER version : Deprecated, see "KMD version" instead" / "KMD version : 610.57.04" /
           "CUDA UMD version : 13.3";  -q: "Driver Version : 610.57.04 [Deprecated; ...]"
    Returns {'driver_version', 'kmd_version', 'cuda_version', 'nvidia_smi_version', 'nvml_version'}.
    """
    found = {}
    for line in (text or '').splitlines():
        match = _KV_RE.match(line)
        if not match:
            continue
        key = match.group('key').lower()
        value = match.group('value')
        if key in ('driver version',) and not value.lower().startswith('deprecated'):
            found.setdefault('driver_version', version_string(value))
        elif key == 'kmd version':
            found.setdefault('kmd_version', version_string(value))
        elif key in ('cuda version', 'cuda umd version'):
            found.setdefault('cuda_version', normalize_cuda_version(value))
        elif key == 'nvidia-smi version':
            found.setdefault('nvidia_smi_version', version_string(value))
        elif key == 'nvml version':
            found.setdefault('nvml_version', version_string(value))
    driver = found.get('driver_version') or found.get('kmd_version')
    return {'driver_version': driver, 'kmd_version': found.get('kmd_version'), 'cuda_version': found.get('cuda_version'),
            'nvidia_smi_version': found.get('nvidia_smi_version'), 'nvml_version': found.get('nvml_version')}


def _xml_text(elem, path):
    if elem is None:
        return None
    return na_to_none(elem.findtext(path))


def parse_nvidia_smi_xml(text):
    """`nvidia-smi -q -x` -> {'driver_version', 'cuda_version', 'gpus': [...]}; never has compute capability.

    Each gpu: index (minor_number), name, pci_bus_id, pci_device_id, uuid, memory_total_mib,
    product_architecture, mig_mode, mig_devices [{index, gpu_instance_id, compute_instance_id, memory_total_mib}],
    processes [{pid, type (C, G, C+G), name, memory_mib, gpu_instance_id, compute_instance_id}].
    """
    root = ET.fromstring(text)
    gpus = []
    for position, gpu in enumerate(root.findall('gpu')):
        mig_devices = []
        for mig in gpu.findall('mig_devices/mig_device'):
            mig_devices.append({
                'index': _int_of(_xml_text(mig, 'index')),
                'gpu_instance_id': _int_of(_xml_text(mig, 'gpu_instance_id')),
                'compute_instance_id': _int_of(_xml_text(mig, 'compute_instance_id')),
                'memory_total_mib': memory_mib(_xml_text(mig, 'fb_memory_usage/total')),
            })
        minor = _int_of(_xml_text(gpu, 'minor_number'))
        gpus.append({
            'index': minor if minor is not None else position,
            'name': _xml_text(gpu, 'product_name'),
            'pci_bus_id': normalize_pci_bus_id(_xml_text(gpu, 'pci/pci_bus_id') or gpu.get('id')),
            'pci_device_id': normalize_pci_device_id(_xml_text(gpu, 'pci/pci_device_id')),
            'uuid': _xml_text(gpu, 'uuid'),
            'memory_total_mib': memory_mib(_xml_text(gpu, 'fb_memory_usage/total')),
            'product_architecture': _xml_text(gpu, 'product_architecture'),
            'mig_mode': mig_mode(_xml_text(gpu, 'mig_mode/current_mig')),
            'mig_devices': mig_devices,
            'processes': parse_xml_processes(gpu),
        })
    return {'driver_version': version_string(_xml_text(root, 'driver_version')),
            'cuda_version': normalize_cuda_version(_xml_text(root, 'cuda_version')),
            'gpus': gpus}


# error texts (C.5 and the issues cited in tests/unit/fixtures/gpu/PROVENANCE.md)
NVIDIA_SMI_ERRORS = (
    ('driver_library_mismatch', re.compile(r'Driver/library version mismatch', re.I)),
    ('no_library', re.compile(r"couldn't find libnvidia-ml\.so", re.I)),
    ('no_communication', re.compile(r"couldn't communicate with the NVIDIA driver", re.I)),
    ('nvml_unknown_error', re.compile(r'Failed to initialize NVML: Unknown Error', re.I)),
    ('nvml_no_permission', re.compile(r'Failed to initialize NVML: (Insufficient Permissions|No permission)', re.I)),
    ('no_devices', re.compile(r'^\s*No devices were found', re.I | re.M)),
    ('device_handle', re.compile(r'Unable to determine the device handle for GPU', re.I)),
    ('invalid_field', _INVALID_FIELD_RE),
)

_NVML_LIBRARY_RE = re.compile(r'NVML library version:\s*(?P<version>[\d.]+)')


def classify_nvidia_smi_error(rc, stdout, stderr):
    """(kind, detail) of a failed nvidia-smi run; kind None when it succeeded.

    kinds: driver_library_mismatch, no_library, no_communication, nvml_unknown_error,
    nvml_no_permission, no_devices, device_handle, invalid_field, timeout, not_runnable, unknown.
    """
    text = '%s\n%s' % (stdout or '', stderr or '')
    for kind, regex in NVIDIA_SMI_ERRORS:
        if regex.search(text):
            detail = None
            if kind == 'driver_library_mismatch':
                match = _NVML_LIBRARY_RE.search(text)
                detail = match.group('version') if match else None
            return kind, detail
    if rc == 0:
        return None, None
    if rc in (124, 137):
        return 'timeout', None
    if rc in (126, 127):
        return 'not_runnable', None
    return 'unknown', None


def first_line(text):
    for line in (text or '').splitlines():
        if line.strip():
            return line.strip()
    return None


# ------------------------------------------------------------------------------------------------
# putting it together
# ------------------------------------------------------------------------------------------------

def describe_gpu(gpu):
    """Fill architecture / compute_capability / chip of a gpu fact from what it has (CC, PCI id, name)."""
    info = pci_device_info(gpu.get('pci_device_id'))
    if info is None and gpu.get('name'):
        info = pci_device_info_from_name(gpu['name'])
    if gpu.get('compute_capability') is None and info:
        gpu['compute_capability'] = info['compute_capability']
    arch = arch_from_compute_capability(gpu.get('compute_capability'))
    if arch is None and info:
        arch = info['architecture']
    if arch is None:
        arch = normalize_architecture(gpu.get('product_architecture'))
    gpu['architecture'] = arch
    gpu['chip'] = info['chip'] if info else None
    return gpu


def merge_gpus(pci_gpus, smi_gpus):
    """One list of gpu facts: nvidia-smi's GPUs (in index order) joined to the PCI scan by bus id,
    then the PCI-only GPUs (no driver, nouveau, vfio-pci ...)."""
    by_bus = dict((g['pci_bus_id'], g) for g in pci_gpus)
    used = set()
    out = []
    for smi in sorted(smi_gpus, key=lambda g: (g.get('index') is None, g.get('index'))):
        pci = by_bus.get(smi.get('pci_bus_id'), {})
        if pci:
            used.add(pci['pci_bus_id'])
        gpu = {
            'index': smi.get('index'),
            'name': smi.get('name'),
            'pci_bus_id': smi.get('pci_bus_id') or pci.get('pci_bus_id'),
            'pci_device_id': pci.get('pci_device_id') or smi.get('pci_device_id'),
            'uuid': smi.get('uuid'),
            'memory_total_mib': smi.get('memory_total_mib'),
            'compute_capability': smi.get('compute_capability'),
            'mig_mode': smi.get('mig_mode'),
            'bound_driver': pci.get('bound_driver', 'nvidia'),
            'product_architecture': smi.get('product_architecture'),
        }
        out.append(gpu)
    for pci in pci_gpus:
        if pci['pci_bus_id'] in used:
            continue
        info = pci_device_info(pci['pci_device_id'])
        out.append({
            'index': None,
            'name': info['pci_name'] if info else None,
            'pci_bus_id': pci['pci_bus_id'],
            'pci_device_id': pci['pci_device_id'],
            'uuid': None,
            'memory_total_mib': None,
            'compute_capability': None,
            'mig_mode': None,
            'bound_driver': pci['bound_driver'],
            'product_architecture': None,
        })
    for gpu in out:
        describe_gpu(gpu)
        gpu.pop('product_architecture', None)
    return out


MESSAGES = {
    'ok': 'The NVIDIA driver runs {count} GPU(s) ({models}); driver {version} ({flavour} kernel module), CUDA {cuda}.',
    'no_gpu': 'No NVIDIA GPU on this host{extra}: nothing to install; PyTorch uses the cpu wheel.',
    'driver_not_installed': ('NVIDIA GPU(s) present ({models}) but no NVIDIA driver is installed{extra}. '
                             'Install a driver R{min_branch}+ with the {flavour} kernel module (the nvidia_driver role does this), then reboot.'),
    'driver_not_loaded': ('An NVIDIA driver is installed but its kernel module is not loaded{extra}. Usual causes: the module was not '
                          'built for the running kernel (check `dkms status`, install headers for `uname -r`), Secure Boot '
                          'refused an unsigned module (secure_boot={secure_boot}), or a reboot is pending. Fix that and reboot.'),
    'nouveau_bound': ('The open-source nouveau driver owns the GPU(s){extra}, so the NVIDIA driver can not. Blacklist nouveau '
                      '(/etc/modprobe.d: "blacklist nouveau", "options nouveau modeset=0"), rebuild the initramfs and reboot.'),
    'driver_library_mismatch': ('Driver/library version mismatch: the loaded kernel module is {version} but the user-space '
                                'libraries are {library}{extra}. The driver was upgraded under a running module (often by '
                                'unattended-upgrades). Reboot (or unload and reload the nvidia modules); pin the driver packages.'),
    'gpu_unsupported_by_driver': ('The installed driver ({version}, {flavour} kernel module) does not run {models}{extra}. '
                                  'These GPUs need: {requirements}. Install a matching driver and reboot.'),
    'no_device_access': ('The NVIDIA driver is loaded but the GPU device nodes are not usable here{extra}. In a container, start it '
                         'with the GPUs (docker --gpus all / the NVIDIA container toolkit) and recreate it after '
                         '"Failed to initialize NVML: Unknown Error"; on a host, check /dev/nvidia* exist and are readable '
                         '(nvidia-modprobe, udev, the video/render group).'),
}


def _models(gpus):
    names = []
    for gpu in gpus:
        label = gpu.get('name') or gpu.get('pci_device_id') or 'unknown GPU'
        if gpu.get('architecture'):
            label += ' [%s]' % gpu['architecture']
        if label not in names:
            names.append(label)
    return ', '.join(names) or 'none'


def decide_status(ctx):
    """(status, message) from the collected evidence (see probe() for ctx's keys)."""
    gpus = ctx['gpus']
    host_gpus = [g for g in gpus if g['bound_driver'] != 'vfio-pci']
    smi = ctx['smi']
    kmod = ctx['kmod']
    nodes = ctx['device_nodes']
    requirements = ctx['requirements']
    kind = smi.get('error_kind')
    vals = {
        'count': len([g for g in gpus if g.get('index') is not None]),
        'models': _models(host_gpus),
        'version': ctx['driver_version'] or 'unknown',
        'flavour': kmod.get('kernel_module') or requirements.get('kernel_module') or 'matching',
        'cuda': ctx.get('cuda_version') or 'unknown',
        'min_branch': requirements.get('min_branch') or 580,
        'secure_boot': ctx['secure_boot'],
        'library': smi.get('library_version') or 'different',
        'requirements': '; '.join(requirements.get('reasons') or []) or 'unknown',
        'extra': '',
    }
    in_container = ctx['in_container']

    def done(status, extra=''):
        vals['extra'] = extra
        return status, MESSAGES[status].format(**vals)

    if smi.get('ok'):
        visible = vals['count']
        if len(host_gpus) > visible:
            missing = [g for g in host_gpus if g.get('index') is None]
            vals['models'] = _models([g for g in gpus if g.get('index') is not None])
            status, message = done('ok')
            return status, message + ' Not visible to the driver: %s (bound to %s).' % (
                _models(missing), ', '.join(sorted(set(g['bound_driver'] for g in missing))))
        return done('ok')
    if not host_gpus:
        if gpus:
            return done('no_gpu', ' for the host: %d GPU(s) are bound to vfio-pci (passed through to virtual machines)' % len(gpus))
        if in_container and not ctx['pci_scan_possible']:
            return done('no_gpu', ' visible from this container')
        return done('no_gpu')
    if kind == 'driver_library_mismatch':
        return done('driver_library_mismatch')
    nouveau_gpus = [g for g in host_gpus if g['bound_driver'] == 'nouveau']
    if nouveau_gpus or (ctx['nouveau_loaded'] and not kmod['loaded']):
        return done('nouveau_bound', ' (%s)' % _models(nouveau_gpus or host_gpus))
    if not kmod['loaded']:
        where = ' on the container host' if in_container else ''
        if kind == 'no_library':
            return done('driver_not_installed', ': nvidia-smi is there but libnvidia-ml.so is not' + where)
        if smi.get('found') and kind != 'not_runnable':
            return done('driver_not_loaded', where)
        if in_container:
            return done('driver_not_installed', ' on the container host (no nvidia kernel module loaded)')
        return done('driver_not_installed')
    # the nvidia kernel module is loaded from here on
    if kind == 'no_library':
        return done('driver_not_installed', ': the kernel module is loaded but the user-space libraries (libnvidia-ml.so) are missing')
    problems = []
    if ctx['driver_version']:
        problems = driver_requirement_problems(requirements, ctx['driver_version'], kmod.get('kernel_module'))
    if kind in ('no_devices', 'device_handle') or problems:
        if problems:
            extra = ' (%s)' % '; '.join(problems)
        elif kind == 'device_handle':
            extra = ' (nvidia-smi: "%s"; also seen when a GPU fell off the bus: check dmesg for Xid errors)' % smi.get('error_line')
        else:
            extra = (' (nvidia-smi: "No devices were found" although the driver matches on paper: check dmesg for NVRM / '
                     'RmInitAdapter errors, and firmware settings such as Above 4G Decoding / Resizable BAR)')
        return done('gpu_unsupported_by_driver', extra)
    if kind in ('nvml_unknown_error', 'nvml_no_permission', 'no_communication') or not nodes['accessible']:
        extra = ''
        if smi.get('error_line'):
            extra = ' (nvidia-smi: "%s")' % smi['error_line']
        elif not nodes['nvidiactl'] or not nodes['gpus']:
            extra = ' (no /dev/nvidiactl or /dev/nvidia<N>)'
        else:
            extra = ' (/dev/nvidia* not readable and writable by this user)'
        if in_container:
            extra += ' - this is a container'
        return done('no_device_access', extra)
    if kind in ('timeout', 'unknown', 'invalid_field'):
        return done('no_device_access', ' (nvidia-smi failed: %s)' % (smi.get('error_line') or kind))
    # module loaded, nodes usable, no nvidia-smi (or not runnable): trust sysfs
    status, message = done('ok')
    return status, message + ' nvidia-smi was not available; GPU details come from sysfs and the PCI id table.'


def probe(run=None, nvidia_smi=None, sysfs_root='/sys', procfs_root='/proc', root='/', dev_root='/dev',
          torch_version=None, query_xml_for_mig=True, machine=None):
    """Collect everything and return the dlstack_gpu fact (a dict).

    run: callable(argv) -> (rc, stdout, stderr); nvidia_smi: path of nvidia-smi or None when absent.
    machine: the CPU architecture the torch wheels are for (None = this machine's, platform.machine()).
    """
    pci_gpus = scan_pci(sysfs_root)
    pci_scan_possible = os.path.isdir(os.path.join(sysfs_root, 'bus', 'pci', 'devices'))
    kmod = read_kernel_module(sysfs_root, procfs_root)
    nouveau = nouveau_loaded(sysfs_root, procfs_root)
    secure_boot = secure_boot_state(sysfs_root)
    in_container, container_evidence = detect_container(root, procfs_root)
    nodes = device_nodes(dev_root)

    smi = {'found': bool(nvidia_smi), 'path': nvidia_smi, 'ok': False, 'rc': None, 'error_kind': None,
           'error_line': None, 'dropped_fields': [], 'library_version': None}
    smi_gpus = []
    version_info = {}
    xml_processes = None
    if nvidia_smi and run is not None:
        result = query_gpus(run, nvidia_smi)
        smi['rc'] = result['rc']
        smi['dropped_fields'] = result['dropped_fields']
        if result['ok']:
            smi['ok'] = True
            smi_gpus = [gpu_from_query_row(r) for r in result['rows']]
        else:
            kind, detail = classify_nvidia_smi_error(result['rc'], result['stdout'], result['stderr'])
            if kind is None:
                kind = 'unknown'
            smi['error_kind'] = kind
            smi['error_line'] = first_line(result['stdout']) or first_line(result['stderr'])
            smi['library_version'] = detail
        if smi['ok']:
            rc, out, err = run([nvidia_smi, '--version'])
            if rc == 0:
                version_info = parse_nvidia_smi_version(out)
            if query_xml_for_mig and any(g.get('mig_mode') == 'enabled' for g in smi_gpus):
                rc, out, err = run([nvidia_smi, '-q', '-x'])
                if rc == 0:
                    try:
                        xml = parse_nvidia_smi_xml(out)
                    except ET.ParseError:
                        xml = None
                    if xml:
                        xml_processes = dict((g['pci_bus_id'], g['processes']) for g in xml['gpus'])
                        by_bus = dict((g['pci_bus_id'], g) for g in xml['gpus'])
                        for gpu in smi_gpus:
                            match = by_bus.get(gpu['pci_bus_id'])
                            if match:
                                gpu['mig_devices'] = match['mig_devices']

    gpus = merge_gpus(pci_gpus, smi_gpus)
    for gpu in gpus:
        mig = [g for g in smi_gpus if g.get('pci_bus_id') == gpu['pci_bus_id'] and 'mig_devices' in g]
        gpu['mig_devices'] = mig[0]['mig_devices'] if mig else []

    smi_driver = next((g['driver_version'] for g in smi_gpus if g.get('driver_version')), None)
    driver_version = kmod['version'] or smi_driver or version_info.get('driver_version')
    if smi['library_version'] is None and smi_driver and kmod['version'] and smi_driver != kmod['version']:
        smi['library_version'] = smi_driver
    cuda_version = version_info.get('cuda_version') or driver_max_cuda(driver_version)
    host_gpus = [g for g in gpus if g['bound_driver'] != 'vfio-pci']
    requirements = requirements_for_gpus(host_gpus)

    ctx = {'gpus': gpus, 'smi': smi, 'kmod': kmod, 'device_nodes': nodes, 'requirements': requirements,
           'driver_version': driver_version, 'cuda_version': cuda_version, 'secure_boot': secure_boot,
           'nouveau_loaded': nouveau, 'in_container': in_container, 'pci_scan_possible': pci_scan_possible}
    status, message = decide_status(ctx)

    if driver_version:
        requirements['installed_driver_problems'] = driver_requirement_problems(requirements, driver_version, kmod['kernel_module'])
    else:
        requirements['installed_driver_problems'] = []
    requirements['installed_driver_ok'] = bool(driver_version) and not requirements['installed_driver_problems'] and bool(host_gpus)

    usable = status == 'ok'
    torch_ccs = []
    source = [g for g in host_gpus if g.get('index') is not None or g['bound_driver'] == 'nvidia'] if usable else host_gpus
    for gpu in source:
        cc = gpu.get('compute_capability') or min_compute_capability(gpu.get('architecture'))
        if cc:
            torch_ccs.append(cc)
    torch = torch_recommendation(torch_version, torch_ccs, driver_version=driver_version if usable else None,
                                 usable=usable and bool(torch_ccs), machine=machine or platform.machine())

    installed = bool(kmod['loaded'] or (smi['found'] and smi['error_kind'] not in ('no_library', 'not_runnable')))
    # Who uses the GPUs: one more nvidia-smi call, only where it already answered (a loaded driver)
    processes, processes_source = gpu_processes(run, nvidia_smi, smi['ok'], kmod['loaded'], gpus, procfs_root=procfs_root,
                                                root=root, xml_processes=xml_processes)
    live = os.path.normpath(procfs_root) == '/proc'
    sessions = interactive_sessions(root=root, procfs_root=procfs_root, exclude_pids=own_ancestors() if live else ())
    return {
        'status': status,
        'message': message,
        'gpu_count': len(host_gpus),
        'gpus': gpus,
        'driver': {
            'installed': installed,
            'loaded': kmod['loaded'],
            'version': driver_version,
            'branch': driver_branch(driver_version),
            'kernel_module': kmod['kernel_module'],
            'cuda_version': cuda_version,
            'userspace_version': smi['library_version'] or smi_driver or version_info.get('driver_version'),
        },
        'nvidia_smi': {
            'path': smi['path'],
            'found': smi['found'],
            'ok': smi['ok'],
            'rc': smi['rc'],
            'error_kind': smi['error_kind'],
            'error': smi['error_line'],
            'dropped_fields': smi['dropped_fields'],
        },
        'nouveau_loaded': nouveau,
        'secure_boot': secure_boot,
        'in_container': in_container,
        'container_evidence': container_evidence,
        'device_nodes': nodes,
        'requirements': requirements,
        'torch': torch,
        'processes': processes,
        'processes_source': processes_source,
        'sessions': sessions,
    }


def driver_problems(facts):
    """What keeps a host's GPUs from working, from its probe facts: a list of sentences, empty when fine.

    A host without NVIDIA GPUs has no driver problem. Otherwise the probe must say ok, the loaded
    kernel module must be the installed userspace's version, and nvidia-smi must answer.
    """
    problems = []
    if not facts or not facts.get('gpu_count'):
        return problems
    status = facts.get('status')
    if status != 'ok':
        problems.append('driver: %s: %s' % (status, facts.get('message', '')))
    driver = facts.get('driver') or {}
    loaded, userspace = driver.get('version'), driver.get('userspace_version')
    if driver.get('loaded') and loaded and userspace and loaded != userspace and status != 'driver_library_mismatch':
        problems.append('driver: the loaded kernel module is %s but the userspace is %s; reboot (or reload the module)' % (loaded, userspace))
    smi = facts.get('nvidia_smi') or {}
    if status == 'ok' and smi.get('found') and not smi.get('ok'):
        problems.append('nvidia-smi: exit %s: %s' % (smi.get('rc'), smi.get('error') or 'no output'))
    return problems

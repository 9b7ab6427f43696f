# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing real nvidia-smi / sysfs / procfs captures, and the status every failure mode adds up to."""

from __future__ import annotations

import os

import pytest

from conftest import ReplayNvidiaSmi, help_query_fields

from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as k
from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_probe as p

H200_UUID_B = 'GPU-19bcf0bb-def5-ad97-5081-496820ff8ff3'  # misc.txt, query_gpu_all*.csv, sysfs_pci_10de.txt
H200_UUID_A = 'GPU-50b3817b-e3b8-2c8c-ed37-90fe2e35284d'  # gpu-probe.txt, nvidia-smi-q.xml


# ---- nvidia-smi -q -x: every XML capture -----------------------------------------------------------
# capture, gpu position, driver, cuda, index, name, pci_bus_id, pci_device_id, memory MiB, mig mode,
# MIG instances, architecture, compute capability, recommended variant for torch 2.11 / 2.5 with the
# capture's driver.
XML_CAPTURES = [
    ('h200-driver580/nvidia-smi-q.xml', 0, '580.159.04', '13.0', 0, 'NVIDIA H200',
     '0000:00:06.0', '0x2335', 143771, 'disabled', 0, 'Hopper', '9.0', 'cu130', 'cu124'),
    ('netdata/a100-sxm4-mig.xml', 0, '510.47.03', '11.6', 0, 'NVIDIA A100-SXM4-40GB',
     '0000:00:04.0', '0x20b0', 40960, 'enabled', 2, 'Ampere', '8.0', 'cpu', 'cu118'),
    ('netdata/rtx-2080-win.xml', 0, '516.59', '11.7', 0, 'NVIDIA GeForce RTX 2080', '0000:0a:00.0', '0x1e87', 8192, None, 0, 'Turing', '7.5', 'cpu', 'cu118'),
    ('netdata/rtx-3060.xml', 0, '515.65.01', '11.7', 0, 'NVIDIA GeForce RTX 3060 Laptop GPU',
     '0000:01:00.0', '0x2520', 6144, None, 0, 'Ampere', '8.6', 'cpu', 'cu118'),
    ('netdata/rtx-4090-driver-535.xml', 0, '535.86.05', '12.2', 0, 'NVIDIA GeForce RTX 4090',
     '0000:84:00.0', '0x2684', 24564, None, 0, 'Ada', '8.9', 'cu128', 'cu124'),
    ('netdata/tesla-p100.xml', 0, '510.47.03', '11.6', 0, 'Tesla P100-PCIE-16GB', '0000:00:04.0', '0x15f8', 16384, None, 0, 'Pascal', '6.0', 'cpu', 'cu118'),
    ('telegraf/3090-v13.xml', 0, '590.44.01', '13.1', 0, 'NVIDIA GeForce RTX 3090',
     '0000:09:00.0', '0x2204', 24576, None, 0, 'Ampere', '8.6', 'cu130', 'cu124'),
    ('telegraf/a100-sxm4-v12.xml', 0, '535.54.03', '12.2', 1, 'NVIDIA A100-SXM4-80GB',
     '0000:01:00.0', '0x20b2', 81920, 'enabled', 4, 'Ampere', '8.0', 'cu128', 'cu124'),
    # vGPU: the device id reads 0x000000DE, architecture and CC come from the product name
    ('telegraf/a10g.xml', 0, '515.105.01', '11.7', 0, 'NVIDIA A10G', '0000:00:1e.0', None, 23028, None, 0, 'Ampere', '8.6', 'cpu', 'cu118'),
    ('telegraf/dual_2070-v13.xml', 0, '590.44.01', '13.1', 0, 'NVIDIA GeForce RTX 2070',
     '0000:01:00.0', '0x1f02', 8192, None, 0, 'Turing', '7.5', 'cu130', 'cu124'),
    ('telegraf/dual_2070-v13.xml', 1, '590.44.01', '13.1', 1, 'NVIDIA GeForce RTX 2070',
     '0000:02:00.0', '0x1f02', 8192, None, 0, 'Turing', '7.5', 'cu130', 'cu124'),
    ('telegraf/dual_2080-v13.xml', 0, '590.44.01', '13.1', 0, 'NVIDIA GeForce RTX 2080',
     '0000:01:00.0', '0x1e87', 8192, None, 0, 'Turing', '7.5', 'cu130', 'cu124'),
    ('telegraf/dual_2080-v13.xml', 1, '590.44.01', '13.1', 1, 'NVIDIA GeForce RTX 2080',
     '0000:02:00.0', '0x1e87', 8192, None, 0, 'Turing', '7.5', 'cu130', 'cu124'),
    ('telegraf/dual_a5000-v13.xml', 0, '590.44.01', '13.1', 1, 'NVIDIA RTX A5000', '0000:81:00.0', '0x2231', 24564, None, 0, 'Ampere', '8.6', 'cu130', 'cu124'),
    ('telegraf/dual_a5000-v13.xml', 1, '590.44.01', '13.1', 0, 'NVIDIA RTX A5000', '0000:c1:00.0', '0x2231', 24564, None, 0, 'Ampere', '8.6', 'cu130', 'cu124'),
    # R470: no <product_architecture>; the PCI id table names it
    ('telegraf/gt-1030.xml', 0, '470.74', '11.4', 0, 'NVIDIA GeForce GT 1030', '0000:2d:00.0', '0x1d01', 1998, None, 0, 'Pascal', '6.1', 'cpu', 'cu118'),
    # truncated capture: no driver, no pci block; the name finds the chip
    ('telegraf/gtx-1070-ti.xml', 0, None, None, 0, 'GeForce GTX 1070 Ti', '0000:01:00.0', None, 4096, None, 0, 'Pascal', '6.1', 'cpu', 'cpu'),
    # R418 calls it "Graphics Device"; device id 0x2184 is a TU116 (GTX 1660)
    ('telegraf/gtx-1660-ti.xml', 0, '418.43', '10.1', 0, 'Graphics Device', '0000:43:00.0', '0x2184', 5912, None, 0, 'Turing', '7.5', 'cpu', 'cpu'),
    ('telegraf/pro-6000-maxq-blackwell-v13.xml', 0, '590.44.01', '13.1', 0, 'NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition', '0000:61:00.0',
     '0x2bb4', 97887, None, 0, 'Blackwell', '12.0', 'cu130', 'cpu'),
    ('telegraf/quadro-p2000-v12.xml', 0, '525.125.06', '12.0', 0, 'Quadro P2000', '0000:17:00.0', '0x1c30', 5120, None, 0, 'Pascal', '6.1', 'cu126', 'cu124'),
    ('telegraf/quadro-p400.xml', 0, '418.43', '10.1', 0, 'Quadro P400', '0000:43:00.0', '0x1cb3', 1998, None, 0, 'Pascal', '6.1', 'cpu', 'cpu'),
    ('telegraf/rtx-3060-v12.xml', 0, '570.124.04', '12.8', 0, 'NVIDIA GeForce RTX 3060',
     '0000:2d:00.0', '0x2487', 12288, None, 0, 'Ampere', '8.6', 'cu128', 'cu124'),
    ('telegraf/rtx-3080-v12.xml', 0, '536.40', '12.2', 0, 'NVIDIA GeForce RTX 3080',
     '0000:04:00.0', '0x2216', 10240, None, 0, 'Ampere', '8.6', 'cu128', 'cu124'),
    ('telegraf/rtx-3080-v13.xml', 0, '595.58.03', '13.2', 0, 'NVIDIA GeForce RTX 3080',
     '0000:0c:00.0', '0x2216', 10240, None, 0, 'Ampere', '8.6', 'cu130', 'cu124'),
    # ids redacted in the capture: the name finds the chip
    ('telegraf/rtx-3090-v12.xml', 0, '525.147.05', '12.0', 0, 'NVIDIA GeForce RTX 3090',
     '0000:00:10.0', None, 24576, None, 0, 'Ampere', '8.6', 'cu128', 'cu124'),
    ('telegraf/rtx-4000-sff-ada-v13.xml', 0, '595.84', '13.2', 0, 'NVIDIA RTX 4000 SFF Ada Generation',
     '0000:06:00.0', '0x27b0', 20475, None, 0, 'Ada', '8.9', 'cu130', 'cu124'),
    ('telegraf/tesla-t4.xml', 0, '515.105.01', '11.7', 0, 'Tesla T4', '0000:00:1e.0', '0x1eb8', 15360, None, 0, 'Turing', '7.5', 'cpu', 'cu118'),
    ('telegraf/tesla_p4.xml', 0, '513.46', '11.6', 0, 'GRID P4-1Q', '0000:00:0b.0', '0x1bb3', 1024, None, 0, 'Pascal', '6.1', 'cpu', 'cu118'),
    ('telegraf/tesla_t4.xml', 0, '512.78', '11.6', 0, 'Tesla T4', '0000:01:00.0', '0x1eb8', 15360, None, 0, 'Turing', '7.5', 'cpu', 'cu118'),
]


def test_every_xml_capture_is_covered(fixtures_dir):
    on_disk = set()
    for folder in ('h200-driver580', 'netdata', 'telegraf'):
        on_disk.update('%s/%s' % (folder, f) for f in os.listdir(os.path.join(fixtures_dir, folder)) if f.endswith('.xml'))
    assert on_disk == set(row[0] for row in XML_CAPTURES)


@pytest.mark.parametrize('capture, position, driver, cuda, index, name, bus_id, device_id, memory, mig, mig_count, arch, cc, torch211, torch25',
                         XML_CAPTURES, ids=['%s#%d' % (r[0], r[1]) for r in XML_CAPTURES])
def test_xml_capture(fixture_text, capture, position, driver, cuda, index, name, bus_id, device_id, memory, mig, mig_count, arch, cc,
                     torch211, torch25):
    parsed = p.parse_nvidia_smi_xml(fixture_text(*capture.split('/')))
    assert parsed['driver_version'] == driver
    assert parsed['cuda_version'] == cuda
    gpu = p.describe_gpu(parsed['gpus'][position])
    assert gpu['index'] == index
    assert gpu['name'] == name
    assert gpu['pci_bus_id'] == bus_id
    assert gpu['pci_device_id'] == device_id
    assert gpu['memory_total_mib'] == memory
    assert isinstance(gpu['memory_total_mib'], int)
    assert gpu['mig_mode'] == mig
    assert len(gpu['mig_devices']) == mig_count
    assert gpu['architecture'] == arch
    assert gpu['compute_capability'] == cc
    usable = driver is not None
    assert k.torch_recommendation('2.11', [cc], driver, usable=usable)['recommended_variant'] == torch211
    assert k.torch_recommendation('2.5', [cc], driver, usable=usable)['recommended_variant'] == torch25
    if parsed['gpus'][position].get('product_architecture'):
        # where nvidia-smi names the architecture (R510+), the tables agree with it
        assert k.normalize_architecture(parsed['gpus'][position]['product_architecture']) == arch


def test_xml_mig_instances(fixture_text):
    gpu = p.parse_nvidia_smi_xml(fixture_text('telegraf', 'a100-sxm4-v12.xml'))['gpus'][0]
    assert [(m['index'], m['gpu_instance_id'], m['compute_instance_id'], m['memory_total_mib']) for m in gpu['mig_devices']][0] == (0, 3, 0, 19968)


# ---- --query-gpu CSV captures ---------------------------------------------------------------------

def _assert_h200(gpu, uuid):
    assert gpu == {'index': 0, 'name': 'NVIDIA H200', 'pci_bus_id': '0000:00:06.0', 'pci_device_id': '0x2335', 'uuid': uuid,
                   'memory_total_mib': 143771, 'compute_capability': '9.0', 'mig_mode': 'disabled', 'driver_version': '580.159.04'}


def test_query_gpu_all_csv_with_header_and_units(fixture_text):
    rows = p.parse_query_csv(fixture_text('h200-driver580', 'query_gpu_all.csv'))
    assert len(rows) == 1
    assert rows[0]['memory.total'] == '143771 MiB'
    assert rows[0]['pci.device_id'] == '0x233510DE'
    assert rows[0]['serial'] == '1653924059357'
    assert rows[0]['vgpu_device_capability.homogeneous_placements'] is None  # [N/A]
    assert rows[0]['display_mode'] is None  # [Requested functionality has been deprecated]
    _assert_h200(p.gpu_from_query_row(rows[0]), H200_UUID_B)


def test_query_gpu_all_nounits(h200_record):
    fields = list(h200_record)
    line = ', '.join(h200_record[f] for f in fields)
    rows = p.parse_query_csv(line, fields)
    assert rows[0]['memory.total'] == '143771'
    _assert_h200(p.gpu_from_query_row(rows[0]), H200_UUID_B)


def test_query_gpu_all_nounits_file(fixture_text, h200_record):
    rows = p.parse_query_csv(fixture_text('h200-driver580', 'query_gpu_all_nounits.csv'), list(h200_record))
    _assert_h200(p.gpu_from_query_row(rows[0]), H200_UUID_B)


def test_gpu_probe_txt_query(fixture_text):
    text = fixture_text('h200-driver580', 'gpu-probe.txt')
    block = text.split('### $ nvidia-smi --query-gpu=', 1)[1]
    fields = block.split(' ', 1)[0].split(',')
    output = block.split('\n', 1)[1].split('### rc=', 1)[0]
    assert p.query_args(fields) == ['--query-gpu=' + ','.join(fields), '--format=csv,noheader,nounits']
    gpu = p.gpu_from_query_row(p.parse_query_csv(output, fields)[0])
    assert gpu['name'] == 'NVIDIA H200'
    assert gpu['uuid'] == H200_UUID_A
    assert gpu['compute_capability'] == '9.0'
    assert gpu['memory_total_mib'] == 143771
    assert gpu['mig_mode'] == 'disabled'
    assert gpu['pci_device_id'] is None  # not queried there


def test_misc_compute_cap_query_with_units(fixture_text):
    block = fixture_text('h200-driver580', 'misc.txt').split('################ compute_cap\n', 1)[1].split('rc=', 1)[0]
    gpu = p.gpu_from_query_row(p.parse_query_csv(block)[0])
    assert (gpu['name'], gpu['pci_device_id'], gpu['compute_capability'], gpu['memory_total_mib'], gpu['mig_mode']) == \
        ('NVIDIA H200', '0x2335', '9.0', 143771, 'disabled')


def test_netdata_tesla_p100_csv(fixture_text):
    rows = p.parse_query_csv(fixture_text('netdata', 'tesla-p100.csv'))
    assert rows == [{'name': 'Tesla P100-PCIE-16GB', 'uuid': 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6', 'fan.speed': None, 'pstate': 'P0',
                     'memory.reserved': '103', 'memory.used': '0', 'memory.free': '16280', 'utilization.gpu': '0', 'utilization.memory': '0',
                     'temperature.gpu': '37', 'power.draw': '28.16', 'clocks.current.graphics': '405', 'clocks.current.sm': '405',
                     'clocks.current.memory': '715', 'clocks.current.video': '835'}]
    gpu = p.gpu_from_query_row(rows[0])
    assert (gpu['index'], gpu['compute_capability'], gpu['memory_total_mib']) == (None, None, None)


@pytest.mark.parametrize('value, expected', [('[N/A]', None), ('N/A', None), ('[Not Supported]', None), (' Disabled ', 'Disabled'), ('', None),
                                             ('[Requested functionality has been deprecated]', None), (None, None)])
def test_na_to_none(value, expected):
    assert p.na_to_none(value) == expected


@pytest.mark.parametrize('value, mib', [('143771', 143771), ('143771 MiB', 143771), ('1998 MiB', 1998), ('1.5 GiB', 1536), ('[N/A]', None), (None, None)])
def test_memory_mib(value, mib):
    assert p.memory_mib(value) == mib


@pytest.mark.parametrize('bus_id, expected', [('00000000:00:06.0', '0000:00:06.0'), ('00000000:C1:00.0', '0000:c1:00.0'), ('0000:2d:00.0', '0000:2d:00.0'),
                                              ('01:00.0', '0000:01:00.0')])
def test_normalize_pci_bus_id(bus_id, expected):
    assert p.normalize_pci_bus_id(bus_id) == expected


# ---- field-by-field fallback (R470 has no compute_cap) --------------------------------------------

def gt1030_r470_record():
    """The GT 1030 of telegraf/gt-1030.xml (driver 470.74) as --query-gpu nounits prints those fields.

    Every value is read from that capture; pci.device_id in the CSV spelling (0x prefix) of
    h200-driver580/query_gpu_all.csv. No compute_cap: R470 does not know the field.
    """
    return {'index': '0', 'name': 'NVIDIA GeForce GT 1030', 'pci.bus_id': '00000000:2D:00.0', 'uuid': 'GPU-857c6374-f681-cf3a-f99f-9063a87b8ac0',
            'memory.total': '1998', 'mig.mode.current': '[N/A]', 'driver_version': '470.74', 'pci.device_id': '0x1D0110DE'}


def r470_fields(fixture_text):
    # the R510-era field list (netdata help-query-gpu.txt) without compute_cap, which R470 lacks
    return [f for f in help_query_fields(fixture_text('netdata', 'help-query-gpu.txt')) if f != 'compute_cap']


def test_query_gpus_drops_compute_cap_on_r470(fixture_text):
    smi = ReplayNvidiaSmi(gpus=[gt1030_r470_record()], valid_fields=r470_fields(fixture_text))
    result = p.query_gpus(smi.run, '/usr/bin/nvidia-smi')
    assert result['ok'] is True
    assert result['dropped_fields'] == ['compute_cap']
    assert len(smi.calls) == 2
    assert 'compute_cap' in smi.calls[0][0] and 'compute_cap' not in smi.calls[1][0]
    gpu = p.describe_gpu(p.gpu_from_query_row(result['rows'][0]))
    assert gpu['compute_capability'] == '6.1'  # from PCI id 0x1d01 (GP108)
    assert gpu['architecture'] == 'Pascal'
    assert gpu['chip'] == 'GP108'
    assert gpu['mig_mode'] is None
    assert gpu['driver_version'] == '470.74'


def test_query_gpus_h200_needs_no_fallback(h200_host):
    _tree, smi = h200_host
    result = p.query_gpus(smi.run, 'nvidia-smi')
    assert result['ok'] is True and result['dropped_fields'] == [] and len(smi.calls) == 1


def test_invalid_field_text(fixture_text):
    misc = fixture_text('h200-driver580', 'misc.txt')
    assert p.invalid_field(misc) == 'this_field_does_not_exist'
    assert p.invalid_field(fixture_text('errors', 'invalid_field_compute_cap.txt')) == 'compute_cap'
    assert p.invalid_field('0, NVIDIA H200') is None


# ---- --version, -q, /proc/driver/nvidia/version ----------------------------------------------------

def test_version_r580(fixture_text):
    block = fixture_text('h200-driver580', 'misc.txt').split('################ nvidia-smi --version\n', 1)[1].split('\n\n', 1)[0]
    assert p.parse_nvidia_smi_version(block) == {'driver_version': '580.159.04', 'kmd_version': None, 'cuda_version': '13.0',
                                                 'nvidia_smi_version': '580.159.04', 'nvml_version': '580.159'}


def test_version_r610(fixture_text):
    assert p.parse_nvidia_smi_version(fixture_text('errors', 'r610-version.txt')) == {
        'driver_version': '610.57.04', 'kmd_version': '610.57.04', 'cuda_version': '13.3', 'nvidia_smi_version': None, 'nvml_version': None}


def test_q_header_r610(fixture_text):
    assert p.parse_nvidia_smi_version(fixture_text('errors', 'r610-q-header.txt'))['driver_version'] == '610.57.04'


def test_q_header_r580(fixture_text):
    parsed = p.parse_nvidia_smi_version(fixture_text('h200-driver580', 'nvidia-smi-q.txt'))
    assert (parsed['driver_version'], parsed['cuda_version']) == ('580.159.04', '13.0')


@pytest.mark.parametrize('capture, version, flavour', [
    (('procfs', 'driver-version-proprietary-375.txt'), '375.74', 'proprietary'),
    (('procfs', 'driver-version-proprietary-580.txt'), '580.159.04', 'proprietary'),
    (('procfs', 'driver-version-open-515.txt'), '515.57', 'open'),
])
def test_proc_driver_version(fixture_text, capture, version, flavour):
    assert p.parse_proc_driver_version(fixture_text(*capture)) == {'version': version, 'kernel_module': flavour}


def test_proc_driver_version_h200(fixture_text):
    misc = fixture_text('h200-driver580', 'misc.txt')
    text = misc.split('################ /proc/driver/nvidia/version\n', 1)[1].split('\n\n', 1)[0]
    assert p.parse_proc_driver_version(text) == {'version': '580.159.04', 'kernel_module': 'open'}
    assert p.parse_proc_driver_version('') is None


@pytest.mark.parametrize('taint, flavour', [('POE', 'proprietary'), ('OE', 'open'), (None, None)])
def test_kernel_module_flavour_from_taint(taint, flavour):
    assert p.kernel_module_flavour_from_taint(taint) == flavour


# ---- nvidia-smi error texts -----------------------------------------------------------------------

@pytest.mark.parametrize('capture, rc, kind, detail', [
    ('driver_library_mismatch.txt', 18, 'driver_library_mismatch', '570.124'),
    ('no_communication.txt', 9, 'no_communication', None),
    ('nvml_unknown_error.txt', 255, 'nvml_unknown_error', None),
    ('no_library.txt', 12, 'no_library', None),
    ('no_devices.txt', 6, 'no_devices', None),
    ('device_handle.txt', 15, 'device_handle', None),
    ('invalid_field_compute_cap.txt', 2, 'invalid_field', None),
])
def test_classify_error_texts(fixture_text, capture, rc, kind, detail):
    assert p.classify_nvidia_smi_error(rc, fixture_text('errors', capture), '') == (kind, detail)


@pytest.mark.parametrize('rc, kind', [(0, None), (124, 'timeout'), (127, 'not_runnable'), (3, 'unknown')])
def test_classify_exit_codes(rc, kind):
    assert p.classify_nvidia_smi_error(rc, '', '') == (kind, None)


# ---- sysfs / procfs scans ----------------------------------------------------------------------------

def test_scan_pci_h200_machine(host_tree, fixture_text):
    """All PCI functions of H200 machine A (gpu-probe.txt listing): one GPU, six virtio/bridge devices."""
    assert host_tree.add_pci_listing(fixture_text('h200-driver580', 'gpu-probe.txt')) == 7
    assert p.scan_pci(host_tree.sysfs) == [{'pci_bus_id': '0000:00:06.0', 'pci_device_id': '0x2335', 'pci_class': '0x030200',
                                            'subsystem_vendor': None, 'subsystem_device': '0x18bf', 'bound_driver': 'nvidia',
                                            'numa_node': None}]


def test_scan_pci_h200_capture(host_tree, fixture_text):
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt'))
    assert p.scan_pci(host_tree.sysfs) == [{'pci_bus_id': '0000:00:06.0', 'pci_device_id': '0x2335', 'pci_class': '0x030200',
                                            'subsystem_vendor': '0x10de', 'subsystem_device': '0x18bf', 'bound_driver': 'nvidia',
                                            'numa_node': -1}]


@pytest.mark.parametrize('driver, bound', [('nouveau', 'nouveau'), ('vfio-pci', 'vfio-pci'), (None, 'none')])
def test_scan_pci_bound_driver(host_tree, driver, bound):
    host_tree.add_pci('0000:01:00.0', '0x10de', '0x1d01', '0x030000', driver)  # GT 1030, VGA class
    host_tree.add_pci('0000:01:00.1', '0x10de', '0x0fb8', '0x040300', 'snd_hda_intel')  # its HDMI audio function: not a GPU
    gpus = p.scan_pci(host_tree.sysfs)
    assert [(g['pci_bus_id'], g['pci_device_id'], g['bound_driver']) for g in gpus] == [('0000:01:00.0', '0x1d01', bound)]


def test_scan_pci_no_gpu(host_tree, fixture_text):
    listing = '\n'.join(line for line in fixture_text('h200-driver580', 'gpu-probe.txt').splitlines() if '0x10de' not in line)
    assert host_tree.add_pci_listing(listing) == 6
    assert p.scan_pci(host_tree.sysfs) == []
    assert p.scan_pci(os.path.join(host_tree.root, 'missing')) == []


def test_kernel_module_h200(h200_host):
    tree, _smi = h200_host
    assert p.read_kernel_module(tree.sysfs, tree.procfs) == {'loaded': True, 'version': '580.159.04', 'kernel_module': 'open'}
    assert p.nouveau_loaded(tree.sysfs, tree.procfs) is False


def test_kernel_module_absent(host_tree):
    assert p.read_kernel_module(host_tree.sysfs, host_tree.procfs) == {'loaded': False, 'version': None, 'kernel_module': None}


def test_nouveau_from_proc_modules_only(host_tree):
    host_tree.load_module('nouveau')
    os.rmdir(os.path.join(host_tree.sysfs, 'module', 'nouveau'))
    assert p.nouveau_loaded(host_tree.sysfs, host_tree.procfs) is True


@pytest.mark.parametrize('setup, state', [('enabled', 'enabled'), ('disabled', 'disabled'), ('efi-without-var', 'unknown'), ('bios', 'disabled'),
                                          ('masked', 'unknown')])
def test_secure_boot(host_tree, setup, state):
    if setup in ('enabled', 'disabled'):
        host_tree.efi(secure_boot=setup == 'enabled')
    elif setup == 'efi-without-var':
        host_tree.efi()
    elif setup == 'bios':
        os.makedirs(os.path.join(host_tree.sysfs, 'firmware', 'acpi'))
    # masked: an empty /sys/firmware, as docker mounts it
    assert p.secure_boot_state(host_tree.sysfs) == state


def test_secure_boot_no_sysfs(tmp_path):
    assert p.secure_boot_state(str(tmp_path / 'nothing')) == 'unknown'


@pytest.mark.parametrize('setup, evidence', [
    ('dockerenv', '/.dockerenv'),
    ('containerenv', '/run/.containerenv'),
    ('environ', '/proc/1/environ container=podman'),
    ('cgroup', '/proc/1/cgroup 12:devices:/docker/0123456789abcdef'),
    ('host', None),
])
def test_detect_container(host_tree, setup, evidence):
    if setup == 'dockerenv':
        host_tree.dockerenv()
    elif setup == 'containerenv':
        host_tree.containerenv()
    elif setup == 'environ':
        host_tree.proc1(environ=b'PATH=/usr/bin\0container=podman\0HOME=/root\0')
    elif setup == 'cgroup':
        host_tree.proc1(cgroup='12:devices:/docker/0123456789abcdef\n11:cpu:/docker/0123456789abcdef\n')
    else:
        host_tree.proc1(cgroup='0::/init.scope\n', environ=b'HOME=/\0TERM=linux\0')
    assert p.detect_container(host_tree.root, host_tree.procfs) == (evidence is not None, evidence)


def test_device_nodes(h200_host, host_tree):
    tree, _smi = h200_host
    assert p.device_nodes(tree.dev) == {'nvidiactl': True, 'gpus': ['nvidia0'], 'accessible': True}


def test_device_nodes_absent(tmp_path):
    assert p.device_nodes(str(tmp_path)) == {'nvidiactl': False, 'gpus': [], 'accessible': False}


# ---- the whole probe: one test per status, from the real texts --------------------------------------

def _probe(tree, smi=None, torch_version='2.11'):
    return p.probe(run=smi.run if smi else None, nvidia_smi='/usr/bin/nvidia-smi' if smi else None, sysfs_root=tree.sysfs,
                   procfs_root=tree.procfs, root=tree.root, dev_root=tree.dev, torch_version=torch_version)


def test_status_ok_h200(h200_host):
    tree, smi = h200_host
    facts = _probe(tree, smi)
    assert facts['status'] == 'ok'
    assert facts['message'] == ('The NVIDIA driver runs 1 GPU(s) (NVIDIA H200 [Hopper]); driver 580.159.04 (open kernel module), CUDA 13.0.')
    assert facts['gpu_count'] == 1
    assert facts['gpus'] == [{'index': 0, 'name': 'NVIDIA H200', 'pci_bus_id': '0000:00:06.0', 'pci_device_id': '0x2335', 'uuid': H200_UUID_B,
                              'memory_total_mib': 143771, 'compute_capability': '9.0', 'mig_mode': 'disabled', 'bound_driver': 'nvidia',
                              'architecture': 'Hopper', 'chip': 'GH100', 'mig_devices': []}]
    assert facts['driver'] == {'installed': True, 'loaded': True, 'version': '580.159.04', 'branch': 580, 'kernel_module': 'open',
                               'cuda_version': '13.0', 'userspace_version': '580.159.04'}
    assert facts['torch']['torch_version'] == '2.11'
    assert facts['torch']['recommended_variant'] == 'cu130'
    assert facts['torch']['variants'] == ['cu130', 'cu128', 'cu126', 'cu129', 'cpu']
    assert facts['requirements']['kernel_module'] == 'open'
    assert facts['requirements']['installed_driver_ok'] is True
    assert facts['nouveau_loaded'] is False
    assert facts['in_container'] is False
    assert facts['secure_boot'] == 'unknown'  # nothing recorded under /sys/firmware
    assert facts['nvidia_smi']['dropped_fields'] == []
    assert [c[0] for c in smi.calls] == ['--query-gpu=index,name,pci.bus_id,uuid,memory.total,compute_cap,mig.mode.current,driver_version,pci.device_id',
                                         '--version', '--query-compute-apps=gpu_bus_id,pid,used_memory,process_name']
    assert (facts['processes'], facts['processes_source'], facts['sessions']) == ([], 'nvidia-smi', [])


def test_status_ok_without_nvidia_smi(h200_host):
    tree, _smi = h200_host
    facts = _probe(tree)
    assert facts['status'] == 'ok'
    assert facts['message'].endswith('nvidia-smi was not available; GPU details come from sysfs and the PCI id table.')
    gpu = facts['gpus'][0]
    assert (gpu['index'], gpu['name'], gpu['compute_capability'], gpu['architecture']) == (None, 'GH100 [H200 SXM 141GB]', '9.0', 'Hopper')
    assert facts['driver']['cuda_version'] == '13.0'  # from the driver -> CUDA table
    assert facts['torch']['recommended_variant'] == 'cu130'


def test_status_ok_mig_reads_xml(host_tree, fixture_text):
    """A100 with MIG on (telegraf a100-sxm4-v12.xml, 535.54.03): the MIG instances come from -q -x."""
    xml = fixture_text('telegraf', 'a100-sxm4-v12.xml')
    first = p.parse_nvidia_smi_xml(xml)['gpus'][0]
    host_tree.add_pci(first['pci_bus_id'], '0x10de', first['pci_device_id'], '0x030200', 'nvidia')
    host_tree.load_module('nvidia', '535.54.03')
    host_tree.dev_nodes('nvidiactl', 'nvidia0', 'nvidia1')
    record = {'index': '1', 'name': first['name'], 'pci.bus_id': '00000000:01:00.0', 'uuid': first['uuid'], 'memory.total': '81920',
              'compute_cap': '8.0', 'mig.mode.current': 'Enabled', 'driver_version': '535.54.03', 'pci.device_id': '0x20B210DE'}
    smi = ReplayNvidiaSmi(gpus=[record], xml=xml)
    facts = _probe(host_tree, smi)
    gpu = facts['gpus'][0]
    assert facts['status'] == 'ok'
    assert gpu['mig_mode'] == 'enabled'
    assert [m['memory_total_mib'] for m in gpu['mig_devices']] == [19968, 19968, 19968, 19968]
    assert facts['driver']['kernel_module'] is None  # neither /proc/driver/nvidia/version nor a taint file: unknown
    assert facts['torch']['recommended_variant'] == 'cu128'


def test_status_no_gpu(host_tree, fixture_text):
    listing = '\n'.join(line for line in fixture_text('h200-driver580', 'gpu-probe.txt').splitlines() if '0x10de' not in line)
    host_tree.add_pci_listing(listing)
    facts = _probe(host_tree)
    assert facts['status'] == 'no_gpu'
    assert facts['gpus'] == [] and facts['gpu_count'] == 0
    assert facts['driver']['installed'] is False
    assert facts['torch']['variants'] == ['cpu'] and facts['torch']['recommended_variant'] == 'cpu'
    assert facts['requirements']['kernel_module'] is None


def test_status_no_gpu_nvidia_smi_no_devices(host_tree, fixture_text):
    smi = ReplayNvidiaSmi(failure={'rc': 6, 'stdout': fixture_text('errors', 'no_devices.txt')})
    facts = _probe(host_tree, smi)
    assert facts['status'] == 'no_gpu'
    assert facts['nvidia_smi']['error_kind'] == 'no_devices'


def test_status_no_gpu_all_vfio(host_tree):
    host_tree.add_pci('0000:01:00.0', '0x10de', '0x2335', '0x030200', 'vfio-pci')
    facts = _probe(host_tree)
    assert facts['status'] == 'no_gpu'
    assert 'vfio-pci' in facts['message']
    assert facts['gpus'][0]['bound_driver'] == 'vfio-pci'
    assert facts['gpu_count'] == 0


def test_status_driver_not_installed(host_tree, fixture_text):
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt').replace('driver=nvidia', 'driver='))
    facts = _probe(host_tree)
    assert facts['status'] == 'driver_not_installed'
    # the H200 (0x2335) is first listed by the open-gpu-kernel-modules README in 550.40.65
    assert 'Install a driver R550+ with the open kernel module' in facts['message']
    assert facts['gpus'][0]['bound_driver'] == 'none'
    assert facts['driver']['installed'] is False and facts['driver']['version'] is None
    assert facts['torch']['recommended_variant'] == 'cpu'
    assert facts['torch']['candidates'][0]['variant'] == 'cu130'  # what the H200 gets once the driver is there


def test_status_driver_not_installed_no_library(host_tree, fixture_text):
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt').replace('driver=nvidia', 'driver='))
    smi = ReplayNvidiaSmi(failure={'rc': 12, 'stdout': fixture_text('errors', 'no_library.txt')})
    facts = _probe(host_tree, smi)
    assert facts['status'] == 'driver_not_installed'
    assert 'libnvidia-ml.so' in facts['message']
    assert facts['driver']['installed'] is False


def test_status_driver_not_loaded(host_tree, fixture_text):
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt').replace('driver=nvidia', 'driver='))
    host_tree.efi(secure_boot=True)
    smi = ReplayNvidiaSmi(failure={'rc': 9, 'stdout': fixture_text('errors', 'no_communication.txt')})
    facts = _probe(host_tree, smi)
    assert facts['status'] == 'driver_not_loaded'
    assert 'secure_boot=enabled' in facts['message']
    assert facts['driver']['installed'] is True and facts['driver']['loaded'] is False
    assert facts['nvidia_smi']['error'] == fixture_text('errors', 'no_communication.txt').strip()


def test_status_nouveau_bound(host_tree, fixture_text):
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt').replace('driver=nvidia', 'driver=nouveau'))
    host_tree.load_module('nouveau')
    smi = ReplayNvidiaSmi(failure={'rc': 9, 'stdout': fixture_text('errors', 'no_communication.txt')})
    facts = _probe(host_tree, smi)
    assert facts['status'] == 'nouveau_bound'
    assert 'blacklist nouveau' in facts['message']
    assert facts['nouveau_loaded'] is True
    assert facts['gpus'][0]['bound_driver'] == 'nouveau'


def test_status_driver_library_mismatch(h200_host, fixture_text):
    tree, _smi = h200_host
    smi = ReplayNvidiaSmi(failure={'rc': 18, 'stdout': fixture_text('errors', 'driver_library_mismatch.txt')})
    facts = _probe(tree, smi)
    assert facts['status'] == 'driver_library_mismatch'
    assert 'the loaded kernel module is 580.159.04 but the user-space libraries are 570.124' in facts['message']
    assert facts['driver']['userspace_version'] == '570.124'
    assert facts['torch']['recommended_variant'] == 'cpu'


def test_status_unsupported_blackwell_on_proprietary(host_tree, fixture_text):
    """RTX 5090 (0x2b85) with the proprietary 580 module: "No devices were found" (open-gpu-kernel-modules#862)."""
    host_tree.add_pci('0000:01:00.0', '0x10de', '0x2b85', '0x030000', 'nvidia')
    host_tree.load_module('nvidia', '580.159.04', fixture_text('procfs', 'driver-version-proprietary-580.txt'))
    host_tree.dev_nodes('nvidiactl')
    smi = ReplayNvidiaSmi(failure={'rc': 6, 'stdout': fixture_text('errors', 'no_devices.txt')})
    facts = _probe(host_tree, smi)
    assert facts['status'] == 'gpu_unsupported_by_driver'
    assert 'the proprietary kernel module does not run these GPUs (they need: open)' in facts['message']
    assert facts['requirements']['kernel_module'] == 'open'
    assert facts['requirements']['installed_driver_ok'] is False
    assert facts['driver']['kernel_module'] == 'proprietary'


def test_status_unsupported_pascal_on_open(host_tree, fixture_text):
    """GT 1030 (0x1d01) with an open module (the H200's /proc line): the open module needs a GSP."""
    misc = fixture_text('h200-driver580', 'misc.txt')
    proc_version = misc.split('################ /proc/driver/nvidia/version\n', 1)[1].split('\n\n', 1)[0]
    host_tree.add_pci('0000:2d:00.0', '0x10de', '0x1d01', '0x030000', 'nvidia')
    host_tree.load_module('nvidia', '580.159.04', proc_version)
    facts = _probe(host_tree)
    assert facts['status'] == 'gpu_unsupported_by_driver'
    assert 'the open kernel module does not run these GPUs (they need: proprietary)' in facts['message']
    assert facts['requirements']['max_branch'] == 580


def test_status_unsupported_device_handle(host_tree, fixture_text):
    host_tree.add_pci('0000:d8:00.0', '0x10de', '0x20b0', '0x030200', 'nvidia')  # A100, open 515.57
    host_tree.load_module('nvidia', '515.57', fixture_text('procfs', 'driver-version-open-515.txt'))
    smi = ReplayNvidiaSmi(failure={'rc': 15, 'stdout': fixture_text('errors', 'device_handle.txt')})
    facts = _probe(host_tree, smi)
    assert facts['status'] == 'gpu_unsupported_by_driver'
    assert 'Unable to determine the device handle for GPU 0000:D8:00.0: Not Found' in facts['message']


def test_status_no_device_access_container(h200_host, fixture_text):
    """In a container after `systemctl daemon-reload` on the host (nvidia-container-toolkit#1227)."""
    tree, _smi = h200_host
    tree.dockerenv()
    smi = ReplayNvidiaSmi(failure={'rc': 255, 'stdout': fixture_text('errors', 'nvml_unknown_error.txt')})
    facts = _probe(tree, smi)
    assert facts['status'] == 'no_device_access'
    assert facts['in_container'] is True
    assert '(nvidia-smi: "Failed to initialize NVML: Unknown Error") - this is a container' in facts['message']
    assert facts['torch']['recommended_variant'] == 'cpu'


def test_status_no_device_access_no_nodes(host_tree, fixture_text):
    """GPU in the PCI scan, module loaded, but no /dev/nvidia* (a container started without --gpus)."""
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt'))
    misc = fixture_text('h200-driver580', 'misc.txt')
    host_tree.load_module('nvidia', '580.159.04', misc.split('################ /proc/driver/nvidia/version\n', 1)[1].split('\n\n', 1)[0])
    host_tree.dockerenv()
    facts = _probe(host_tree)
    assert facts['status'] == 'no_device_access'
    assert '(no /dev/nvidiactl or /dev/nvidia<N>)' in facts['message']
    assert facts['device_nodes'] == {'nvidiactl': False, 'gpus': [], 'accessible': False}


def test_every_status_has_a_message():
    assert set(p.MESSAGES) == set(p.STATUSES)


def test_driver_problems_from_real_probes(h200_host, tmp_path, fixture_text):
    """The H200 probe has none; the same host with the recorded version mismatch has one, naming the driver."""
    tree, smi = h200_host
    facts = p.probe(run=smi.run, nvidia_smi='nvidia-smi', sysfs_root=tree.sysfs, procfs_root=tree.procfs, root=tree.root, dev_root=tree.dev)
    assert p.driver_problems(facts) == []
    assert p.driver_problems({'gpu_count': 0, 'status': 'no_gpu'}) == []
    broken = dict(facts, status='driver_library_mismatch', message='Failed to initialize NVML: Driver/library version mismatch')
    assert p.driver_problems(broken) == ['driver: driver_library_mismatch: Failed to initialize NVML: Driver/library version mismatch']
    stale = dict(facts, driver=dict(facts['driver'], userspace_version='580.95.05'))
    assert p.driver_problems(stale) == [
        'driver: the loaded kernel module is 580.159.04 but the userspace is 580.95.05; reboot (or reload the module)']
    silent = dict(facts, nvidia_smi=dict(facts['nvidia_smi'], ok=False, rc=255, error='Failed to initialize NVML: Unknown Error'))
    assert p.driver_problems(silent) == ['nvidia-smi: exit 255: Failed to initialize NVML: Unknown Error']

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The labops.dlstack GPU filters, called directly and through ansible-core's templating by FQCN."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.labops.dlstack.plugins.filter import gpu as gpu_filters

FILTER_DIR = os.path.dirname(gpu_filters.__file__)


def render(expression, **variables):
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template(expression))


@pytest.mark.parametrize('expression, expected', [
    ("{{ '13.0' | labops.dlstack.cuda_min_driver }}", '580.65.06'),
    ("{{ 'cu126' | labops.dlstack.cuda_min_driver }}", '525.60.13'),
    ("{{ '580.159.04' | labops.dlstack.driver_supports_cuda('13.0') }}", True),
    ("{{ '570.124.04' | labops.dlstack.driver_supports_cuda('cu130') }}", False),
    ("{{ '580.159.04' | labops.dlstack.driver_max_cuda }}", '13.0'),
    ("{{ '570.124.04' | labops.dlstack.driver_max_cuda }}", '12.8'),
    ("{{ '9.0' | labops.dlstack.gpu_arch }}", 'Hopper'),
    ("{{ '0x2b85' | labops.dlstack.gpu_arch }}", 'Blackwell'),
    ("{{ '8.9' | labops.dlstack.gpu_arch }}", 'Ada'),
    ("{{ ['9.0'] | labops.dlstack.torch_variants('2.11', '580.159.04') }}", ['cu130', 'cu128', 'cu126', 'cu129', 'cpu']),
    ("{{ ['6.1'] | labops.dlstack.torch_variants(torch_version='2.11') | first }}", 'cu126'),
    ("{{ 'cu130' | labops.dlstack.torch_wheel_index }}", 'https://download.pytorch.org/whl/cu130'),
    ("{{ 'cu126' | labops.dlstack.torch_wheel_index('https://mirror.lab/pytorch/whl/{variant}') }}", 'https://mirror.lab/pytorch/whl/cu126'),
    ("{{ (['6.1', '7.5'] | labops.dlstack.gpu_requirements)['kernel_module'] }}", 'proprietary'),
    ("{{ (['6.1', '7.5'] | labops.dlstack.gpu_requirements)['max_branch'] }}", 580),
])
def test_filters_by_fqcn(expression, expected):
    assert render(expression) == expected


def test_filters_on_probe_facts(h200_host):
    """Roles hand the probe's gpu list to the filters."""
    from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import probe
    tree, smi = h200_host
    facts = probe(run=smi.run, nvidia_smi='nvidia-smi', sysfs_root=tree.sysfs, procfs_root=tree.procfs, root=tree.root, dev_root=tree.dev)
    gpus = facts['gpus']
    assert render("{{ gpus | labops.dlstack.torch_variants('2.11', driver) | first }}", gpus=gpus, driver=facts['driver']['version']) == 'cu130'
    assert render("{{ (gpus | labops.dlstack.gpu_requirements)['kernel_module'] }}", gpus=gpus) == 'open'
    assert render("{{ gpus[0]['pci_device_id'] | labops.dlstack.gpu_arch }}", gpus=gpus) == 'Hopper'


@pytest.mark.parametrize('call, message', [
    (lambda: gpu_filters.cuda_min_driver('x'), 'not a CUDA version'),
    (lambda: gpu_filters.driver_supports_cuda('nope', '13.0'), 'is not a version number'),
    (lambda: gpu_filters.driver_supports_cuda('580.159.04', 'x'), 'is not a CUDA version'),
    (lambda: gpu_filters.driver_max_cuda(None), 'is not a version number'),
    (lambda: gpu_filters.torch_variants(['9.0'], '1.13'), 'torch 1.13 is not in the tables'),
    (lambda: gpu_filters.torch_variants(['hopper?']), 'is not a compute capability'),
    (lambda: gpu_filters.torch_wheel_index('cu130', 'https://x/{flavour}'), 'bad template'),
    (lambda: gpu_filters.torch_wheel_index(''), 'empty variant'),
])
def test_filter_errors(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_every_filter_has_a_sidecar_doc():
    names = sorted(gpu_filters.FilterModule().filters())
    assert names == ['cuda_min_driver', 'driver_max_cuda', 'driver_problems', 'driver_supports_cuda', 'gpu_arch', 'gpu_requirements',
                     'torch_variants', 'torch_wheel_index']
    for name in names:
        with open(os.path.join(FILTER_DIR, name + '.yml'), encoding='utf-8') as handle:
            doc = yaml.safe_load(handle)
        assert doc['DOCUMENTATION']['name'] == name
        assert doc['DOCUMENTATION']['options']['_input']['required'] is True
        assert doc['RETURN']['_value']['description']
        assert 'labops.dlstack.' + name in doc['EXAMPLES']


def test_nvidia_driver_busy_filter():
    from ansible_collections.labops.dlstack.plugins.filter import nvidia_driver_busy as nb
    facts = {'driver': {'loaded': True, 'version': '515.105.01'}, 'in_container': True, 'status': 'ok', 'processes_source': 'nvidia-smi',
             'processes': [{'gpu': 0, 'pid': 5762, 'user': 'alice', 'name': 'python', 'elapsed_s': 256200, 'type': 'C'}]}
    plan = {'action': 'install', 'mode': 'container', 'branch': 535, 'packages': ['nvidia-smi'], 'remove': []}
    decision = nb.FilterModule().filters()['nvidia_driver_busy'](facts, plan=plan, installed={})
    assert (decision['decision'], decision['summary']) == ('defer', '1 process on GPU 0 (alice python 71h)')
    with pytest.raises(AnsibleFilterError, match='must be ansible_facts.dlstack_gpu'):
        nb.nvidia_driver_busy('x')
    with pytest.raises(AnsibleFilterError, match='unexpected keyword'):
        nb.nvidia_driver_busy(facts, colour='red')

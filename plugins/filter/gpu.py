# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that ask the GPU / driver / CUDA / PyTorch knowledge of labops.dlstack.

The answers come from plugins/module_utils/_gpu_knowledge.py, the same tables the gpu_facts module
decides with. Each filter is documented in a sidecar file plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_knowledge = LazyModule('_gpu_knowledge')
_probe = LazyModule('_gpu_probe')


def _require_version(value, what):
    if _knowledge.parse_version(value) is None:
        raise AnsibleFilterError('%s: %r is not a version number' % (what, value))


def cuda_min_driver(cuda_version):
    """'13.0' | cuda_min_driver -> '580.65.06'."""
    try:
        return _knowledge.cuda_min_driver(cuda_version)
    except ValueError as exc:
        raise AnsibleFilterError('cuda_min_driver: %s' % exc) from exc


def driver_supports_cuda(driver_version, cuda_version):
    """'580.159.04' | driver_supports_cuda('13.0') -> True."""
    _require_version(driver_version, 'driver_supports_cuda')
    if _knowledge.normalize_cuda_version(cuda_version) is None:
        raise AnsibleFilterError('driver_supports_cuda: %r is not a CUDA version' % (cuda_version,))
    return _knowledge.driver_supports_cuda(driver_version, cuda_version)


def driver_max_cuda(driver_version):
    """'580.159.04' | driver_max_cuda -> '13.0'."""
    _require_version(driver_version, 'driver_max_cuda')
    return _knowledge.driver_max_cuda(driver_version)


def gpu_arch(value):
    """'9.0' | gpu_arch -> 'Hopper'; '0x2335' | gpu_arch -> 'Hopper'."""
    return _knowledge.gpu_arch(value)


def gpu_requirements(gpus):
    """A list of gpu facts, compute capabilities, PCI device ids or architecture names -> driver requirements."""
    if isinstance(gpus, (str, dict)):
        gpus = [gpus]
    return _knowledge.requirements_for_gpus(list(gpus or []))


def _compute_capabilities(items):
    if isinstance(items, (str, dict)):
        items = [items]
    out = []
    for item in items or []:
        if isinstance(item, dict):
            cc = _knowledge.normalize_compute_capability(item.get('compute_capability'))
        else:
            cc = _knowledge.normalize_compute_capability(item)
        if cc is None:
            raise AnsibleFilterError('torch_variants: %r is not a compute capability (or a gpu fact with one)' % (item,))
        out.append(cc)
    return out


def torch_variants(compute_capabilities, torch_version=None, driver_version=None):
    """['9.0'] | torch_variants('2.11', '580.159.04') -> ['cu130', 'cu128', 'cu126', 'cu129', 'cpu']."""
    if driver_version is not None:
        _require_version(driver_version, 'torch_variants')
    try:
        return _knowledge.torch_variants(torch_version, _compute_capabilities(compute_capabilities), driver_version)
    except ValueError as exc:
        raise AnsibleFilterError('torch_variants: %s' % exc) from exc


def torch_wheel_index(variant, template=None):
    """'cu130' | torch_wheel_index -> 'https://download.pytorch.org/whl/cu130'."""
    if not variant:
        raise AnsibleFilterError('torch_wheel_index: empty variant')
    try:
        return _knowledge.torch_wheel_index(str(variant), _knowledge.TORCH_WHEEL_INDEX_TEMPLATE if template is None else template)
    except (KeyError, IndexError, ValueError) as exc:
        raise AnsibleFilterError('torch_wheel_index: bad template %r (it may only name {variant}): %s' % (template, exc)) from exc


def driver_problems(facts):
    """Probe facts (ansible_facts['dlstack_gpu']) -> what keeps the GPUs from working; [] when fine."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError('driver_problems: expects the dlstack_gpu facts (a dict), got %s' % type(facts).__name__)
    return _probe.driver_problems(facts)


class FilterModule(object):
    """GPU, driver, CUDA and PyTorch wheel knowledge."""

    def filters(self):
        return {
            'cuda_min_driver': cuda_min_driver,
            'driver_supports_cuda': driver_supports_cuda,
            'driver_max_cuda': driver_max_cuda,
            'driver_problems': driver_problems,
            'gpu_arch': gpu_arch,
            'gpu_requirements': gpu_requirements,
            'torch_variants': torch_variants,
            'torch_wheel_index': torch_wheel_index,
        }

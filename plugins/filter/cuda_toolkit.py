# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the labops.dlstack.cuda_toolkit role.

The decisions live in plugins/module_utils/_cuda_toolkit.py (which uses the CUDA <-> driver table of
_gpu_knowledge.py). Each filter is documented in a sidecar file plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_cuda = LazyModule('_cuda_toolkit')


def cuda_toolkit_plan(gpu, source='distro', versions=None, default_version='', build_only=False, cudnn=False,
                      nccl=False, distribution='', major_version='', installed=None, cuda_link=None, nvcc_reads=None,
                      link_stat=None):
    """ansible_facts['dlstack_gpu'] | cuda_toolkit_plan(...) -> what the role installs, or why it refuses.

    installed and cuda_link may come as read from the host instead: nvcc_reads (the registered loop of
    `<home>/bin/nvcc --version`, loop_var __cuda_toolkit_dir) and link_stat (the stat of /usr/local/cuda)."""
    if installed is None and nvcc_reads is not None:
        if not isinstance(nvcc_reads, (list, tuple)):
            raise AnsibleFilterError('cuda_toolkit_plan: nvcc_reads must be a list of registered results, got %r' % (nvcc_reads,))
        installed = _cuda.installed_from_reads(nvcc_reads)
    if cuda_link is None and link_stat is not None:
        cuda_link = _cuda.link_target(link_stat)
    if gpu is not None and not isinstance(gpu, dict):
        raise AnsibleFilterError('cuda_toolkit_plan: the input must be ansible_facts[\'dlstack_gpu\'] (a dict), got %r' % (gpu,))
    if versions is not None and not isinstance(versions, (list, tuple)):
        raise AnsibleFilterError('cuda_toolkit_plan: versions must be a list, got %r' % (versions,))
    if installed is not None and not isinstance(installed, dict):
        raise AnsibleFilterError('cuda_toolkit_plan: installed must be a dict of version -> home, got %r' % (installed,))
    return _cuda.plan(gpu, source=source, versions=versions, default_version=default_version or '',
                      build_only=bool(build_only), cudnn=bool(cudnn), nccl=bool(nccl), distribution=distribution,
                      major_version=major_version, installed=installed, cuda_link=cuda_link or None)


def cuda_toolkit_nvcc_release(output):
    """`nvcc --version` output | cuda_toolkit_nvcc_release -> '12.4' (None when it names no release)."""
    return _cuda.nvcc_release(output)


def cuda_toolkit_arch_check(nvcc_output, version, gpu=None):
    """`nvcc --list-gpu-arch` output | cuda_toolkit_arch_check('12.4', ansible_facts['dlstack_gpu']).

    -> {'version', 'listed', 'problems', 'compared'}: problems is empty when nvcc lists every GPU's
    architecture (with no GPU: every architecture the collection's tables claim for that version).
    """
    if gpu is not None and not isinstance(gpu, dict):
        raise AnsibleFilterError('cuda_toolkit_arch_check: gpu must be ansible_facts[\'dlstack_gpu\'] (a dict), got %r' % (gpu,))
    listed = _cuda.parse_nvcc_arch_list(nvcc_output)
    result = _cuda.nvcc_arch_problems(str(version), listed, _cuda.host_gpus(gpu))
    result.update({'version': str(version), 'listed': listed})
    return result


class FilterModule(object):
    """CUDA toolkit planning."""

    def filters(self):
        return {
            'cuda_toolkit_plan': cuda_toolkit_plan,
            'cuda_toolkit_nvcc_release': cuda_toolkit_nvcc_release,
            'cuda_toolkit_arch_check': cuda_toolkit_arch_check,
        }

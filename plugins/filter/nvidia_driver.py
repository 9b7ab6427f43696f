# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the roles nvidia_driver and nvidia_repo.

The decisions live in plugins/module_utils/_nvidia_driver.py; each filter is documented in a sidecar
file plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._filter_call import gpu_decision, keyword_call
from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_driver = LazyModule('_nvidia_driver')


def nvidia_driver_plan(gpu, **kwargs):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_plan(distribution=..., ...) -> the plan dict."""
    return gpu_decision('nvidia_driver_plan', _driver.plan, gpu, **kwargs)


def nvidia_driver_result(planned, gpu, installed_version='', kernel_module_version='', reboot=None, hold=True):
    """__nvidia_driver_plan | nvidia_driver_result(ansible_facts['dlstack_gpu'], ...) -> the fact nvidia_driver_result."""
    return _driver.role_result(planned, gpu, installed_version=installed_version,
                               kernel_module_version=kernel_module_version, reboot=reboot, hold=bool(hold))


def nvidia_driver_host_report(result):
    """nvidia_driver_result | nvidia_driver_host_report -> what the host report holds."""
    if not isinstance(result, dict):
        raise AnsibleFilterError('nvidia_driver_host_report: the input must be nvidia_driver_result (a dict)')
    return _driver.host_report(result)


def nvidia_driver_candidates(distribution, **kwargs):
    """'Debian' | nvidia_driver_candidates(version='12', ...) -> names to ask apt-cache about."""
    return keyword_call('nvidia_driver_candidates', _driver.candidate_packages, distribution, **kwargs)


# Filters that are the decision itself: the same arguments, the same result. Each is documented in
# plugins/filter/<filter name>.yml; nvidia_driver_repo_path and nvidia_driver_repo_key are deprecated
# (meta/runtime.yml) and kept for compatibility.
DECISION_FILTERS = {
    'nvidia_driver_apt_policy': _driver.function('parse_apt_cache_policy'),  # `apt-cache policy` stdout -> {name: candidate or None}
    'nvidia_driver_reboot': _driver.function('reboot_decision'),  # dlstack_gpu | nvidia_driver_reboot(version, ...) -> the reboot decision
    'nvidia_driver_verify': _driver.function('verify_after_reboot'),  # dlstack_gpu | nvidia_driver_verify(version) -> problems ([] = fine)
    'dpkg_installed': _driver.function('parse_dpkg_query'),  # `dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Version}\n'` -> {name: version}
    'nvidia_driver_repo_path': _driver.function('cuda_repo_path'),  # 'Ubuntu' | nvidia_driver_repo_path('24.04', 'x86_64') -> 'ubuntu2404/x86_64'
    'nvidia_driver_repo_key': _driver.function('nvidia_repo_key'),  # 'debian13' | nvidia_driver_repo_key -> {'file': ..., 'fingerprint': ...}
    'nvidia_driver_apt_simulation': _driver.function('apt_simulation'),  # registered `apt-get -s install` -> {'ok': bool, 'reason': ...}
    'nvidia_driver_dkms_state': _driver.function('dkms_state'),  # `dkms status` stdout | nvidia_driver_dkms_state(module, kernel)
    'nvidia_driver_dkms_error': _driver.function('dkms_build_error'),  # DKMS make.log text -> its first error line, or None
    'nvidia_driver_broken': _driver.function('broken_family_packages'),  # `dpkg-query -W` stdout -> unfinished driver packages
    'nvidia_driver_module_problems': _driver.function('built_module_problems'),  # registered modinfo | ...(version, module, kernel) -> problems
    'nvidia_driver_needs_batch': _driver.function('needs_batch'),  # __nvidia_driver_plan | ...(state, reboot) -> a change for the batches?
    'nvidia_driver_batch_settings': _driver.function('batch_settings'),  # play hosts | ...(serial=[...], max_fail=[...]) -> site.yml's batches
}


def nvidia_repo_settings(facts, distro='', arch='', base_url='', url='', key_url='', key_fingerprint=''):
    """ansible_facts | nvidia_repo_settings(...) -> {'path', 'url', 'key_url', 'fingerprint', 'errors'}."""
    facts = facts if isinstance(facts, dict) else {}
    return _driver.repo_settings(facts.get('distribution', ''), facts.get('distribution_version', ''),
                                 facts.get('architecture', ''), distro=distro or '', arch=arch or '',
                                 base_url=base_url or '', url=url or '', key_url=key_url or '',
                                 key_fingerprint=key_fingerprint or '')


class FilterModule:
    """labops.dlstack nvidia_driver filters."""

    def filters(self):
        return {
            'nvidia_driver_plan': nvidia_driver_plan,
            '_nvidia_driver_result': nvidia_driver_result,
            '_nvidia_driver_host_report': nvidia_driver_host_report,
            '_nvidia_repo_settings': nvidia_repo_settings,
            'nvidia_driver_candidates': nvidia_driver_candidates,
            **DECISION_FILTERS,
        }

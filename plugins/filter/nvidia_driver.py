# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the roles nvidia_driver and nvidia_repo.

The decisions live in plugins/module_utils/_nvidia_driver.py; each filter is documented in a sidecar
file plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.module_utils._nvidia_driver import (
    apt_simulation,
    broken_family_packages,
    built_module_problems,
    candidate_packages,
    cuda_repo_path,
    dkms_build_error,
    dkms_state,
    host_report,
    nvidia_repo_key,
    repo_settings,
    parse_apt_cache_policy,
    parse_dpkg_query,
    plan,
    reboot_decision,
    role_result,
    verify_after_reboot,
)


def nvidia_driver_plan(gpu, **kwargs):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_plan(distribution=..., ...) -> the plan dict."""
    if not isinstance(gpu, dict):
        raise AnsibleFilterError('nvidia_driver_plan: the input must be ansible_facts.dlstack_gpu (a dict)')
    try:
        return plan(gpu, **kwargs)
    except TypeError as exc:
        raise AnsibleFilterError('nvidia_driver_plan: %s' % exc) from exc


def nvidia_driver_result(planned, gpu, installed_version='', kernel_module_version='', reboot=None, hold=True):
    """__nvidia_driver_plan | nvidia_driver_result(ansible_facts['dlstack_gpu'], ...) -> the fact nvidia_driver_result."""
    return role_result(planned, gpu, installed_version=installed_version, kernel_module_version=kernel_module_version,
                       reboot=reboot, hold=bool(hold))


def nvidia_driver_host_report(result):
    """nvidia_driver_result | nvidia_driver_host_report -> what the host report holds."""
    if not isinstance(result, dict):
        raise AnsibleFilterError('nvidia_driver_host_report: the input must be nvidia_driver_result (a dict)')
    return host_report(result)


def nvidia_driver_candidates(distribution, **kwargs):
    """'Debian' | nvidia_driver_candidates(version='12', ...) -> names to ask apt-cache about."""
    try:
        return candidate_packages(distribution, **kwargs)
    except TypeError as exc:
        raise AnsibleFilterError('nvidia_driver_candidates: %s' % exc) from exc


def nvidia_driver_apt_policy(text):
    """`apt-cache policy` stdout -> {name: candidate version or None}."""
    return parse_apt_cache_policy(text)


def nvidia_driver_reboot(gpu, installed_version, mode='host', policy='auto', connection='ssh', without_gpu=False,
                         initramfs_rebuilt=False, chroot=False):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_reboot(version, ...) -> the reboot decision."""
    return reboot_decision(gpu, installed_version, mode=mode, policy=policy, connection=connection,
                           without_gpu=without_gpu, initramfs_rebuilt=initramfs_rebuilt, chroot=chroot)


def nvidia_driver_verify(gpu, installed_version, without_gpu=False):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_verify(version) -> problems after a reboot ([] = fine)."""
    return verify_after_reboot(gpu, installed_version, without_gpu=without_gpu)


def nvidia_driver_apt_simulation(result):
    """registered `apt-get -s install` result -> {'ok': bool, 'reason': apt's words or None}."""
    return apt_simulation(result)


def nvidia_driver_dkms_state(text, module, kernel):
    """`dkms status` stdout | nvidia_driver_dkms_state(module, kernel) -> {'known', 'version', 'state', 'build'}."""
    return dkms_state(text, module, kernel)


def nvidia_driver_dkms_error(make_log):
    """DKMS make.log text -> its first error line, or None."""
    return dkms_build_error(make_log)


def nvidia_driver_broken(dpkg_query):
    """`dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'` stdout -> unfinished driver packages."""
    return broken_family_packages(dpkg_query)


def nvidia_driver_module_problems(modinfo, installed_version, module, kernel):
    """registered `modinfo -k KERNEL -F version MODULE` | nvidia_driver_module_problems(...) -> problems ([] = fine)."""
    return built_module_problems(modinfo, installed_version, module, kernel)


def dpkg_installed(text):
    """`dpkg-query -W -f='${db:Status-Status}\\t${Package}\\t${Version}\\n'` stdout -> {name: version}."""
    return parse_dpkg_query(text)


def nvidia_driver_repo_path(distribution, version, architecture):
    """'Ubuntu' | nvidia_driver_repo_path('24.04', 'x86_64') -> 'ubuntu2404/x86_64' (None if unsupported)."""
    return cuda_repo_path(distribution, version, architecture)


def nvidia_driver_repo_key(repo_distro):
    """'debian13' | nvidia_driver_repo_key -> {'file': '8793F200.pub', 'fingerprint': '0218...F200'} (None if unknown)."""
    return nvidia_repo_key(repo_distro)


def nvidia_repo_settings(facts, distro='', arch='', base_url='', url='', key_url='', key_fingerprint=''):
    """ansible_facts | nvidia_repo_settings(...) -> {'path', 'url', 'key_url', 'fingerprint', 'errors'}."""
    facts = facts if isinstance(facts, dict) else {}
    return repo_settings(facts.get('distribution', ''), facts.get('distribution_version', ''), facts.get('architecture', ''),
                         distro=distro or '', arch=arch or '', base_url=base_url or '', url=url or '', key_url=key_url or '',
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
            'nvidia_driver_apt_policy': nvidia_driver_apt_policy,
            'nvidia_driver_reboot': nvidia_driver_reboot,
            'nvidia_driver_verify': nvidia_driver_verify,
            'dpkg_installed': dpkg_installed,
            'nvidia_driver_repo_path': nvidia_driver_repo_path,
            'nvidia_driver_repo_key': nvidia_driver_repo_key,
            'nvidia_driver_apt_simulation': nvidia_driver_apt_simulation,
            'nvidia_driver_dkms_state': nvidia_driver_dkms_state,
            'nvidia_driver_dkms_error': nvidia_driver_dkms_error,
            'nvidia_driver_broken': nvidia_driver_broken,
            'nvidia_driver_module_problems': nvidia_driver_module_problems,
        }

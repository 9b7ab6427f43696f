# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters behind the roles nvidia_driver and nvidia_repo.

The decisions live in plugins/module_utils/_nvidia_driver.py; each filter is documented in a sidecar
file plugins/filter/<filter name>.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.module_utils._nvidia_driver import (
    candidate_packages,
    cuda_repo_path,
    family_packages,
    nvidia_repo_key,
    parse_apt_cache_policy,
    parse_dpkg_query,
    plan,
    reboot_decision,
    unattended_upgrades_blacklist,
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


def nvidia_driver_candidates(distribution, **kwargs):
    """'Debian' | nvidia_driver_candidates(version='12', ...) -> names to ask apt-cache about."""
    try:
        return candidate_packages(distribution, **kwargs)
    except TypeError as exc:
        raise AnsibleFilterError('nvidia_driver_candidates: %s' % exc) from exc


def nvidia_driver_apt_policy(text):
    """`apt-cache policy` stdout -> {name: candidate version or None}."""
    return parse_apt_cache_policy(text)


def nvidia_driver_reboot(gpu, installed_version, mode='host', policy='auto', connection='ssh'):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_reboot(version, ...) -> the reboot decision."""
    return reboot_decision(gpu, installed_version, mode=mode, policy=policy, connection=connection)


def nvidia_driver_verify(gpu, installed_version):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_verify(version) -> problems after a reboot ([] = fine)."""
    return verify_after_reboot(gpu, installed_version)


def nvidia_driver_family(installed):
    """ansible_facts['packages'] | nvidia_driver_family -> installed NVIDIA driver packages."""
    return family_packages(installed)


def dpkg_installed(text):
    """`dpkg-query -W -f='${db:Status-Status}\\t${Package}\\t${Version}\\n'` stdout -> {name: version}."""
    return parse_dpkg_query(text)


def nvidia_driver_repo_path(distribution, version, architecture):
    """'Ubuntu' | nvidia_driver_repo_path('24.04', 'x86_64') -> 'ubuntu2404/x86_64' (None if unsupported)."""
    return cuda_repo_path(distribution, version, architecture)


def nvidia_driver_repo_key(repo_distro):
    """'debian13' | nvidia_driver_repo_key -> {'file': '8793F200.pub', 'fingerprint': '0218...F200'} (None if unknown)."""
    return nvidia_repo_key(repo_distro)


def nvidia_driver_uu_blacklist(_ignored=None):
    """Package-Blacklist regexes that keep the driver family out of unattended-upgrades."""
    return unattended_upgrades_blacklist()


class FilterModule:
    """labops.dlstack nvidia_driver filters."""

    def filters(self):
        return {
            'nvidia_driver_plan': nvidia_driver_plan,
            'nvidia_driver_candidates': nvidia_driver_candidates,
            'nvidia_driver_apt_policy': nvidia_driver_apt_policy,
            'nvidia_driver_reboot': nvidia_driver_reboot,
            'nvidia_driver_verify': nvidia_driver_verify,
            'nvidia_driver_family': nvidia_driver_family,
            'dpkg_installed': dpkg_installed,
            'nvidia_driver_repo_path': nvidia_driver_repo_path,
            'nvidia_driver_repo_key': nvidia_driver_repo_key,
            'nvidia_driver_uu_blacklist': nvidia_driver_uu_blacklist,
        }

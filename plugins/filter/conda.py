# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the conda role: thin wrappers over plugins/module_utils/_conda.py (documented in the
sidecar YAML files next to this one)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_conda = LazyModule('_conda')


def conda_installer(distribution, version='', architecture='x86_64', url='', mirror='', sha256='', sha256_url='',
                    src='', path='', accept_tos=False):
    return _conda.installer_source(distribution, version=version, architecture=architecture, url=url, mirror=mirror,
                                   sha256=sha256, sha256_url=sha256_url, src=src, path=path, accept_tos=bool(accept_tos))


def conda_sidecar_sha256(text, filename=''):
    return _conda.parse_sha256_sidecar(text, filename)


def conda_user_plan(users, passwd, distribution='miniforge', state='present', channels=None, create_users=False):
    return _conda.user_plan(users, passwd, distribution=distribution, state=state, channels=channels or None,
                            create_users=bool(create_users))


def conda_prefix_action(info, wanted):
    return _conda.prefix_action(info, wanted)


def conda_prefix_actions(infos, users, wanted):
    try:
        return _conda.prefix_actions(infos, users, wanted or {})
    except ValueError as exc:
        raise AnsibleFilterError('conda_prefix_actions: %s' % exc) from exc


def conda_condarc(channels, channel_alias='', custom_channels=None, pkgs_dirs=None, envs_dirs=None, auto_activate=False,
                  channel_priority='strict', proxy_servers=None, ssl_verify=True, accept_tos=False, extra=None):
    return _conda.condarc(channels, channel_alias=channel_alias, custom_channels=custom_channels, pkgs_dirs=pkgs_dirs,
                          envs_dirs=envs_dirs, auto_activate=auto_activate, channel_priority=channel_priority,
                          proxy_servers=proxy_servers, ssl_verify=ssl_verify, accept_tos=bool(accept_tos), extra=extra)


def conda_verify_summary(results, installer, users=None):
    try:
        return _conda.verify_summary(results, installer or {}, users)
    except ValueError as exc:
        raise AnsibleFilterError('conda_verify_summary: %s' % exc) from exc


class FilterModule(object):
    """labops.dlstack conda filters."""

    def filters(self):
        return {
            'conda_installer': conda_installer,
            'conda_sidecar_sha256': conda_sidecar_sha256,
            'conda_user_plan': conda_user_plan,
            'conda_prefix_action': conda_prefix_action,
            '_conda_prefix_actions': conda_prefix_actions,
            'conda_condarc': conda_condarc,
            'conda_verify_summary': conda_verify_summary,
        }

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The per-OS data of a role, merged from its layers; the merge lives in plugins/module_utils/_platform.py.
Documented in platform_vars.yml next to this file."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_platform = LazyModule('_platform')


def platform_vars(layers, facts):
    try:
        return _platform.merged(layers, facts)
    except TypeError as exc:
        raise AnsibleFilterError('platform_vars: %s' % exc) from exc


class FilterModule(object):
    def filters(self):
        return {'_platform_vars': platform_vars}

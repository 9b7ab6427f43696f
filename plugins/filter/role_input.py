# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filter a role's tasks/validate.yml asks before the role changes anything (labops.dlstack.role_plan asks it too).

The rules live in plugins/module_utils/_role_inputs.py (one function per role) on top of the shared
checks of plugins/module_utils/_validate.py; this filter only hands them the variables and what the
host and the controller tell. Documented in role_input_errors.yml next to this file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_role_inputs = LazyModule('_role_inputs')


def _host(facts):
    """The host's OS as a refusal names it ('Debian 12.7'), from its facts."""
    if not isinstance(facts, Mapping):
        return None
    return ' '.join(str(facts[k]) for k in ('distribution', 'distribution_version') if facts.get(k)) or None


def _sources(inventory_sources):
    """ansible_inventory_sources as a list (one source may come as a string), or None when not given."""
    if isinstance(inventory_sources, str):
        return [inventory_sources]
    if isinstance(inventory_sources, (list, tuple)):
        return list(inventory_sources)
    return None


def _strings(value):
    """A list of strings as a list, None when not given (a check that needs it is then skipped)."""
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return None


def role_input_errors(values, role, passwd=None, search_path=None, gpu=None, memtotal_mb=None, platform=None, facts=None,
                      inventory_sources=None, missing_files=None, installed_kernels=None):
    if not isinstance(values, dict):
        raise AnsibleFilterError('role_input_errors: the input must be a dict of variable name -> value, got %r' % (type(values),))
    if role not in _role_inputs.ROLES:
        raise AnsibleFilterError('role_input_errors: no rules for role %r; known: %s' % (role, ', '.join(sorted(_role_inputs.ROLES))))
    context = {
        'passwd': passwd if isinstance(passwd, dict) else None,
        'search_path': list(search_path) if isinstance(search_path, (list, tuple)) else None,
        'gpu': gpu if isinstance(gpu, dict) else None,
        'memtotal_mb': memtotal_mb if isinstance(memtotal_mb, int) and not isinstance(memtotal_mb, bool) else None,
        'platform': dict(platform) if isinstance(platform, Mapping) else None,
        'host': _host(facts),
        'inventory_sources': _sources(inventory_sources),
        'missing_files': _strings(missing_files),
        'installed_kernels': _strings(installed_kernels),
    }
    return _role_inputs.input_errors(role, values, context)


class FilterModule(object):
    def filters(self):
        return {'role_input_errors': role_input_errors}

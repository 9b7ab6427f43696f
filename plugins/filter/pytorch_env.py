# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the pytorch_env role: the plan of every environment, and the verdict on a probe.

The decisions live in plugins/module_utils/_pytorch_env.py (which asks _gpu_knowledge for the GPU,
driver and wheel-variant knowledge); these filters only hand them to the role. Documentation:
pytorch_env_plan.yml, pytorch_env_diagnose.yml, pytorch_env_report.yml, pytorch_env_wheel_sources.yml and
pytorch_env_wheel_check.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

pe = LazyModule('_pytorch_env')


def _homes_from_getent(getent_passwd, users):
    """{user: home} from ansible_facts['getent_passwd'] (fields: x, uid, gid, gecos, home, shell)."""
    homes = {}
    for name, fields in (getent_passwd or {}).items():
        if name in users and fields and len(fields) >= 5:
            homes[name] = fields[4]
    return homes


def pytorch_env_plan(users, settings, gpu_facts=None, getent_passwd=None):
    if not isinstance(settings, dict):
        raise AnsibleFilterError('pytorch_env_plan: settings must be a dict')
    names = [u.get('user') for u in users or [] if isinstance(u, dict)]
    homes = None if getent_passwd is None else _homes_from_getent(getent_passwd, names)
    return pe.plan_environments(users, settings, gpu_facts, homes)


def pytorch_env_diagnose(probe, plan, gpu_facts=None, require_cuda=False):
    if not isinstance(plan, dict) or 'torch_version' not in plan:
        raise AnsibleFilterError('pytorch_env_diagnose: the second argument must be one plan of pytorch_env_plan')
    return pe.diagnose(probe, plan, gpu_facts, bool(require_cuda))


def pytorch_env_report(probe_results, host, gpu_facts=None, require_cuda=False, plans=None):
    if not isinstance(probe_results, list):
        raise AnsibleFilterError('pytorch_env_report: the input must be the results list of pytorch_env_info')
    if plans is not None and not isinstance(plans, list):
        raise AnsibleFilterError('pytorch_env_report: plans must be the envs list of the plan')
    try:
        return pe.report(probe_results, host, gpu_facts, bool(require_cuda), plans)
    except ValueError as exc:
        raise AnsibleFilterError('pytorch_env_report: %s' % exc) from exc


def pytorch_env_wheel_sources(layers):
    if not isinstance(layers, list):
        raise AnsibleFilterError('pytorch_env_wheel_sources: the input must be the layers list of pytorch_env_plan')
    return pe.wheel_sources(layers)


def pytorch_env_wheel_check(layers, dir_results=None, page_results=None, machine='x86_64'):
    if not isinstance(layers, list):
        raise AnsibleFilterError('pytorch_env_wheel_check: the input must be the layers list of pytorch_env_plan')
    return pe.wheel_check(layers, dir_results or [], page_results or [], machine)


class FilterModule:
    def filters(self):
        return {
            'pytorch_env_wheel_sources': pytorch_env_wheel_sources,
            'pytorch_env_wheel_check': pytorch_env_wheel_check,
            'pytorch_env_plan': pytorch_env_plan,
            'pytorch_env_diagnose': pytorch_env_diagnose,
            'pytorch_env_report': pytorch_env_report,
        }

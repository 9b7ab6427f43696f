# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The nvidia_driver role's busy-GPU guard as a filter (decision in plugins/module_utils/_driver_busy.py;
documented in plugins/filter/nvidia_driver_busy.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.module_utils._driver_busy import busy_decision


def nvidia_driver_busy(gpu, **kwargs):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_busy(plan=..., stage='change', policy='defer', ...) -> the decision."""
    if not isinstance(gpu, dict):
        raise AnsibleFilterError('nvidia_driver_busy: the input must be ansible_facts.dlstack_gpu (a dict)')
    try:
        return busy_decision(gpu, **kwargs)
    except TypeError as exc:
        raise AnsibleFilterError('nvidia_driver_busy: %s' % exc) from exc


class FilterModule:
    """labops.dlstack busy-GPU guard filter."""

    def filters(self):
        return {'nvidia_driver_busy': nvidia_driver_busy}

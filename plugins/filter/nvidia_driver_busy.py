# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The nvidia_driver role's busy-GPU guard as a filter (decision in plugins/module_utils/_driver_busy.py;
documented in plugins/filter/nvidia_driver_busy.yml)."""

from __future__ import annotations

from ansible_collections.labops.dlstack.plugins.plugin_utils._filter_call import gpu_decision
from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_busy = LazyModule('_driver_busy')


def nvidia_driver_busy(gpu, **kwargs):
    """ansible_facts['dlstack_gpu'] | nvidia_driver_busy(plan=..., stage='change', policy='defer', ...) -> the decision."""
    return gpu_decision('nvidia_driver_busy', _busy.busy_decision, gpu, **kwargs)


class FilterModule:
    """labops.dlstack busy-GPU guard filter."""

    def filters(self):
        return {'nvidia_driver_busy': nvidia_driver_busy}

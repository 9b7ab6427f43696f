# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """The `converged` option of the modules that ask the fast path's question in the run they make anyway
    (conda_prefix_info, pytorch_env_info): the options of labops.dlstack.converged, checked by the same code
    (plugins/module_utils/_converged.py, CHECK_OPTIONS and check()); each means what it means there."""

    DOCUMENTATION = r"""
options:
  converged:
    description:
      - Also ask, in the same module run, what M(labops.dlstack.converged) answers for these options (whether the
        host is as the role's last converge left it) and return the answer as RV(state).
      - A role uses it to start one module on its fast path where it started two.
    type: dict
    suboptions:
      name:
        description: As O(labops.dlstack.converged#module:name).
        type: str
        required: true
      fingerprint:
        description: As O(labops.dlstack.converged#module:fingerprint).
        type: str
        required: true
      files:
        description: As O(labops.dlstack.converged#module:files).
        type: list
        elements: path
        default: []
      trees:
        description: As O(labops.dlstack.converged#module:trees).
        type: list
        elements: path
        default: []
      exists:
        description: As O(labops.dlstack.converged#module:exists).
        type: list
        elements: path
        default: []
      packages:
        description: As O(labops.dlstack.converged#module:packages).
        type: list
        elements: str
        default: []
      held:
        description: As O(labops.dlstack.converged#module:held).
        type: list
        elements: str
        default: []
      state_dir:
        description: As O(labops.dlstack.converged#module:state_dir).
        type: path
        default: /var/lib/labops-dlstack/converged
"""

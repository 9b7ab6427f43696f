# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How a filter hands its input to a decision in module_utils: a wrong input or keyword becomes an
AnsibleFilterError that names the filter (controller side only)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def keyword_call(name, decide, *args, **kwargs):
    """decide(*args, **kwargs); a TypeError (an unknown or missing keyword) is raised as the filter `name`'s error."""
    try:
        return decide(*args, **kwargs)
    except TypeError as exc:
        raise AnsibleFilterError('%s: %s' % (name, exc)) from exc


def gpu_decision(name, decide, gpu, **kwargs):
    """decide(gpu, **kwargs) for a filter whose input is ansible_facts['dlstack_gpu'] (a dict)."""
    if not isinstance(gpu, dict):
        raise AnsibleFilterError('%s: the input must be ansible_facts.dlstack_gpu (a dict)' % name)
    return keyword_call(name, decide, gpu, **kwargs)

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Per-OS role data in layers: what every role's vars/main.yml reads through the filter labops.dlstack._platform_vars.

A role keeps one dict of layers (``__<role>_platforms``): ``default`` holds what the role needs on any host, then
the OS family (``Debian``: Debian and Ubuntu), the distribution (``Ubuntu``) and the distribution with its major
version (``Debian-12``, ``Ubuntu-24``), each holding only what differs from the layer before
(linux-system-roles' ``tasks/set_vars.yml`` order, without a task: the merge is a variable, evaluated when read).
"""

from __future__ import annotations

from collections.abc import Mapping


def layer_names(facts):
    """The layers that apply to a host, most general first (names repeated by the facts are read once)."""
    facts = facts if isinstance(facts, Mapping) else {}
    family, distribution = facts.get('os_family') or '', facts.get('distribution') or ''
    major = facts.get('distribution_major_version') or ''
    names = ['default']
    for name in (family, distribution, '%s-%s' % (distribution, major) if distribution and major else ''):
        if name and name not in names:
            names.append(name)
    return names


def merged(layers, facts):
    """The role's data for this host: each applying layer over the one before (a flat merge, key by key)."""
    if not isinstance(layers, Mapping):
        raise TypeError('the layers must be a dict of layer name -> dict, got %s' % type(layers).__name__)
    result = {}
    for name in layer_names(facts):
        if name not in layers:
            continue
        layer = layers[name]
        if not isinstance(layer, Mapping):
            raise TypeError('layer %r must be a dict, got %s' % (name, type(layer).__name__))
        result.update(layer)
    return result

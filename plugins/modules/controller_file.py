#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/controller_file.py), on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: controller_file
short_description: Write a text file on the controller, creating its directories, in one task
version_added: 1.1.0
description:
  - Writes O(content) to O(dest) on the controller when the file differs (or its mode does), replacing it
    atomically, and creates the missing directories above it (mode C(0755)).
  - Runs in the controller's own process (the host is not contacted, no module is started), so a report a role
    writes per host on every run costs one task instead of an C(ansible.builtin.file) and an C(ansible.builtin.copy)
    delegated to localhost (three module runs).
  - The file is owned by the user running C(ansible-playbook); C(become) does not apply.
author: labops.dlstack maintainers (!UNKNOWN)
options:
  dest:
    description: Path of the file on the controller; a relative path is taken from the directory C(ansible-playbook) runs in.
    type: path
    required: true
  content:
    description: The file's whole text.
    type: str
    required: true
  mode:
    description: The file's mode, an octal string such as C("0644").
    type: raw
    default: "0644"
attributes:
  action:
    support: full
    description: Runs on the controller; the host is not contacted.
  check_mode:
    support: full
    description: Says what it would change and writes nothing.
  diff_mode:
    support: full
    description: The file's text before and after.
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write this host's report on the controller
  labops.dlstack.controller_file:
    dest: "/srv/lab/reports/{{ inventory_hostname }}.json"
    content: "{{ report | to_nice_json }}\n"
    mode: "0644"
"""

RETURN = r"""
dest:
  description: The file written (or that would be written in check mode).
  returned: always
  type: str
created_dirs:
  description: The directories created above it (or that would be), outermost first.
  returned: always
  type: list
  elements: str
"""

#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_file
short_description: Write a small text file on the host, creating its directories, in one module run
version_added: 1.1.0
description:
  - Writes O(content) to O(dest) on the host when the file differs (or its mode or owner does), replacing it
    atomically, and creates the missing directories above it (mode C(0755), the file's owner and group).
  - One module run where M(ansible.builtin.copy) with C(content) costs two (a stat, then a file module for owner and
    mode, even when nothing changes), and a directory made first a third. The roles' reports on the host, rewritten
    on every run, cost a re-run one round trip each (bench/README.md, C(fast_rerun.py)).
  - For small text (a report, a record); for files to transfer or templates use M(ansible.builtin.copy) or
    M(ansible.builtin.template).
author: labops.dlstack maintainers (!UNKNOWN)
options:
  dest:
    description: Absolute path of the file on the host.
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
  owner:
    description: The file's owner (a user name); the directories created above it get it too. Default, whoever the module runs as.
    type: str
  group:
    description: The file's group (a group name); the directories created above it get it too. Default, that user's group.
    type: str
attributes:
  check_mode:
    support: full
    description: Says what it would change and writes nothing.
  diff_mode:
    support: full
    description: The file's text before and after.
seealso:
  - module: ansible.builtin.copy
  - module: labops.dlstack.controller_file
"""

EXAMPLES = r"""
- name: Write the report on the host
  labops.dlstack.host_file:
    dest: /etc/labops-dlstack/nvidia_driver.json
    content: "{{ report | to_nice_json }}\n"
    owner: root
    group: root
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

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.labops.dlstack.plugins.module_utils import _text_file


def _ids(owner, group):
    """uid and gid of the names given (None where not given); an unknown name is an error before anything is written."""
    uid = gid = None
    if owner:
        try:
            uid = pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise _text_file.TextFileError('owner %r is not a user on this host' % owner) from None
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise _text_file.TextFileError('group %r is not a group on this host' % group) from None
    return uid, gid


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            content=dict(type='str', required=True),
            mode=dict(type='raw', default='0644'),
            owner=dict(type='str'),
            group=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    dest = module.params['dest']
    if not os.path.isabs(dest):
        module.fail_json(msg='host_file: dest must be an absolute path, got %r' % dest)
    content = to_bytes(module.params['content'], errors='surrogate_or_strict')
    try:
        mode = _text_file.parse_mode(module.params['mode'])
        uid, gid = _ids(module.params['owner'], module.params['group'])
        decided = _text_file.plan(dest, content, mode, uid, gid)
        if decided['changed'] and not module.check_mode:
            _text_file.apply(dest, content, mode, decided, uid, gid)
    except (_text_file.TextFileError, OSError) as exc:
        module.fail_json(msg='host_file: %s' % exc, dest=dest)
    result = dict(changed=decided['changed'], dest=dest, created_dirs=decided['dirs'])
    if module._diff and decided['write']:
        result['diff'] = _text_file.diff(dest, decided, content)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

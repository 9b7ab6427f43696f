#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: converged
short_description: Tell in one call whether a role's host is as its last converge left it, or record that state
version_added: 1.1.0
description:
  - The fast path of the roles of labops.dlstack. A role asks this module once, after its preflight, whether the
    host still is what the role's last converge left there; when it is, the role skips its install and configure
    stages and runs only its checks (the proof), instead of a hundred individual tasks that each find nothing to
    do.
  - A record (a JSON file under O(state_dir)) holds the O(fingerprint) of the role's input and code, and a digest
    of each of O(files) (content, mode, owner) and O(trees) (every entry's path, type, size, mtime, mode and
    owner; C(__pycache__) and C(.pyc) left out). O(exists), O(packages) and O(held) are read live on each check.
  - Without O(record) the module reads and reports (it changes nothing, in check mode too). With O(record=true)
    it writes the record of the host as it is now; a role does that at the end of its install and configure
    stages.
  - Anything that differs (a removed file, an edited configuration, a package no longer installed or no longer
    held, a changed variable, a new release of the collection) makes RV(converged) false and is named in
    RV(drift), so the role's full path runs and repairs it.
author: labops.dlstack maintainers (!UNKNOWN)
options:
  name:
    description: The record's name, one per role (and per scope a role keeps apart).
    type: str
    required: true
  fingerprint:
    description: The role's input and code, hashed on the controller (filter P(labops.dlstack._converged_fingerprint#filter)).
    type: str
    required: true
  record:
    description: Write the record of the host as it is now, instead of comparing with it.
    type: bool
    default: false
  files:
    description: Files the role writes; their content, mode and owner are recorded and compared.
    type: list
    elements: path
    default: []
  trees:
    description: Directories the role builds; every entry is recorded and compared (not the contents).
    type: list
    elements: path
    default: []
  exists:
    description: Paths that must exist (read on each check, not recorded); for files the role's users may edit.
    type: list
    elements: path
    default: []
  packages:
    description:
      - Debian packages that must be installed (C(dpkg-query), read on each check).
      - With O(record=true), kept in the record and checked again by every later check, with those the check names.
    type: list
    elements: str
    default: []
  held:
    description:
      - Debian packages that must be held (C(apt-mark hold)), read on each check.
      - With O(record=true), kept in the record like O(packages).
    type: list
    elements: str
    default: []
  state_dir:
    description: Where the records are kept (root-owned).
    type: path
    default: /var/lib/labops-dlstack/converged
  installed:
    description:
      - Also return every package dpkg knows as RV(dpkg_stdout), read with the check in one C(dpkg-query) - for a role
        that decides from the installed packages and asks this module in the same run.
      - Without O(record) only.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Comparing changes nothing. Recording in check mode reports whether the record would change.
  diff_mode:
    support: none
    description: Reports nothing to diff.
notes:
  - Reading a user's files needs the rights to read them (the roles run it with C(become)).
seealso:
  - module: labops.dlstack.gpu_facts
  - module: labops.dlstack.conda_prefix_info
    description: Asks the same question with its C(converged) option while it reads the prefixes.
  - module: labops.dlstack.pytorch_env_info
    description: Asks the same question with its C(converged) option, then checks the environments.
"""

EXAMPLES = r"""
- name: Ask whether the host is as the last converge left it
  labops.dlstack.converged:
    name: ca_trust
    fingerprint: "{{ {'certificates': ca_trust_certificates} | labops.dlstack._converged_fingerprint(role_path) }}"
    files: [/usr/local/share/ca-certificates/labops-dlstack/lab-ca.crt]
    packages: [ca-certificates]
  register: __ca_trust_state

- name: Install and configure, only when something is missing
  ansible.builtin.include_tasks: configure.yml
  when: not __ca_trust_state.converged
"""

RETURN = r"""
converged:
  description: Whether the host is as the role's last converge left it (always false after O(record=true)).
  returned: always
  type: bool
  sample: true
drift:
  description: What differs, one sentence each; empty when RV(converged) is true.
  returned: always
  type: list
  elements: str
  sample: ["package nvidia-smi is not held", "directory /opt/labops-dlstack/pytorch/layers/a1b2 changed since the last converge"]
drifted_trees:
  description: The O(trees) whose entries differ from the record (a role rebuilds those).
  returned: always
  type: list
  elements: str
  sample: [/opt/labops-dlstack/pytorch/layers/a1b2]
path:
  description: The record's file.
  returned: always
  type: str
  sample: /var/lib/labops-dlstack/converged/ca_trust.json
dpkg_stdout:
  description:
    - With O(installed), every package dpkg knows, one line each as
      C(dpkg-query -W -f='${db:Status-Status}\t${Package}\t${Version}\n') prints it (read it with the filter
      P(labops.dlstack.dpkg_installed#filter)).
  returned: with O(installed)
  type: str
  sample: "installed\tnvidia-smi\t535.247.01-1~deb12u1\n"
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils import _converged


def main():
    module = AnsibleModule(
        argument_spec=dict(_converged.CHECK_OPTIONS, record=dict(type='bool', default=False),
                           installed=dict(type='bool', default=False)),
        mutually_exclusive=[('record', 'installed')],
        supports_check_mode=True,
    )
    params = module.params
    try:
        path = _converged.record_path(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params['installed']:
        states, listing = _converged.dpkg_listing(module.run_command)
        module.exit_json(changed=False, dpkg_stdout=listing, **_converged.check(params, module.run_command, states))
    if not params['record']:
        module.exit_json(changed=False, **_converged.check(params, module.run_command))
    snap = _converged.snapshot(params['files'], params['trees'])
    text = json.dumps(_converged.record(params['name'], params['fingerprint'], snap, params['packages'], params['held']),
                      indent=1, sort_keys=True) + '\n'
    try:
        with open(path, encoding='utf-8') as handle:
            changed = handle.read() != text
    except OSError:
        changed = True
    if changed and not module.check_mode:
        os.makedirs(params['state_dir'], mode=0o755, exist_ok=True)
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    module.exit_json(changed=changed, converged=False, drift=[], drifted_trees=[], path=path)


if __name__ == '__main__':
    main()

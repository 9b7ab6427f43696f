#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: conda_prefix_info
short_description: Tell what conda installation a prefix holds
version_added: 1.0.0
description:
  - Reads a conda prefix without changing it - the installer marker the C(labops.dlstack.conda) role
    writes at the prefix root, the C(conda) and C(python) package records under C(conda-meta/),
    and optionally the output of C(PREFIX/bin/conda info --json).
  - Tells the distribution (Miniforge from conda-forge, Miniconda from Anaconda's pkgs/main, Anaconda
    from its metapackage) and versions, so the role installs, updates in place or leaves the prefix alone.
  - Run it as the prefix's owner (C(become_user)) so that nothing it triggers is owned by another user, or give
    O(prefixes) with each prefix's user - the module then runs as root and starts each C(conda info) as that
    user (uid, groups, C(HOME), as C(su USER) gives them, plugins/module_utils/_as_user.py) - every user's prefix
    in one task.
  - With O(converged) (and O(prefixes)) the module also asks whether the host is as the role's last converge left it
    (what M(labops.dlstack.converged) answers, RV(state)), and runs O(conda_info) only when it is - the role's
    preflight read, fast path and verification in one module run.
author: labops.dlstack maintainers (@labops)
options:
  prefix:
    description:
      - Absolute path of the conda prefix (for example C(/home/alice/miniforge3)).
      - Exactly one of O(prefix) and O(prefixes).
    type: path
  prefixes:
    description:
      - Several prefixes read in one task, each item a dict with C(prefix) (an absolute path) and optionally
        C(user), the user O(conda_info) runs C(conda) as (needs root unless it is the user the module runs as;
        without C(user), as the module's user). Returned as RV(prefixes), in the same order.
      - Exactly one of O(prefix) and O(prefixes).
    type: list
    elements: dict
  conda_info:
    description:
      - Also run C(PREFIX/bin/conda info --json) and return its main fields as RV(conda_info).
      - Off by default - reading the files is enough to decide, and starting conda takes seconds.
      - With O(converged), only when C(state.converged) is true (RV(conda_info_run) tells).
    type: bool
    default: false
extends_documentation_fragment:
  - labops.dlstack.converged
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Reports nothing to diff.
notes:
  - Never reports C(changed).
seealso:
  - name: conda/constructor installer CLI
    description: The C(-b -p PREFIX -u) options of the installers this module's caller runs.
    link: https://github.com/conda/constructor
"""

EXAMPLES = r"""
- name: Read alice's prefix
  labops.dlstack.conda_prefix_info:
    prefix: /home/alice/miniforge3
  become: true
  become_user: alice
  register: alice_conda

- name: Read alice's and bob's prefixes and ask each conda as its user, in one task
  labops.dlstack.conda_prefix_info:
    prefixes:
      - {prefix: /home/alice/miniforge3, user: alice}
      - {prefix: /home/bob/miniforge3, user: bob}
    conda_info: true
  become: true
  register: condas

- name: Show the installed conda
  ansible.builtin.debug:
    msg: "{{ alice_conda.distribution }} {{ alice_conda.installer.version | default('?') }} (conda {{ alice_conda.conda_version }})"
"""

RETURN = r"""
prefixes:
  description:
    - With O(prefixes), one dict per item in its order - the fields below for that prefix, and C(user) (the
      item's user, or null). Without O(prefixes) the fields below are returned at the top level.
  returned: with O(prefixes)
  type: list
  elements: dict
prefix:
  description: The prefix read.
  returned: always
  type: str
  sample: /home/alice/miniforge3
exists:
  description: Whether anything exists at the prefix path.
  returned: always
  type: bool
  sample: true
is_conda:
  description: Whether the prefix has a C(conda-meta/) directory.
  returned: always
  type: bool
  sample: true
conda_exe:
  description: Path of the executable C(bin/conda), or an empty string.
  returned: always
  type: str
  sample: /home/alice/miniforge3/bin/conda
installer:
  description: The marker the role writes after a successful installation, or an empty dict.
  returned: always
  type: dict
  sample: {"distribution": "miniforge", "version": "26.3.2-3", "sha256": "0123abcd...", "filename": "Miniforge3-26.3.2-3-Linux-x86_64.sh"}
conda_version:
  description: Version of the C(conda) package recorded under C(conda-meta/), or an empty string.
  returned: always
  type: str
  sample: "26.3.2"
python_version:
  description: Version of the base environment's C(python) package, or an empty string.
  returned: always
  type: str
  sample: "3.13.5"
distribution:
  description: C(miniforge), C(miniconda), C(anaconda), or an empty string when the records do not tell.
  returned: always
  type: str
  sample: miniforge
incomplete:
  description: Whether the marker of an interrupted first installation lies next to the prefix.
  returned: always
  type: bool
  sample: false
owner_uid:
  description: Numeric owner of the prefix directory, or null when it does not exist.
  returned: always
  type: int
  sample: 1001
in_check_mode:
  description:
    - Whether the module ran in check mode, by C(--check) or by C(check_mode) set on a play, a block or a task
      (C(ansible_check_mode) only tells the first). The roles of the collection read check mode from
      the C(check_mode) that M(labops.dlstack.role_plan) returns instead.
  returned: always
  type: bool
  sample: false
conda_info:
  description:
    - Main fields of C(conda info --json) (conda_version, python_version, root_prefix, platform, channels, envs).
    - C(stand_in) is true when the prefix was made by the tests' stand-in installer (its C(conda info) says so),
      false for a real conda.
  returned: when O(conda_info=true) and the prefix has C(bin/conda) (with O(converged), when C(state.converged) is true)
  type: dict
  sample: {"conda_version": "26.3.2", "python_version": "3.13.5", "root_prefix": "/home/alice/miniforge3",
           "platform": "linux-64", "channels": ["https://conda.anaconda.org/conda-forge/linux-64"], "envs": [],
           "stand_in": false}
conda_info_run:
  description: Whether O(conda_info) was run (with O(converged), only when the host is as last converged).
  returned: with O(prefixes)
  type: bool
  sample: true
state:
  description: What M(labops.dlstack.converged) answers for O(converged) (its RV(labops.dlstack.converged#module:converged),
    RV(labops.dlstack.converged#module:drift), RV(labops.dlstack.converged#module:drifted_trees) and
    RV(labops.dlstack.converged#module:path)).
  returned: with O(converged)
  type: dict
  sample: {"converged": true, "drift": [], "drifted_trees": [], "path": /var/lib/labops-dlstack/converged/conda.json}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils import _as_user, _converged
from ansible_collections.labops.dlstack.plugins.module_utils._conda import parse_conda_info, read_prefix


def read_one(prefix, conda_info, user=None, run=None):
    """One prefix: read_prefix's fields, with conda_info from `conda info --json` (as `user` when given).

    Returns (result, error); error is a message when the prefix is not absolute or conda info failed.
    """
    if not isinstance(prefix, str) or not os.path.isabs(prefix):
        return None, 'prefix: %r is not an absolute path' % (prefix,)
    result = read_prefix(prefix.rstrip('/') or '/')
    if conda_info and result['conda_exe']:
        argv = [result['conda_exe'], 'info', '--json']
        if user:
            rc, out, err = _as_user.run_as(argv, user, cwd=result['prefix'])
        else:
            rc, out, err = run(argv)
        if rc != 0:
            return result, '%s info --json failed%s (rc %d): %s' % (
                result['conda_exe'], ' as %s' % user if user else '', rc, (err or out).strip()[-2000:])
        result['conda_info'] = parse_conda_info(out)
    return result, None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prefix=dict(type='path'),
            prefixes=dict(type='list', elements='dict'),
            conda_info=dict(type='bool', default=False),
            converged=dict(type='dict', options=_converged.CHECK_OPTIONS),
        ),
        required_one_of=[('prefix', 'prefixes')],
        mutually_exclusive=[('prefix', 'prefixes')],
        required_by={'converged': 'prefixes'},
        supports_check_mode=True,
    )
    conda_info = module.params['conda_info']
    if module.params['prefixes'] is not None:
        state = _converged.ask(module)
        extra = {} if state is None else {'state': state}
        conda_info = conda_info and (state is None or state['converged'])
        out = []
        for item in module.params['prefixes']:
            result, error = read_one(item.get('prefix'), conda_info, item.get('user') or None, module.run_command)
            if error:
                module.fail_json(msg='prefixes: %s: %s' % (item.get('user') or item.get('prefix'), error),
                                 prefixes=out)
            out.append(dict(result, user=item.get('user') or None))
        module.exit_json(changed=False, in_check_mode=module.check_mode, prefixes=out, conda_info_run=conda_info, **extra)
    result, error = read_one(module.params['prefix'], conda_info, None, module.run_command)
    if error:
        module.fail_json(msg=error, **(result or {}))
    module.exit_json(changed=False, in_check_mode=module.check_mode, **result)


if __name__ == '__main__':
    main()

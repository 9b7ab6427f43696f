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
  - Run it as the prefix's owner (C(become_user)) so that nothing it triggers is owned by another user.
author: labops.dlstack maintainers (@labops)
options:
  prefix:
    description: Absolute path of the conda prefix (for example C(/home/alice/miniforge3)).
    type: path
    required: true
  conda_info:
    description:
      - Also run C(PREFIX/bin/conda info --json) and return its main fields as RV(conda_info).
      - Off by default - reading the files is enough to decide, and starting conda takes seconds.
    type: bool
    default: false
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

- name: Show the installed conda
  ansible.builtin.debug:
    msg: "{{ alice_conda.distribution }} {{ alice_conda.installer.version | default('?') }} (conda {{ alice_conda.conda_version }})"
"""

RETURN = r"""
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
  returned: when O(conda_info=true) and the prefix has C(bin/conda)
  type: dict
  sample: {"conda_version": "26.3.2", "python_version": "3.13.5", "root_prefix": "/home/alice/miniforge3",
           "platform": "linux-64", "channels": ["https://conda.anaconda.org/conda-forge/linux-64"], "envs": [],
           "stand_in": false}
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils._conda import parse_conda_info, read_prefix


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prefix=dict(type='path', required=True),
            conda_info=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    prefix = module.params['prefix']
    if not os.path.isabs(prefix):
        module.fail_json(msg='prefix: %r is not an absolute path' % prefix)
    result = read_prefix(prefix.rstrip('/') or '/')
    if module.params['conda_info'] and result['conda_exe']:
        rc, out, err = module.run_command([result['conda_exe'], 'info', '--json'])
        if rc != 0:
            module.fail_json(msg='%s info --json failed (rc %d): %s' % (result['conda_exe'], rc, (err or out).strip()[-2000:]), **result)
        result['conda_info'] = parse_conda_info(out)
    module.exit_json(changed=False, in_check_mode=module.check_mode, **result)


if __name__ == '__main__':
    main()

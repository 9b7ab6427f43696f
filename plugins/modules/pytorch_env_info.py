#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: pytorch_env_info
short_description: Ask a Python environment what its torch can do
version_added: "1.0.0"
description:
  - Runs a short probe with the given environment's own interpreter, as the user the task runs as
    (use C(become_user) in the task). The probe imports torch, reads C(torch.__version__), C(torch.version.cuda),
    what C(torch.cuda.is_available) returns, the CUDA device names and the compiled architecture list, and multiplies
    two matrices of ones on the chosen device (C(cuda:0) when CUDA is available, else C(cpu)).
  - Read-only, never reports a change. The verdict (does this match what the host can do) is the
    filter P(labops.dlstack.pytorch_env_diagnose#filter).
author: labops.dlstack maintainers (@labops)
options:
  python:
    description: The environment's interpreter, for example C(/home/alice/.venvs/pytorch/bin/python).
    type: path
    required: true
  size:
    description: Side of the square matrices multiplied on the device.
    type: int
    default: 256
  timeout:
    description: Seconds the probe may run (the first CUDA initialisation can take tens of seconds).
    type: int
    default: 300
extends_documentation_fragment: []
attributes:
  check_mode:
    support: full
    description: Read-only, runs in check mode too.
notes:
  - The matmul checksum is exact (size cubed), so the result is the same on every run.
'''

EXAMPLES = r'''
- name: Probe alice's environment as alice
  labops.dlstack.pytorch_env_info:
    python: /home/alice/.venvs/pytorch/bin/python
  become: true
  become_user: alice
  register: probe
'''

RETURN = r'''
probe:
  description: What the environment's torch answered.
  returned: success
  type: dict
  sample:
    python: "3.11.2"
    prefix: /home/alice/.venvs/pytorch
    import_ok: true
    torch_version: 2.13.0+cpu
    torch_cuda: null
    torch_location: /opt/labops-dlstack/pytorch/layers/py3.11-torch2.13.0-cpu-0123456789/lib/python3.11/site-packages
    arch_list: []
    cuda_available: false
    cuda_error: null
    devices: []
    matmul: {device: cpu, size: 256, ok: true, checksum: 16777216}
rc:
  description: Exit status of the probe interpreter.
  returned: always
  type: int
stderr:
  description: What the probe printed on stderr (warnings of torch).
  returned: always
  type: str
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils._pytorch_env import PROBE_SOURCE


def parse_probe_output(rc, stdout, stderr):
    """The probe's JSON (last line of stdout), or a dict saying why there is none."""
    for line in reversed((stdout or '').strip().splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                return json.loads(line)
            except ValueError:
                break
    return {'import_ok': False, 'error': 'the probe printed no result (rc=%s): %s' % (rc, (stderr or stdout or '').strip()[-2000:])}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            python=dict(type='path', required=True),
            size=dict(type='int', default=256),
            timeout=dict(type='int', default=300),
        ),
        supports_check_mode=True,
    )
    python = module.params['python']
    if not os.path.exists(python):
        module.exit_json(changed=False, rc=-1, stderr='',
                         probe={'import_ok': False, 'error': 'no interpreter at %s' % python})
    argv = [python, '-c', PROBE_SOURCE, str(module.params['size'])]
    # no cwd from the caller: run from the environment's prefix so a stray torch/ in the current
    # directory cannot shadow the installed one
    cwd = os.path.dirname(os.path.dirname(python)) or '/'
    timeout = module.get_bin_path('timeout')
    if timeout:
        argv = [timeout, str(module.params['timeout'])] + argv
    rc, stdout, stderr = module.run_command(argv, cwd=cwd)
    module.exit_json(changed=False, rc=rc, stderr=stderr[-4000:], probe=parse_probe_output(rc, stdout, stderr))


if __name__ == '__main__':
    main()

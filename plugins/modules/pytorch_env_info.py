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
  - Runs the environment check with the given environment's own interpreter, as the user the task runs
    as (use C(become_user) in the task). It is the same code each environment's C(bin/dlstack-check)
    runs for its user (plugins/module_utils/_pytorch_env_check.py, installed once per host by the
    C(labops.dlstack.pytorch_env) role), here run with C(--json --no-expect).
  - The check imports torch, reads C(torch.__version__), C(torch.version.cuda), C(torch.cuda.is_available()),
    the CUDA device names and the compiled architecture list, then on the chosen device (C(cuda:0) when
    CUDA is available, else C(cpu)) runs a NumPy round trip (C(torch.from_numpy) shares the array's memory,
    to the device and back, C(.numpy()) gives 2*x), an autograd C(backward()) whose gradient must be the
    known value, and a multiplication of two matrices of ones; each with its wall time.
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
  - Every check has an exact expected value (the matmul checksum is size cubed, the gradient of
    sum(x**2) at [1, 2, 3] is [2, 4, 6]), so a wrong answer cannot pass.
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
    variant: cpu
    arch_list: []
    cuda_available: false
    cuda_error: null
    device_files: []
    devices: []
    device: cpu
    numpy: {device: cpu, ok: true, version: 2.4.6, shares_memory: true, round_trip: [[0.0, 2.0, 4.0, 6.0], [8.0, 10.0, 12.0, 14.0]], seconds: 0.0004}
    autograd: {device: cpu, ok: true, grad: [2.0, 4.0, 6.0], expected: [2.0, 4.0, 6.0], seconds: 0.0011}
    matmul: {device: cpu, size: 256, ok: true, checksum: 16777216, seconds: 0.002}
    failures: []
    passed: true
exit_status:
  description:
    - Exit status of the check (0 every check passed, 1 one failed, as C(dlstack-check) exits for the user).
    - Not called C(rc) so that a failed check is reported in RV(probe), for the role to judge, rather than
      failing the task.
  returned: always
  type: int
stderr:
  description: What the probe printed on stderr (warnings of torch).
  returned: always
  type: str
'''

import inspect
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env_check


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


def check_source():
    """Source text of _pytorch_env_check, read through its loader (a file, or the module's zip payload)."""
    return inspect.getsource(_pytorch_env_check)


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
        module.exit_json(changed=False, exit_status=-1, stderr='',
                         probe={'import_ok': False, 'error': 'no interpreter at %s' % python})
    # the check's own source, run by the environment's interpreter (it cannot import this collection)
    argv = [python, '-c', check_source(), '--json', '--no-expect', '--size', str(module.params['size'])]
    # no cwd from the caller: run from the environment's prefix so a stray torch/ in the current
    # directory cannot shadow the installed one
    cwd = os.path.dirname(os.path.dirname(python)) or '/'
    timeout = module.get_bin_path('timeout')
    if timeout:
        argv = [timeout, str(module.params['timeout'])] + argv
    rc, stdout, stderr = module.run_command(argv, cwd=cwd)
    module.exit_json(changed=False, exit_status=rc, stderr=stderr[-4000:], probe=parse_probe_output(rc, stdout, stderr))


if __name__ == '__main__':
    main()

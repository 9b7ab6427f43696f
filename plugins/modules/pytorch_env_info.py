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
  - With O(envs) one task checks every environment, each as its own user - the module runs as root
    (C(become)) and starts each check with the user's uid, groups, C(HOME) and C(SHELL), as C(su USER)
    gives them (plugins/module_utils/_as_user.py) - in one connection instead of one C(become_user) task
    item per user.
  - With O(converged) the module first asks whether the host is as the role's last converge left it (what
    M(labops.dlstack.converged) answers, RV(state)), and checks O(envs) only when it is - the role's fast path
    and its proof in one module run. When it is not, RV(results) is empty and RV(checked) false (the role builds,
    then checks). O(converged) needs O(envs).
author: labops.dlstack maintainers (@labops)
options:
  python:
    description:
      - The environment's interpreter, for example C(/home/alice/.venvs/pytorch/bin/python), checked as the
        user the task runs as (use C(become_user)).
      - Exactly one of O(python) and O(envs).
    type: path
  envs:
    description:
      - Environments to check in one task, each as its user. Each item is a dict with C(python) (the
        interpreter, an absolute path) and C(user) (the name of the user to check it as); other keys are
        returned unchanged as C(env) in each item of RV(results).
      - Checking as another user needs root (the play's or the task's C(become)); as the user the module
        runs as, it needs nothing.
      - Exactly one of O(python) and O(envs).
    type: list
    elements: dict
  skip_missing:
    description:
      - With O(envs), an environment whose interpreter does not exist is returned as skipped (C(skipped) in its item of RV(results))
        instead of checked (the role's check mode, where a new environment is not created yet).
    type: bool
    default: false
  size:
    description: Side of the square matrices multiplied on the device.
    type: int
    default: 256
  timeout:
    description: Seconds the probe may run (the first CUDA initialisation can take tens of seconds).
    type: int
    default: 300
extends_documentation_fragment:
  - labops.dlstack.converged
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

- name: Probe alice's and bob's environments, each as its user, in one task
  labops.dlstack.pytorch_env_info:
    envs:
      - {user: alice, python: /home/alice/.venvs/pytorch/bin/python}
      - {user: bob, python: /home/bob/.venvs/pytorch/bin/python}
  become: true
  register: probes
'''

RETURN = r'''
results:
  description:
    - With O(envs), one item per environment in the order given - C(env) (the item given), C(user), and
      C(probe), C(exit_status) and C(stderr) as below; or C(skipped) true with O(skip_missing) when its
      interpreter does not exist.
  returned: with O(envs)
  type: list
  elements: dict
probe:
  description: What the environment's torch answered.
  returned: with O(python)
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
  returned: with O(python)
  type: int
stderr:
  description: What the probe printed on stderr (warnings of torch).
  returned: with O(python)
  type: str
checked:
  description: Whether O(envs) were checked (false only with O(converged), when the host is not as last converged).
  returned: with O(envs)
  type: bool
state:
  description: What M(labops.dlstack.converged) answers for O(converged) (its RV(labops.dlstack.converged#module:converged),
    RV(labops.dlstack.converged#module:drift), RV(labops.dlstack.converged#module:drifted_trees) and
    RV(labops.dlstack.converged#module:path)).
  returned: with O(converged)
  type: dict
  sample: {"converged": true, "drift": [], "drifted_trees": [], "path": /var/lib/labops-dlstack/converged/pytorch_env.json}
'''

import inspect
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils import _as_user, _converged, _pytorch_env_check


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


def check_argv(python, size):
    """The check run by the environment's own interpreter (it cannot import this collection)."""
    return [python, '-c', check_source(), '--json', '--no-expect', '--size', str(size)]


def env_cwd(python):
    """No cwd from the caller: run from the environment's prefix, so a stray torch/ in the current directory
    cannot shadow the installed one."""
    return os.path.dirname(os.path.dirname(python)) or '/'


def missing(python):
    return {'exit_status': -1, 'stderr': '', 'probe': {'import_ok': False, 'error': 'no interpreter at %s' % python}}


def check_env(env, size, timeout, skip_missing=False):
    """One item of envs: checked as its user (the module runs as root), or skipped/missing."""
    python, user = env.get('python'), env.get('user')
    out = {'env': env, 'user': user}
    if not isinstance(python, str) or not os.path.isabs(python) or not isinstance(user, str) or not user:
        out.update(exit_status=-1, stderr='', probe={'import_ok': False, 'error': 'envs: each item needs python '
                                                     '(an absolute path) and user, got %r' % (env,)})
        return out
    if not os.path.exists(python):
        if skip_missing:
            out.update(skipped=True, skip_reason='no interpreter at %s (not created yet)' % python)
        else:
            out.update(missing(python))
        return out
    rc, stdout, stderr = _as_user.run_as(check_argv(python, size), user, cwd=env_cwd(python), timeout=timeout)
    out.update(exit_status=rc, stderr=stderr[-4000:], probe=parse_probe_output(rc, stdout, stderr))
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            python=dict(type='path'),
            envs=dict(type='list', elements='dict'),
            skip_missing=dict(type='bool', default=False),
            size=dict(type='int', default=256),
            timeout=dict(type='int', default=300),
            converged=dict(type='dict', options=_converged.CHECK_OPTIONS),
        ),
        required_one_of=[('python', 'envs')],
        mutually_exclusive=[('python', 'envs')],
        required_by={'converged': 'envs'},
        supports_check_mode=True,
    )
    size, seconds = module.params['size'], module.params['timeout']
    if module.params['envs'] is not None:
        state = _converged.ask(module)
        checked = state is None or state['converged']
        results = [check_env(env, size, seconds, module.params['skip_missing']) for env in module.params['envs']] if checked else []
        module.exit_json(changed=False, checked=checked, results=results, **({} if state is None else {'state': state}))
    python = module.params['python']
    if not os.path.exists(python):
        module.exit_json(changed=False, **missing(python))
    argv = check_argv(python, size)
    timeout = module.get_bin_path('timeout')
    if timeout:
        argv = [timeout, str(seconds)] + argv
    rc, stdout, stderr = module.run_command(argv, cwd=env_cwd(python))
    module.exit_json(changed=False, exit_status=rc, stderr=stderr[-4000:], probe=parse_probe_output(rc, stdout, stderr))


if __name__ == '__main__':
    main()

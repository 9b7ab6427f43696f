# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""labops.dlstack.role_plan: a role's validation and its plan in one task, on the controller.

Every role of the collection used to spend three tasks on this before it changed anything: an assert over
role_input_errors, a set_fact of the plan, an assert over the plan's errors. This action does the three in
one step (the rules stay in plugins/module_utils/_role_inputs.py, the plans in each role's module_utils);
the task registers the result, which is the plan. Documentation: plugins/modules/role_plan.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.labops.dlstack.plugins.filter.conda import conda_installer, conda_user_plan
from ansible_collections.labops.dlstack.plugins.filter.nvidia_driver import nvidia_driver_candidates, nvidia_driver_plan
from ansible_collections.labops.dlstack.plugins.filter.pytorch_env import pytorch_env_plan
from ansible_collections.labops.dlstack.plugins.filter.role_input import role_input_errors

# Keys Ansible gives a meaning to in a task result, and check_mode, which this action sets: a plan must not use them
# at its top level.
RESERVED = frozenset(('changed', 'failed', 'skipped', 'msg', 'results', 'warnings', 'deprecations', 'invocation',
                      'ansible_facts', 'diff', 'exception', 'rc', 'stdout', 'stderr', 'unreachable', 'check_mode'))


def _nvidia_driver(plan, replan=None):
    """The driver's plan (top level), with the arguments it was made from (`inputs`), the packages to ask apt
    about (`candidates`, where the plan installs) and `deferred` (null until running GPU work holds a step back,
    tasks/busy.yml).

    With `replan` (a plan this action made before, for the same host), plan is the GPU facts (`gpu`) and what apt
    answered since (`available`, `not_installable`, tasks/sources.yml): the new plan comes from the first one's inputs with every
    answer so far (`answers`), and keeps its `inputs`, `candidates` and `deferred`. The fingerprint of the fast path
    hashes `inputs`, which the answers therefore never enter."""
    if replan is not None:
        if not isinstance(replan.get('inputs'), Mapping):
            raise AnsibleActionFail('role_plan: replan must be a plan of nvidia_driver made by role_plan (it has no inputs)')
        plan = dict(plan)
        gpu = plan.pop('gpu', None)
        answers = dict(replan.get('answers') or {})
        for key, value in plan.items():  # a dict answer adds to the earlier one (a second flavour apt refuses)
            answers[key] = dict(answers[key], **value) if isinstance(value, Mapping) and isinstance(
                answers.get(key), Mapping) else value
        result = dict(nvidia_driver_plan(gpu, **dict(replan['inputs'], **answers)))
        result.update(inputs=replan['inputs'], answers=answers, candidates=list(replan.get('candidates') or []),
                      deferred=replan.get('deferred'))
        return result, result['errors'], ' | '
    args = dict(plan)
    result = dict(nvidia_driver_plan(args.pop('gpu', None), **args))
    candidates = []
    if result['action'] == 'install':
        candidates = nvidia_driver_candidates(
            args.get('distribution'), version=args.get('distribution_version'), kernel_release=result['kernel_release'],
            source=args.get('source', 'distro'), branch=args.get('branch', 'auto'), flavour=args.get('flavour', 'auto'),
            ubuntu_server=args.get('ubuntu_server', True))
    result.update(inputs=args, answers={}, candidates=candidates, deferred=None)
    return result, result['errors'], ' | '


def _conda(plan, replan=None):
    """The installer source and each user's plan; both refuse in one message. `inputs` keeps the planners'
    arguments: with `replan` (a conda plan this action made before), plan holds what changed since (the user
    database after conda_create_users made users: {'users': {'passwd': ...}}), and the users are planned again."""
    if replan is not None:
        if not isinstance(replan.get('inputs'), Mapping) or not isinstance(replan.get('installer'), Mapping):
            raise AnsibleActionFail('role_plan: replan must be a plan of conda made by role_plan (it has no inputs)')
        inputs = {'installer': dict(replan['inputs'].get('installer') or {}),
                  'users': dict(replan['inputs'].get('users') or {}, **dict(plan.get('users') or {}))}
        installer = dict(replan['installer'])
    else:
        inputs = {'installer': dict(plan.get('installer') or {}), 'users': dict(plan.get('users') or {})}
        installer = conda_installer(**inputs['installer'])
    users = conda_user_plan(**inputs['users'])
    return ({'installer': installer, 'plan': users, 'inputs': inputs},
            list(installer['errors']) + list(users['errors']), '; ')


def _pytorch_env(plan):
    """Every environment's plan (top level)."""
    result = dict(pytorch_env_plan(**plan))
    return result, result['errors'], None


PLANNERS = {'nvidia_driver': _nvidia_driver, 'conda': _conda, 'pytorch_env': _pytorch_env}
# the roles whose plan can be made again from an earlier one with what the host answered since
REPLANNERS = {'nvidia_driver': _nvidia_driver, 'conda': _conda}


def run_plan(role, inputs, context=None, plan=None, replan=None):
    """(result, msg): msg is the refusal (None when the role may go on), result the plan.

    The variables' own errors come first, then what the role's tasks read on the host refuses (the context's
    missing_files and installed_kernels, the rules of _role_inputs.HOST_RULES), then the planner's. With replan
    (nvidia_driver and conda), the variables were checked when that plan was made: plan holds what the host
    answered since, and the planner runs again with it."""
    if replan is not None:
        if role not in REPLANNERS:
            raise AnsibleActionFail('role_plan: replan is for %s only, not %r' % (', '.join(sorted(REPLANNERS)), role))
        if not isinstance(replan, Mapping) or not isinstance(plan or {}, Mapping):
            raise AnsibleActionFail('role_plan: replan and plan must be dicts')
        result, errors, sep = REPLANNERS[role](dict(plan or {}), replan=replan)
        return result, (sep.join(errors) if errors else None)
    errors = role_input_errors(inputs or {}, role, **dict(context or {}))
    if errors:
        return {}, ' | '.join(errors)
    if plan is None:
        return {}, None
    if role not in PLANNERS:
        raise AnsibleActionFail('role_plan: no planner for role %r; known: %s' % (role, ', '.join(sorted(PLANNERS))))
    if not isinstance(plan, Mapping):
        raise AnsibleActionFail('role_plan: plan must be a dict of the planner\'s arguments, got %s' % type(plan).__name__)
    result, errors, sep = PLANNERS[role](plan)
    clash = sorted(RESERVED.intersection(result))
    if clash:
        raise AnsibleActionFail('role_plan: the plan of %s uses keys Ansible reserves: %s' % (role, ', '.join(clash)))
    if errors:
        return result, (sep.join(errors) if sep else str(list(errors)))
    return result, None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(('role', 'inputs', 'context', 'plan', 'replan'))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec={
            'role': {'type': 'str', 'required': True},
            'inputs': {'type': 'dict'},
            'context': {'type': 'dict', 'default': {}},
            'plan': {'type': 'dict'},
            'replan': {'type': 'dict'},
        }, required_one_of=[['inputs', 'replan']], mutually_exclusive=[['inputs', 'replan']])
        del dummy
        planned, msg = run_plan(args['role'], args['inputs'], args['context'], args['plan'], args['replan'])
        result.update(planned)
        # the task's own check mode, as a module's check_mode sees it: also check_mode: true on the play, a block, an
        # include or its apply, which the variable ansible_check_mode (the --check of the command line) does not see
        result['check_mode'] = bool(self._task.check_mode)
        result['changed'] = False
        if msg:
            result.update(failed=True, msg=msg)
        return result

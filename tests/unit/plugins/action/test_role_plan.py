# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/action/role_plan.py: the order of the refusals, the result per role, and the task's check mode.

The rules and the planners have their own tests (test_role_inputs.py, test_nvidia_driver.py, test_conda.py,
test_pytorch_env.py); these check what the one task adds: the variables' errors first, then what the tasks
read on the host refuses (the context's missing_files and installed_kernels), then the planner's, each role's
message, the plan as the task's result, and check_mode, what the roles read for check mode.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.labops.dlstack.plugins.action import role_plan as rp
from ansible_collections.labops.dlstack.plugins.module_utils import _nvidia_driver

PASSWD = {'root': ['x', '0', '0', 'root', '/root', '/bin/bash'],
          'alice': ['x', '1000', '1000', '', '/home/alice', '/bin/bash']}
NO_GPU = {'status': 'no_gpu', 'gpus': [], 'driver': {'loaded': False}, 'in_container': True}
DRIVER = {'gpu': NO_GPU, 'distribution': 'Debian', 'distribution_version': '12', 'architecture': 'x86_64',
          'kernel_release': '6.1.0-57-amd64', 'source': 'distro', 'branch': 'auto', 'flavour': 'auto',
          'state': 'present', 'kernel_module_type': 'auto', 'require_gpu': False, 'install_without_gpu': False,
          'target_kernel': '', 'ubuntu_server': True, 'keep_satisfying': True, 'mok_configured': False,
          'installed': {}, 'default_kernel': None}


MOK = {'nvidia_driver_mok_key': '/root/mok.priv', 'nvidia_driver_mok_cert': '/root/mok.der'}
MOK_MISSING = 'nvidia_driver_mok_key / nvidia_driver_mok_cert: /root/mok.der not found on the host.'
KERNEL_MISSING = ('nvidia_driver_kernel_release: kernel 6.1.0-40-amd64 is not installed here (no /lib/modules/6.1.0-40-amd64); '
                  'installed: 6.1.0-57-amd64. Install its linux-image package first, or leave the variable empty for the '
                  'running kernel.')


def test_variables_refused_first():
    # a missing MOK file is not said while a variable is wrong (it may be the variable's own error)
    result, msg = rp.run_plan('nvidia_driver', dict(MOK, nvidia_driver_branch='latest', nvidia_driver_busy_policy='kill'),
                              context={'missing_files': ['/root/mok.der']}, plan=DRIVER)
    assert result == {}
    assert msg == (' | '.join([
        'nvidia_driver_branch: \'latest\' is not valid; accepted: auto, or a driver branch number such as "580"',
        "nvidia_driver_busy_policy: 'kill' is not one of the accepted values; accepted: defer, wait, proceed"]))


def test_host_refusals_after_the_variables_and_before_the_plan():
    # the plan would refuse too (require_gpu on a host without one): what the host lacks is said, the plan is not made
    inputs = dict(MOK, nvidia_driver_kernel_release='6.1.0-40-amd64')
    context = {'missing_files': ['/root/mok.der'], 'installed_kernels': ['6.1.0-57-amd64']}
    result, msg = rp.run_plan('nvidia_driver', inputs, context=context, plan=dict(DRIVER, require_gpu=True))
    assert (result, msg) == ({}, MOK_MISSING + ' | ' + KERNEL_MISSING)
    result, msg = rp.run_plan('nvidia_driver', inputs, context={'missing_files': [], 'installed_kernels': ['6.1.0-40-amd64']},
                              plan=dict(DRIVER, require_gpu=True))
    assert result['action'] == 'fail' and msg == ' | '.join(result['errors'])  # nothing missing: the plan's refusal


def test_nvidia_driver_plan_is_the_result_with_its_inputs():
    result, msg = rp.run_plan('nvidia_driver', {}, plan=DRIVER, context={'missing_files': [], 'installed_kernels': None})
    assert msg is None
    args = {k: v for k, v in DRIVER.items() if k != 'gpu'}
    expected = _nvidia_driver.plan(NO_GPU, **args)
    assert {k: v for k, v in result.items() if k not in ('inputs', 'answers', 'candidates', 'deferred')} == expected
    assert result['inputs'] == args and 'gpu' not in result['inputs']
    assert result['answers'] == {}
    assert result['deferred'] is None
    # a container without a visible GPU gets the userspace: the plan installs, and names what to ask apt about
    assert result['action'] == 'install'
    assert result['candidates'] == _nvidia_driver.candidate_packages('Debian', '12', kernel_release='6.1.0-57-amd64')
    assert set(result['packages']) <= set(result['candidates'])
    host, msg = rp.run_plan('nvidia_driver', {}, plan=dict(DRIVER, gpu=dict(NO_GPU, in_container=False)))
    assert msg is None and host['action'] != 'install' and host['candidates'] == []  # nothing to install, nothing to ask


OPEN_REFUSED = ('nvidia-open-kernel-dkms : Depends: firmware-nvidia-gsp (= 535.261.03); '
                'E: Unable to correct problems, you have held broken packages.')
AMPERE_HOST = dict(DRIVER, gpu={'status': 'ok', 'in_container': False, 'driver': {'loaded': False},
                                'gpus': [{'pci_device_id': '0x2204', 'arch': 'ampere', 'compute_capability': '8.6',
                                          'name': 'NVIDIA GeForce RTX 3090'}]})


def test_replan_keeps_the_first_plans_inputs_and_adds_the_answers():
    first, msg = rp.run_plan('nvidia_driver', {}, plan=DRIVER)
    assert msg is None
    first['deferred'] = 'a job runs on GPU 0'  # what busy.yml sets
    again, msg = rp.run_plan('nvidia_driver', None, plan={'gpu': NO_GPU, 'not_installable': {}}, replan=first)
    assert msg is None
    # nothing new from apt: the same plan, with the same inputs (the fast path's fingerprint), candidates, deferred
    assert {k: v for k, v in again.items() if k != 'answers'} == {k: v for k, v in first.items() if k != 'answers'}
    assert again['answers'] == {'not_installable': {}}


def test_replan_answers_add_up_and_reach_the_planner():
    first, msg = rp.run_plan('nvidia_driver', {}, plan=AMPERE_HOST)
    assert msg is None and first['flavour'] == 'open', first
    refused, msg = rp.run_plan('nvidia_driver', None, plan={'gpu': AMPERE_HOST['gpu'], 'not_installable': {'open': OPEN_REFUSED}}, replan=first)
    assert msg is None
    args = dict((k, v) for k, v in AMPERE_HOST.items() if k != 'gpu')
    assert refused['flavour'] == 'proprietary'  # auto falls back to the flavour apt can install
    assert {k: v for k, v in refused.items() if k not in ('inputs', 'answers', 'candidates', 'deferred')} == (
        _nvidia_driver.plan(AMPERE_HOST['gpu'], not_installable={'open': OPEN_REFUSED}, **args))
    assert refused['inputs'] == first['inputs'] and refused['candidates'] == first['candidates']
    # a later answer is added to the earlier ones; both flavours refused is the planner's error, as the message
    both, msg = rp.run_plan('nvidia_driver', None, plan={'gpu': AMPERE_HOST['gpu'], 'not_installable': {'proprietary': 'E: broken'}},
                            replan=refused)
    assert both['answers']['not_installable'] == {'open': OPEN_REFUSED, 'proprietary': 'E: broken'}
    assert both['action'] == 'fail' and msg == ' | '.join(both['errors'])
    assert 'E: broken' in msg


def test_replan_of_an_explicit_flavour_apt_refuses_fails_with_apts_words():
    first, msg = rp.run_plan('nvidia_driver', {}, plan=dict(AMPERE_HOST, flavour='open'))
    assert msg is None
    again, msg = rp.run_plan('nvidia_driver', None, plan={'gpu': AMPERE_HOST['gpu'], 'not_installable': {'open': OPEN_REFUSED}}, replan=first)
    assert again['errors'] and msg == ' | '.join(again['errors'])
    assert 'held broken packages' in msg


def test_conda_replan_with_the_users_created_since():
    plan = {'installer': {'distribution': 'miniforge', 'version': '25.3.1-0'},
            'users': {'users': [{'name': 'alice'}, {'name': 'carol'}], 'passwd': PASSWD, 'create_users': True}}
    first, msg = rp.run_plan('conda', {}, plan=plan)
    assert msg is None, msg
    carol = [u for u in first['plan']['users'] if u['name'] == 'carol'][0]
    assert carol['create']  # not in the user database yet: the role creates her
    passwd = dict(PASSWD, carol=['x', '1001', '1001', '', '/srv/home/carol', '/bin/bash'])
    again, msg = rp.run_plan('conda', None, plan={'users': {'passwd': passwd}}, replan=first)
    assert msg is None, msg
    carol = [u for u in again['plan']['users'] if u['name'] == 'carol'][0]
    assert carol['prefix'] == '/srv/home/carol/miniforge3' and not carol['create']
    assert again['installer'] == first['installer']
    assert again['inputs']['users']['passwd'] == passwd and again['inputs']['installer'] == first['inputs']['installer']
    # nothing new: the same plan
    same, msg = rp.run_plan('conda', None, plan={'users': {'passwd': PASSWD}}, replan=first)
    assert same == first


def test_replan_is_for_the_planning_roles_that_keep_their_inputs():
    with pytest.raises(AnsibleActionFail, match='replan is for conda, nvidia_driver only'):
        rp.run_plan('pytorch_env', None, plan={}, replan={'inputs': {}})
    with pytest.raises(AnsibleActionFail, match='has no inputs'):
        rp.run_plan('nvidia_driver', None, plan={}, replan={'action': 'install'})
    with pytest.raises(AnsibleActionFail, match='has no inputs'):
        rp.run_plan('conda', None, plan={}, replan={'plan': {}})


def test_nvidia_driver_plan_errors_are_the_message():
    result, msg = rp.run_plan('nvidia_driver', {}, plan=dict(DRIVER, require_gpu=True))
    assert result['errors'] and msg == ' | '.join(result['errors'])
    assert result['action'] == 'fail'


def test_conda_installer_and_users_in_one_message():
    plan = {'installer': {'distribution': 'miniforge', 'version': 'latest'},
            'users': {'users': [{'name': 'alice'}, {'name': 'nobody-here'}], 'passwd': PASSWD}}
    result, msg = rp.run_plan('conda', {}, plan=plan)
    assert set(result) == {'installer', 'plan', 'inputs'}
    assert result['plan']['errors'] and msg == '; '.join(result['installer']['errors'] + result['plan']['errors'])
    assert 'nobody-here' in msg


def test_conda_plan_without_errors():
    plan = {'installer': {'distribution': 'miniforge', 'version': '25.3.1-0'},
            'users': {'users': [{'name': 'alice'}], 'passwd': PASSWD}}
    result, msg = rp.run_plan('conda', {}, plan=plan)
    assert msg is None, msg
    assert [u['name'] for u in result['plan']['users']] == ['alice']
    assert result['plan']['users'][0]['prefix'] == '/home/alice/miniforge3'


def test_pytorch_env_message_is_the_list_of_errors():
    result, msg = rp.run_plan('pytorch_env', {}, plan={'users': 'alice', 'settings': {}})
    assert result['errors'] == ['pytorch_env_users: must be a list of {user, envs}']
    assert msg == "['pytorch_env_users: must be a list of {user, envs}']"


def test_validation_only_without_a_plan():
    assert rp.run_plan('ca_trust', {'ca_trust_configure_pip': True}) == ({}, None)
    assert rp.run_plan('ca_trust', {'ca_trust_configure_pip': 'sometimes'})[1] == (
        "ca_trust_configure_pip: 'sometimes' is not a boolean; accepted: true or false")


def test_no_planner_for_the_role():
    with pytest.raises(AnsibleActionFail, match='no planner for role .fleet_report.; known: conda, nvidia_driver, pytorch_env'):
        rp.run_plan('fleet_report', {}, plan={})


def test_a_plan_may_not_use_reserved_keys(monkeypatch):
    monkeypatch.setitem(rp.PLANNERS, 'conda', lambda plan: ({'msg': 'x', 'changed': True}, [], '; '))
    with pytest.raises(AnsibleActionFail, match='keys Ansible reserves: changed, msg'):
        rp.run_plan('conda', {}, plan={})


def test_plan_must_be_a_dict():
    with pytest.raises(AnsibleActionFail, match='plan must be a dict'):
        rp.run_plan('conda', {}, plan=['x'])


def _action(args, check_mode):
    """The action as Ansible runs it for one task (only what ActionBase.run reads of the task and the connection)."""
    task = SimpleNamespace(args=args, check_mode=check_mode, async_val=0, action='labops.dlstack.role_plan')
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir='/tmp/not-used'))
    return rp.ActionModule(task, connection, play_context=None, loader=None, templar=None)


@pytest.mark.parametrize('check_mode, expected', [(True, True), (False, False), (None, False)])
def test_result_says_the_tasks_check_mode(check_mode, expected):
    """check_mode is the task's own (check_mode: true on the play, a block or an include reaches it, not
    ansible_check_mode); None, a task loaded without the command line's options, is not check mode."""
    result = _action({'role': 'nvidia_driver', 'inputs': {}, 'plan': DRIVER}, check_mode).run(task_vars={})
    assert result['check_mode'] is expected
    assert result['changed'] is False and 'failed' not in result
    assert result['action'] == 'install' and result['inputs'] == {k: v for k, v in DRIVER.items() if k != 'gpu'}


@pytest.mark.parametrize('check_mode', [True, False])
def test_check_mode_also_without_a_plan_and_on_failure(check_mode):
    # validation only (apt_components, cuda_toolkit read their check mode from it)
    result = _action({'role': 'cuda_toolkit', 'inputs': {'cuda_toolkit_verify': True}}, check_mode).run(task_vars={})
    assert result == {'check_mode': check_mode, 'changed': False}
    refused = _action({'role': 'cuda_toolkit', 'inputs': {'cuda_toolkit_verify': 'maybe'}}, check_mode).run(task_vars={})
    assert refused['failed'] is True and refused['check_mode'] is check_mode
    assert refused['msg'] == "cuda_toolkit_verify: 'maybe' is not a boolean; accepted: true or false"


def test_check_mode_of_a_replan_is_the_replanning_tasks():
    first = _action({'role': 'nvidia_driver', 'inputs': {}, 'plan': DRIVER}, False).run(task_vars={})
    again = _action({'role': 'nvidia_driver', 'replan': first, 'plan': {'gpu': NO_GPU, 'not_installable': {}}}, True).run(task_vars={})
    assert first['check_mode'] is False and again['check_mode'] is True
    assert again['packages'] == first['packages']


def test_a_plan_may_not_use_check_mode(monkeypatch):
    monkeypatch.setitem(rp.PLANNERS, 'conda', lambda plan: ({'check_mode': True}, [], '; '))
    with pytest.raises(AnsibleActionFail, match='keys Ansible reserves: check_mode'):
        rp.run_plan('conda', {}, plan={})


def test_the_action_refuses_an_option_it_does_not_know():
    # refusals, the sentences the tasks built in Jinja, is gone: the rules say them from the context
    with pytest.raises(AnsibleActionFail, match='Invalid options for labops.dlstack.role_plan: refusals'):
        _action({'role': 'nvidia_driver', 'inputs': {}, 'refusals': ['x']}, False).run(task_vars={})

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/action/role_plan.py (run_plan): the order of the refusals and the result per role.

The rules and the planners have their own tests (test_role_inputs.py, test_nvidia_driver.py, test_conda.py,
test_pytorch_env.py); these check what the one task adds: the variables' errors first, then the refusals of
what the tasks read, then the planner's, each role's message, and the plan as the task's result.
"""

from __future__ import annotations

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


def test_variables_refused_first():
    result, msg = rp.run_plan('nvidia_driver', {'nvidia_driver_branch': 'latest', 'nvidia_driver_busy_policy': 'kill'},
                              plan=DRIVER, refusals=['not this one'])
    assert result == {}
    assert msg == (' | '.join([
        'nvidia_driver_branch: \'latest\' is not valid; accepted: auto, or a driver branch number such as "580"',
        "nvidia_driver_busy_policy: 'kill' is not one of the accepted values; accepted: defer, wait, proceed"]))


def test_refusals_after_the_variables_and_before_the_plan():
    result, msg = rp.run_plan('nvidia_driver', {}, plan=dict(DRIVER, require_gpu=True),
                              refusals=['', '  ', 'nvidia_driver_mok_key / nvidia_driver_mok_cert: /x not found on the host.'])
    assert (result, msg) == ({}, 'nvidia_driver_mok_key / nvidia_driver_mok_cert: /x not found on the host.')


def test_nvidia_driver_plan_is_the_result_with_its_inputs():
    result, msg = rp.run_plan('nvidia_driver', {}, plan=DRIVER, refusals=['', ''])
    assert msg is None
    args = {k: v for k, v in DRIVER.items() if k != 'gpu'}
    expected = _nvidia_driver.plan(NO_GPU, **args)
    assert {k: v for k, v in result.items() if k not in ('inputs', 'candidates', 'deferred')} == expected
    assert result['inputs'] == args and 'gpu' not in result['inputs']
    assert result['deferred'] is None
    # a container without a visible GPU gets the userspace: the plan installs, and names what to ask apt about
    assert result['action'] == 'install'
    assert result['candidates'] == _nvidia_driver.candidate_packages('Debian', '12', kernel_release='6.1.0-57-amd64')
    assert set(result['packages']) <= set(result['candidates'])
    host, msg = rp.run_plan('nvidia_driver', {}, plan=dict(DRIVER, gpu=dict(NO_GPU, in_container=False)))
    assert msg is None and host['action'] != 'install' and host['candidates'] == []  # nothing to install, nothing to ask


def test_nvidia_driver_plan_errors_are_the_message():
    result, msg = rp.run_plan('nvidia_driver', {}, plan=dict(DRIVER, require_gpu=True))
    assert result['errors'] and msg == ' | '.join(result['errors'])
    assert result['action'] == 'fail'


def test_conda_installer_and_users_in_one_message():
    plan = {'installer': {'distribution': 'miniforge', 'version': 'latest'},
            'users': {'users': [{'name': 'alice'}, {'name': 'nobody-here'}], 'passwd': PASSWD}}
    result, msg = rp.run_plan('conda', {}, plan=plan)
    assert set(result) == {'installer', 'plan'}
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

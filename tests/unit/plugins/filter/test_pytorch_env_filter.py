# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pytorch_env filters hand the role what _pytorch_env decides (getent shape, errors)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.filter.pytorch_env import FilterModule

F = FilterModule().filters()
SETTINGS = {'torch_version': '2.13.0', 'default_python': '3.11', 'variant': 'auto', 'index_url_template': ''}
# ansible_facts['getent_passwd'] as ansible.builtin.getent returns it: name -> [x, uid, gid, gecos, home, shell]
GETENT = {'alice': ['x', '1000', '1000', '', '/home/alice', '/bin/bash'],
          'bob': ['x', '1001', '1001', '', '/srv/home/bob', '/bin/bash'],
          'root': ['x', '0', '0', 'root', '/root', '/bin/bash']}
CONTAINER = {'status': 'no_gpu', 'in_container': True, 'gpus': []}


def test_filters_listed():
    assert sorted(F) == ['pytorch_env_diagnose', 'pytorch_env_plan', 'pytorch_env_report', 'pytorch_env_wheel_check',
                         'pytorch_env_wheel_sources']


def test_plan_reads_homes_from_getent():
    plan = F['pytorch_env_plan']([{'user': 'bob'}], SETTINGS, CONTAINER, GETENT)
    assert plan['errors'] == []
    assert plan['envs'][0]['path'] == '/srv/home/bob/.venvs/pytorch'


def test_plan_without_getent_only_validates():
    assert F['pytorch_env_plan']([{'user': 'carol'}], SETTINGS)['errors'] == []
    assert F['pytorch_env_plan']([{'user': 'carol'}], SETTINGS, CONTAINER, GETENT)['errors'] == [
        'pytorch_env_users[carol]: user carol does not exist on this host (create it first, e.g. with ansible.builtin.user)']


def test_plan_rejects_non_dict_settings():
    with pytest.raises(AnsibleFilterError, match='settings must be a dict'):
        F['pytorch_env_plan']([], 'nope')


def test_diagnose_and_report():
    env = F['pytorch_env_plan']([{'user': 'bob'}], SETTINGS, CONTAINER, GETENT)['envs'][0]
    probe = {'import_ok': True, 'torch_version': '2.13.0+cpu', 'cuda_available': False,
             'numpy': {'device': 'cpu', 'ok': True, 'version': '2.4.6'},
             'autograd': {'device': 'cpu', 'ok': True, 'grad': [2.0, 4.0, 6.0], 'expected': [2.0, 4.0, 6.0]},
             'matmul': {'device': 'cpu', 'size': 8, 'ok': True, 'checksum': 512}}
    assert F['pytorch_env_diagnose'](probe, env, CONTAINER)['ok'] is True
    with pytest.raises(AnsibleFilterError, match='one plan of pytorch_env_plan'):
        F['pytorch_env_diagnose'](probe, {}, CONTAINER)
    rep = F['pytorch_env_report']([{'ansible_loop_var': 'e', 'e': env, 'probe': probe}], 'h', CONTAINER)
    assert (rep['ok'], rep['host'], rep['gpu']['status']) == (True, 'h', 'no_gpu')
    with pytest.raises(AnsibleFilterError, match='results list'):
        F['pytorch_env_report']({}, 'h')


def test_wheel_filters_hand_over():
    layer = {'key': 'k', 'python': '3.11', 'requirements': ['torch==2.13.0+cpu'],
             'sources': {'index_url': '', 'torch_index_url': '', 'extra_index_urls': [], 'find_links': ['/opt/wheels'],
                         'offline': True}}
    assert F['pytorch_env_wheel_sources']([layer]) == {'dirs': ['/opt/wheels'], 'pages': []}
    found = [{'ansible_loop_var': '__pytorch_env_dir', '__pytorch_env_dir': '/opt/wheels',
              'files': [{'path': '/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl'}]}]
    assert F['pytorch_env_wheel_check']([layer], found, [], 'x86_64')['problems'] == []
    with pytest.raises(AnsibleFilterError):
        F['pytorch_env_wheel_check']({'not': 'a list'})

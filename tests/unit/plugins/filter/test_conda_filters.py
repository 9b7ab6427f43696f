# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/filter/conda.py: the filter names the role uses and how they pass the role's variables on."""

from __future__ import annotations

import os

import yaml

from ansible_collections.labops.dlstack.plugins.filter.conda import FilterModule

FILTERS = FilterModule().filters()
FILTER_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'filter')
SHA = '28e1ab6c221cbc679a52f5de128df1296ce61997acf62f5478af5757efb6a899'


def test_filter_names_and_their_docs():
    assert sorted(FILTERS) == ['_conda_prefix_actions', 'conda_condarc', 'conda_installer', 'conda_prefix_action', 'conda_sidecar_sha256', 'conda_user_plan',
                               'conda_verify_summary']
    for name in FILTERS:
        with open(os.path.join(FILTER_DIR, name + '.yml'), encoding='utf-8') as handle:
            doc = yaml.safe_load(handle)
        assert doc['DOCUMENTATION']['name'] == name
        assert '_value' in doc['RETURN']


def test_conda_installer_as_the_role_calls_it():
    # the role passes every installer variable, empty ones included, and the facts' architecture
    result = FILTERS['conda_installer']('miniforge', version='', architecture='x86_64', url='', mirror='http://127.0.0.1:8471/miniforge',
                                        sha256='', sha256_url='', src='', path='', accept_tos=False)
    assert (result['location'], result['sha256_url'], result['errors']) == (
        'http://127.0.0.1:8471/miniforge/26.3.2-3/Miniforge3-26.3.2-3-Linux-x86_64.sh',
        'http://127.0.0.1:8471/miniforge/26.3.2-3/Miniforge3-26.3.2-3-Linux-x86_64.sh.sha256', [])


def test_conda_installer_tos_truthy_string():
    # a "yes" from an inventory file counts as accepted
    result = FILTERS['conda_installer']('miniconda', sha256=SHA, accept_tos='yes')
    assert result['errors'] == []


def test_conda_sidecar_sha256():
    assert FILTERS['conda_sidecar_sha256'](SHA + '  x.sh\n', 'x.sh') == SHA


def test_conda_user_plan_empty_channels_mean_the_distribution_default():
    passwd = {'alice': ['x', '1001', '1001', '', '/home/alice', '/bin/bash']}
    plan = FILTERS['conda_user_plan'](['alice'], passwd, distribution='miniforge', state='present', channels=[], create_users=False)
    assert plan['users'][0]['channels'] == ['conda-forge']
    assert plan['users'][0]['prefix'] == '/home/alice/miniforge3'


def test_conda_prefix_action():
    wanted = {'state': 'present', 'distribution': 'miniforge', 'version': '26.3.2-3', 'conda_version': '26.3.2'}
    assert FILTERS['conda_prefix_action']({'exists': False}, wanted) == {'action': 'install', 'reason': 'no prefix', 'error': ''}


def test_conda_condarc_renders_as_the_template_does():
    data = FILTERS['conda_condarc'](['conda-forge'], channel_alias='', custom_channels={}, pkgs_dirs=[], envs_dirs=[],
                                    auto_activate=False, channel_priority='strict', proxy_servers={},
                                    ssl_verify='/etc/ssl/certs/ca-certificates.crt', accept_tos=False, extra={})
    assert yaml.safe_dump(data, sort_keys=False, default_flow_style=False) == (
        'channels:\n- conda-forge\nchannel_priority: strict\nauto_activate: false\nauto_activate_base: false\n'
        'auto_update_conda: false\nssl_verify: /etc/ssl/certs/ca-certificates.crt\n')

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_platform: the per-OS layers of every role, merged for the platforms the collection supports and for others."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.labops.dlstack.plugins.module_utils import _platform

ROLES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles')

DEBIAN_12 = {'os_family': 'Debian', 'distribution': 'Debian', 'distribution_major_version': '12'}
DEBIAN_13 = dict(DEBIAN_12, distribution_major_version='13')
UBUNTU_22 = {'os_family': 'Debian', 'distribution': 'Ubuntu', 'distribution_major_version': '22'}
UBUNTU_24 = dict(UBUNTU_22, distribution_major_version='24')
UBUNTU_26 = dict(UBUNTU_22, distribution_major_version='26')
FEDORA = {'os_family': 'RedHat', 'distribution': 'Fedora', 'distribution_major_version': '41'}


def layers(role):
    with open(os.path.join(ROLES, role, 'vars', 'main.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle)['__%s_platforms' % role]


def test_layer_names_most_general_first_each_once():
    assert _platform.layer_names(DEBIAN_12) == ['default', 'Debian', 'Debian-12']
    assert _platform.layer_names(UBUNTU_24) == ['default', 'Debian', 'Ubuntu', 'Ubuntu-24']
    assert _platform.layer_names({}) == ['default']
    assert _platform.layer_names(None) == ['default']
    assert _platform.layer_names({'distribution': 'Debian'}) == ['default', 'Debian']


def test_each_layer_over_the_one_before():
    data = {'default': {'a': 0, 'b': 0}, 'Debian': {'a': 1}, 'Ubuntu-24': {'b': 2}, 'Fedora': {'a': 9}}
    assert _platform.merged(data, UBUNTU_24) == {'a': 1, 'b': 2}
    assert _platform.merged(data, DEBIAN_12) == {'a': 1, 'b': 0}
    assert _platform.merged(data, {'os_family': 'Gentoo'}) == {'a': 0, 'b': 0}


def test_bad_layers_are_refused():
    with pytest.raises(TypeError, match='layers must be a dict'):
        _platform.merged(['default'], DEBIAN_12)
    with pytest.raises(TypeError, match="layer 'Debian' must be a dict"):
        _platform.merged({'Debian': 'yes'}, DEBIAN_12)


@pytest.mark.parametrize('role', ['ca_trust', 'conda', 'nvidia_driver', 'nvidia_repo'])
def test_debian_family_supported_elsewhere_not(role):
    for facts in (DEBIAN_12, DEBIAN_13, UBUNTU_22, UBUNTU_24):
        assert _platform.merged(layers(role), facts)['supported'] is True
    assert _platform.merged(layers(role), FEDORA)['supported'] is False


@pytest.mark.parametrize('role', ['apt_components', 'cuda_toolkit'])
def test_derivatives_are_not_taken_for_debian(role):
    # the family layer answers with a template that names Debian and Ubuntu only (Linux Mint is os_family Debian)
    assert _platform.merged(layers(role), DEBIAN_12)['supported'] == "{{ ansible_facts['distribution'] in ['Debian', 'Ubuntu'] }}"
    assert _platform.merged(layers(role), FEDORA)['supported'] is False


def test_pytorch_env_default_python_per_release():
    got = dict((name, _platform.merged(layers('pytorch_env'), facts)['default_python'])
               for name, facts in (('d12', DEBIAN_12), ('d13', DEBIAN_13), ('u22', UBUNTU_22), ('u24', UBUNTU_24),
                                   ('u26', UBUNTU_26), ('fedora', FEDORA)))
    assert got == {'d12': '3.11', 'd13': '3.13', 'u22': '3.10', 'u24': '3.12', 'u26': '', 'fedora': ''}
    assert _platform.merged(layers('pytorch_env'), UBUNTU_26)['packages'] == ['python3-venv']
    assert _platform.merged(layers('pytorch_env'), FEDORA)['packages'] == []


def test_nvidia_driver_adds_non_free_on_debian_only():
    assert _platform.merged(layers('nvidia_driver'), DEBIAN_13)['debian_nonfree'] is True
    assert _platform.merged(layers('nvidia_driver'), UBUNTU_24)['debian_nonfree'] is False


def test_apt_components_ubuntu_overrides_every_archive_value():
    debian, ubuntu = (_platform.merged(layers('apt_components'), f) for f in (DEBIAN_12, UBUNTU_24))
    assert debian['components'] == ['contrib', 'non-free', 'non-free-firmware']
    assert ubuntu['components'] == ['restricted', 'universe', 'multiverse']
    assert ubuntu['keyring_default'] == '/usr/share/keyrings/ubuntu-archive-keyring.gpg'
    assert 'ubuntu' in ubuntu['mirror_default'] and 'ubuntu' in ubuntu['security_mirror_default']

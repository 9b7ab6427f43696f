# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's public interface is whole: defaults and argument_specs list the same variables,
each with a type and a description, names carry the role's prefix, and docs/roles.md is current."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ALL_ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isdir(os.path.join(ROOT, 'roles', d)))
ROLES = [role for role in ALL_ROLES if not role.startswith('_')]  # the public ones; _common is internal


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle) or {}


def test_every_role_is_listed():
    assert ROLES == ['apt_components', 'ca_trust', 'conda', 'cuda_toolkit', 'fleet_report', 'nvidia_driver', 'nvidia_repo', 'pytorch_env']
    assert ALL_ROLES == ['_common'] + ROLES


def test_the_internal_role_has_no_interface_of_its_own():
    """_common is imported by tasks_from only: no main, no variables of its own (what it reads are the playbooks'
    dlstack_* inventory variables, each named in the header of the task file that reads it), and no
    argument_specs, which would add a validation task to every import."""
    base = os.path.join(ROOT, 'roles', '_common')
    assert sorted(os.listdir(base)) == ['README.md', 'meta', 'tasks']
    assert os.listdir(os.path.join(base, 'meta')) == ['main.yml']
    tasks = sorted(os.listdir(os.path.join(base, 'tasks')))
    assert 'main.yml' not in tasks and tasks
    for name in tasks:
        with open(os.path.join(base, 'tasks', name), encoding='utf-8') as handle:
            text = handle.read()
        assert text.startswith('---\n# '), '%s: says in its header what it is for and who imports it' % name
        for var in sorted(set(re.findall(r'\b(dlstack_[a-z_]+)\b', text))):
            assert var in text.split('\n- name:', 1)[0], '%s: %s is not named in the header' % (name, var)


@pytest.mark.parametrize('role', ROLES)
def test_defaults_match_argument_specs(role):
    defaults = _yaml('roles', role, 'defaults', 'main.yml')
    options = _yaml('roles', role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    assert sorted(defaults) == sorted(options), 'roles/%s: defaults/main.yml and meta/argument_specs.yml differ' % role
    for name, spec in options.items():
        assert name.startswith(role + '_'), '%s: %s lacks the role prefix' % (role, name)
        assert spec.get('type'), '%s: %s has no type' % (role, name)
        assert spec.get('description'), '%s: %s has no description' % (role, name)
        assert not spec.get('required'), '%s: %s is required but has a default' % (role, name)


def test_role_docs_are_current():
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'gen_role_docs.py'), '--check'],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role's public interface is whole: defaults and argument_specs list the same variables,
each with a type and a description, names carry the role's prefix, and docs/roles.md is current."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isdir(os.path.join(ROOT, 'roles', d)))


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle) or {}


def test_every_role_is_listed():
    assert ROLES == ['apt_components', 'ca_trust', 'conda', 'cuda_toolkit', 'fleet_report', 'nvidia_driver', 'nvidia_repo', 'pytorch_env']


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

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


def _role_files(role, sub):
    """name -> text of each file of roles/<role>/<sub>, without its YAML comments (what runs)."""
    base = os.path.join(ROOT, 'roles', role, sub)
    if not os.path.isdir(base):
        return {}
    out = {}
    for name in sorted(os.listdir(base)):
        with open(os.path.join(base, name), encoding='utf-8') as handle:
            out[name] = '\n'.join(re.sub(r'(^|\s)#.*$', '', line) for line in handle.read().splitlines())
    return out


def _tasks(items):
    """Every task of a task file, blocks opened (their block, rescue and always)."""
    for item in items or []:
        yield item
        for key in ('block', 'rescue', 'always'):
            yield from _tasks(item.get(key))


# The roles that decide something from check mode, and the registered role_plan result each reads it from.
CHECK_MODE_SOURCES = {
    'apt_components': '__apt_components_validated',
    'conda': '__conda_planned',
    'cuda_toolkit': '__cuda_toolkit_validated',
    'nvidia_driver': '__nvidia_driver_plan',
    'pytorch_env': '__pytorch_env_plan',
}


@pytest.mark.parametrize('role', ALL_ROLES)
def test_one_check_mode_idiom(role):
    """docs/architecture.md, "Check mode": a role reads check mode as __<role>_check_mode, the check_mode its
    labops.dlstack.role_plan task returned (a task without check_mode of its own, so it runs in the run's check
    mode: also check_mode: true on a play, block or include, which ansible_check_mode does not see)."""
    files = dict(('tasks/' + k, v) for k, v in _role_files(role, 'tasks').items())
    files.update(('vars/' + k, v) for k, v in _role_files(role, 'vars').items())
    for name, text in files.items():
        assert not re.search(r'\bansible_check_mode\b', text), 'roles/%s/%s: use __%s_check_mode' % (role, name, role)
        others = set(re.findall(r'\b__([a-z_]+?)_check_mode\b', text)) - {role}
        assert not others, 'roles/%s/%s reads the check mode of %s' % (role, name, sorted(others))
    uses = any(re.search(r'\b__%s_check_mode\b' % role, text) for name, text in files.items() if name.startswith('tasks/'))
    variables = _yaml('roles', role, 'vars', 'main.yml') if os.path.isfile(os.path.join(ROOT, 'roles', role, 'vars', 'main.yml')) else {}
    assert uses == (role in CHECK_MODE_SOURCES), role
    if not uses:
        assert '__%s_check_mode' % role not in variables
        return
    source = CHECK_MODE_SOURCES[role]
    assert variables['__%s_check_mode' % role] == '{{ %s.check_mode }}' % source
    planners = [task for name, text in files.items() if name.startswith('tasks/')
                for task in _tasks(yaml.safe_load(text)) if task.get('register') == source]
    assert planners, 'roles/%s: nothing registers %s' % (role, source)
    for task in planners:
        assert 'labops.dlstack.role_plan' in task, '%s: %s is registered by a task that is not role_plan' % (role, task['name'])
        assert 'check_mode' not in task, '%s: %s sets check_mode, so its result is not the run\'s' % (role, task['name'])

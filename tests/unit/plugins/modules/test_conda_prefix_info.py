# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""conda_prefix_info main() on prefixes laid out from tests/unit/fixtures/conda.

bin/conda in those prefixes is a stand-in shell script: here it prints the hand-written
`conda info --json` fixture (no real conda can be installed where the unit tests run).
"""

from __future__ import annotations

import os
import pwd
import shutil

import pytest

from conftest import CONDA_INFO_MINIFORGE, run_main

from ansible_collections.labops.dlstack.plugins.modules import conda_prefix_info

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'conda')


def run_module(capsys, args):
    return run_main(capsys, conda_prefix_info.main, args)


def make_prefix(tmp_path, conda_script):
    prefix = str(tmp_path / 'miniforge3')
    shutil.copytree(os.path.join(FIXTURES, 'prefix-miniforge'), prefix)
    exe = os.path.join(prefix, 'bin', 'conda')
    with open(exe, 'w', encoding='utf-8') as handle:
        handle.write(conda_script)
    os.chmod(exe, 0o755)
    return prefix


@pytest.mark.parametrize('check_mode', [False, True])
def test_reads_files_without_running_conda(capsys, tmp_path, check_mode):
    # a bin/conda that would fail if run: the default reads files only
    prefix = make_prefix(tmp_path, '#!/bin/sh\necho ran >> "$0.ran"\nexit 9\n')
    code, result = run_module(capsys, {'prefix': prefix, '_ansible_check_mode': check_mode})
    assert code == 0
    assert result['changed'] is False
    assert (result['exists'], result['is_conda'], result['conda_exe'], result['conda_version'], result['python_version'],
            result['distribution'], result['installer'], result['incomplete']) == \
        (True, True, prefix + '/bin/conda', '26.3.2', '3.13.5', 'miniforge', {}, False)
    assert 'conda_info' not in result
    assert not os.path.exists(prefix + '/bin/conda.ran')
    assert result['in_check_mode'] is check_mode  # what the conda role reads for check mode


def test_conda_info_runs_the_prefix_conda(capsys, tmp_path):
    fixture = os.path.join(os.path.abspath(FIXTURES), 'conda-info-with-warning.txt')
    prefix = make_prefix(tmp_path, '#!/bin/sh\n[ "$1 $2" = "info --json" ] || exit 3\ncat "%s"\n' % fixture)
    code, result = run_module(capsys, {'prefix': prefix, 'conda_info': True})
    assert code == 0
    assert result['changed'] is False
    assert result['conda_info'] == CONDA_INFO_MINIFORGE


def test_conda_info_failure_is_reported(capsys, tmp_path):
    prefix = make_prefix(tmp_path, '#!/bin/sh\necho "CondaError: broken prefix" >&2\nexit 1\n')
    code, result = run_module(capsys, {'prefix': prefix, 'conda_info': True})
    assert code == 1
    assert result['failed'] is True
    assert result['msg'] == '%s/bin/conda info --json failed (rc 1): CondaError: broken prefix' % prefix


def test_missing_prefix(capsys, tmp_path):
    prefix = str(tmp_path / 'nothing')
    code, result = run_module(capsys, {'prefix': prefix, 'conda_info': True})
    assert code == 0
    assert (result['exists'], result['is_conda'], result['conda_exe'], result['owner_uid']) == (False, False, '', None)
    assert 'conda_info' not in result


def test_relative_prefix_fails(capsys):
    code, result = run_module(capsys, {'prefix': 'miniforge3'})
    assert code == 1
    assert result['msg'] == "prefix: 'miniforge3' is not an absolute path"


def test_prefixes_read_every_user_in_one_task_and_ask_conda_as_the_user(capsys, tmp_path):
    me = pwd.getpwuid(os.geteuid()).pw_name
    fixture = os.path.join(os.path.abspath(FIXTURES), 'conda-info-with-warning.txt')
    # the stand-in conda says who runs it: the module must start it as the item's user, in the user's HOME
    prefix = make_prefix(tmp_path, '#!/bin/sh\n[ "$1 $2" = "info --json" ] || exit 3\n'
                                   'id -un > "$0.who"; echo "$HOME" >> "$0.who"\ncat "%s"\n' % fixture)
    items = [{'prefix': prefix, 'user': me, 'name': me, 'state': 'present'}, {'prefix': str(tmp_path / 'none')}]
    code, result = run_module(capsys, {'prefixes': items, 'conda_info': True})
    assert code == 0 and result['changed'] is False
    first, second = result['prefixes']
    assert (first['prefix'], first['user'], first['conda_info']) == (prefix, me, CONDA_INFO_MINIFORGE)
    with open(prefix + '/bin/conda.who', encoding='utf-8') as handle:
        assert handle.read().split() == [me, pwd.getpwnam(me).pw_dir]
    assert (second['exists'], second['user']) == (False, None)


def test_prefixes_failure_names_the_user(capsys, tmp_path):
    prefix = make_prefix(tmp_path, '#!/bin/sh\necho "CondaError: broken prefix" >&2\nexit 1\n')
    code, result = run_module(capsys, {'prefixes': [{'prefix': prefix, 'user': 'root'}], 'conda_info': True})
    assert code == 1
    assert result['msg'] == 'prefixes: root: %s/bin/conda info --json failed as root (rc 1): CondaError: broken prefix' % prefix
    code, result = run_module(capsys, {'prefixes': [{'prefix': 'rel'}]})
    assert (code, result['msg']) == (1, "prefixes: rel: prefix: 'rel' is not an absolute path")


def test_converged_asks_conda_only_on_a_converged_host(capsys, tmp_path):
    """Preflight's read, the fast path's question and verify's conda info in one run: conda info runs (as the
    item's user) only when the host is as recorded; a removed .condarc is drift, and conda is not asked."""
    from ansible_collections.labops.dlstack.plugins.modules import converged
    me = pwd.getpwuid(os.geteuid()).pw_name
    fixture = os.path.join(os.path.abspath(FIXTURES), 'conda-info-with-warning.txt')
    prefix = make_prefix(tmp_path, '#!/bin/sh\n[ "$1 $2" = "info --json" ] || exit 3\necho x >> "$0.ran"\ncat "%s"\n' % fixture)
    with open(prefix + '/.condarc', 'w', encoding='utf-8') as handle:
        handle.write('channels: [conda-forge]\n')
    ask = {'name': 'conda', 'fingerprint': 'f1', 'state_dir': str(tmp_path / 'state'),
           'files': [prefix + '/.condarc'], 'exists': [prefix + '/bin/conda']}
    items = [{'prefix': prefix, 'user': me}]

    code, result = run_module(capsys, {'prefixes': items, 'conda_info': True, 'converged': ask})
    assert code == 0 and result['changed'] is False
    assert (result['state']['converged'], result['conda_info_run']) == (False, False)
    assert result['prefixes'][0]['conda_version'] == '26.3.2' and 'conda_info' not in result['prefixes'][0]
    assert not os.path.exists(prefix + '/bin/conda.ran')

    run_main(capsys, converged.main, {k: v for k, v in ask.items() if k != 'exists'} | {'record': True})
    code, result = run_module(capsys, {'prefixes': items, 'conda_info': True, 'converged': ask})
    assert (result['state'], result['conda_info_run']) == (
        {'converged': True, 'drift': [], 'drifted_trees': [], 'path': str(tmp_path / 'state' / 'conda.json')}, True)
    assert result['prefixes'][0]['conda_info'] == CONDA_INFO_MINIFORGE

    os.remove(prefix + '/.condarc')
    os.remove(prefix + '/bin/conda.ran')
    code, result = run_module(capsys, {'prefixes': items, 'conda_info': True, 'converged': ask})
    assert (result['state']['drift'], result['conda_info_run']) == (['file %s/.condarc is missing' % prefix], False)
    assert not os.path.exists(prefix + '/bin/conda.ran')


def test_converged_without_conda_info_asks_nothing(capsys, tmp_path):
    """check mode in the role: conda_info false, the question still answered."""
    prefix = make_prefix(tmp_path, '#!/bin/sh\nexit 9\n')
    ask = {'name': 'conda', 'fingerprint': 'f1', 'state_dir': str(tmp_path / 'state')}
    code, result = run_module(capsys, {'prefixes': [{'prefix': prefix}], 'converged': ask})
    assert code == 0 and result['conda_info_run'] is False and result['state']['converged'] is False
    code, result = run_module(capsys, {'prefix': prefix, 'converged': ask})
    assert code == 1 and "missing parameter(s) required by 'converged': prefixes" in result['msg']

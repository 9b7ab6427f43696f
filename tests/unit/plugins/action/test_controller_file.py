# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""controller_file: the action as Ansible runs it, on real files in a temporary directory."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.labops.dlstack.plugins.action import controller_file as cf


def _run(args, check_mode=False, diff=False):
    task = SimpleNamespace(args=args, check_mode=check_mode, diff=diff, async_val=0, action='labops.dlstack.controller_file')
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir='/tmp/not-used'))
    return cf.ActionModule(task, connection, play_context=None, loader=None, templar=None).run(task_vars={})


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_the_directories_and_the_file_then_changes_nothing(tmp_path):
    dest = tmp_path / 'reports' / 'pytorch_env' / 'h1.json'
    result = _run({'dest': str(dest), 'content': '{"ok": true}\n', 'mode': '0640'})
    assert result['changed'] is True
    assert result['created_dirs'] == [str(tmp_path / 'reports'), str(tmp_path / 'reports' / 'pytorch_env')]
    assert dest.read_text() == '{"ok": true}\n' and _mode(dest) == 0o640
    assert _mode(tmp_path / 'reports') == 0o755
    again = _run({'dest': str(dest), 'content': '{"ok": true}\n', 'mode': '0640'})
    assert (again['changed'], again['created_dirs']) == (False, [])
    assert sorted(os.listdir(dest.parent)) == ['h1.json']  # no temporary file left behind


def test_a_changed_mode_or_text_is_a_change(tmp_path):
    dest = tmp_path / 'r.json'
    dest.write_text('old\n')
    dest.chmod(0o600)
    assert _run({'dest': str(dest), 'content': 'old\n'})['changed'] is True  # default mode 0644
    assert _mode(dest) == 0o644 and dest.read_text() == 'old\n'
    result = _run({'dest': str(dest), 'content': 'new\n'}, diff=True)
    assert result['changed'] is True and dest.read_text() == 'new\n'
    assert (result['diff']['before'], result['diff']['after']) == ('old\n', 'new\n')


def test_check_mode_says_and_writes_nothing(tmp_path):
    dest = tmp_path / 'a' / 'b.json'
    result = _run({'dest': str(dest), 'content': 'x'}, check_mode=True, diff=True)
    assert (result['changed'], result['created_dirs']) == (True, [str(tmp_path / 'a')])
    assert result['diff']['before'] == '' and result['diff']['after'] == 'x'
    assert not (tmp_path / 'a').exists()


def test_relative_dest_is_taken_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _run({'dest': 'reports/site.html', 'content': '<html></html>\n'})
    assert result['dest'] == str(tmp_path / 'reports' / 'site.html')
    assert (tmp_path / 'reports' / 'site.html').read_text() == '<html></html>\n'


@pytest.mark.parametrize('args, message', [
    ({'dest': '', 'content': 'x'}, "dest must be a path on the controller, got ''"),
    ({'dest': '/tmp/x', 'content': 3}, 'content must be a string'),
    ({'dest': '/tmp/x', 'content': 'x', 'mode': 'rw-r--r--'}, "mode 'rw-r--r--' is not an octal mode"),
    ({'dest': '/tmp/x', 'content': 'x', 'mode': '0888'}, "mode '0888' is not an octal mode"),
    ({'dest': '/tmp/x', 'content': 'x', 'owner': 'root'}, 'unknown options owner; allowed: dest, content, mode'),
])
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(AnsibleActionFail, match=message):
        _run(args)


def test_what_is_in_the_way_is_refused_and_left_alone(tmp_path):
    (tmp_path / 'file').write_text('keep')
    with pytest.raises(AnsibleActionFail, match='is in the way of the directory'):
        _run({'dest': str(tmp_path / 'file' / 'r.json'), 'content': 'x'})
    (tmp_path / 'dir.json').mkdir()
    with pytest.raises(AnsibleActionFail, match='exists and is not a plain file'):
        _run({'dest': str(tmp_path / 'dir.json'), 'content': 'x'})
    assert (tmp_path / 'file').read_text() == 'keep'

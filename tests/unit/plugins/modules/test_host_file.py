# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_file main() on real files in a temporary directory: written once, then nothing to change; owner, mode, refusals."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from conftest import run_main

from ansible_collections.labops.dlstack.plugins.modules import host_file

ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name


def _run(capsys, args):
    return run_main(capsys, host_file.main, args)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_the_directories_and_the_file_then_changes_nothing(capsys, tmp_path):
    dest = tmp_path / 'etc' / 'labops-dlstack' / 'nvidia_driver.json'
    args = {'dest': str(dest), 'content': '{"ok": true}\n', 'mode': '0640', 'owner': ME, 'group': MY_GROUP}
    code, result = _run(capsys, args)
    assert (code, result['changed']) == (0, True)
    assert result['created_dirs'] == [str(tmp_path / 'etc'), str(tmp_path / 'etc' / 'labops-dlstack')]
    assert dest.read_text() == '{"ok": true}\n' and _mode(dest) == 0o640 and _mode(tmp_path / 'etc') == 0o755
    code, again = _run(capsys, args)
    assert (code, again['changed'], again['created_dirs']) == (0, False, [])
    assert os.listdir(dest.parent) == ['nvidia_driver.json']  # no temporary file left behind


def test_text_mode_and_group_are_each_a_change(capsys, tmp_path):
    dest = tmp_path / 'r.json'
    dest.write_text('old\n')
    dest.chmod(0o600)
    assert _run(capsys, {'dest': str(dest), 'content': 'old\n'})[1]['changed'] is True  # default mode 0644
    assert _mode(dest) == 0o644 and dest.read_text() == 'old\n'
    result = _run(capsys, {'dest': str(dest), 'content': 'new\n', '_ansible_diff': True})[1]
    assert result['changed'] is True and dest.read_text() == 'new\n'
    assert (result['diff']['before'], result['diff']['after']) == ('old\n', 'new\n')
    if os.geteuid() == 0:  # changing a file's group to one its owner is not in needs root
        other = grp.getgrnam('nogroup')
        result = _run(capsys, {'dest': str(dest), 'content': 'new\n', 'group': 'nogroup'})[1]
        assert result['changed'] is True and os.stat(dest).st_gid == other.gr_gid and _mode(dest) == 0o644
        assert _run(capsys, {'dest': str(dest), 'content': 'new\n', 'group': 'nogroup'})[1]['changed'] is False


def test_check_mode_says_and_writes_nothing(capsys, tmp_path):
    dest = tmp_path / 'a' / 'b.json'
    result = _run(capsys, {'dest': str(dest), 'content': 'x', '_ansible_check_mode': True, '_ansible_diff': True})[1]
    assert (result['changed'], result['created_dirs']) == (True, [str(tmp_path / 'a')])
    assert (result['diff']['before'], result['diff']['after']) == ('', 'x')
    assert not (tmp_path / 'a').exists()


@pytest.mark.parametrize('args, message', [
    ({'dest': 'relative.json', 'content': 'x'}, "dest must be an absolute path, got 'relative.json'"),
    ({'content': 'x', 'mode': 'rw-r--r--'}, "mode 'rw-r--r--' is not an octal mode"),
    ({'content': 'x', 'mode': '0888'}, "mode '0888' is not an octal mode"),
    ({'content': 'x', 'owner': 'no-such-user-dlstack'}, "owner 'no-such-user-dlstack' is not a user on this host"),
    ({'content': 'x', 'group': 'no-such-group-dlstack'}, "group 'no-such-group-dlstack' is not a group on this host"),
])
def test_bad_arguments_are_refused_before_anything_is_written(capsys, tmp_path, args, message):
    args = dict({'dest': str(tmp_path / 'new' / 'r.json')}, **args)
    code, result = _run(capsys, args)
    assert code == 1 and result['failed'] is True and message in result['msg']
    assert not (tmp_path / 'new').exists()


def test_what_is_in_the_way_is_refused_and_left_alone(capsys, tmp_path):
    (tmp_path / 'file').write_text('keep')
    code, result = _run(capsys, {'dest': str(tmp_path / 'file' / 'r.json'), 'content': 'x'})
    assert code == 1 and 'is in the way of the directory' in result['msg']
    (tmp_path / 'dir.json').mkdir()
    code, result = _run(capsys, {'dest': str(tmp_path / 'dir.json'), 'content': 'x'})
    assert code == 1 and 'exists and is not a plain file' in result['msg']
    (tmp_path / 'link.json').symlink_to(tmp_path / 'file')
    code, result = _run(capsys, {'dest': str(tmp_path / 'link.json'), 'content': 'x'})
    assert code == 1 and 'exists and is not a plain file' in result['msg']
    assert (tmp_path / 'file').read_text() == 'keep'

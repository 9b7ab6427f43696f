# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_as_user: commands started as another user from a process running as root (real processes, real accounts).

The switch itself needs root: the unit tests run as root in CI (and in the project's containers); where they
do not, the tests that switch are skipped and the refusal is tested instead.
"""

from __future__ import annotations

import os
import pwd

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _as_user

ROOT = os.geteuid() == 0
ME = pwd.getpwuid(os.geteuid()).pw_name
# an account every Debian and Ubuntu has (base-passwd), not root
OTHER = pwd.getpwnam('nobody')


def test_account_for_the_process_own_user_does_not_switch():
    account = _as_user.account_for(ME)
    assert (account['name'], account['uid'], account['switch'], account['groups']) == (ME, os.geteuid(), False, None)


def test_account_for_another_user_as_root_switches_with_its_groups():
    account = _as_user.account_for('nobody', euid=0)
    assert (account['uid'], account['gid'], account['home'], account['switch']) == (
        OTHER.pw_uid, OTHER.pw_gid, OTHER.pw_dir, True)
    assert account['groups'] == os.getgrouplist('nobody', OTHER.pw_gid)


def test_account_for_another_user_without_root_is_refused():
    with pytest.raises(PermissionError, match=r'cannot run as nobody: this runs as uid 1000, not root '
                                              r'\(run the task with become: true\)'):
        _as_user.account_for('nobody', euid=1000)


def test_unknown_user():
    with pytest.raises(KeyError):
        _as_user.account_for('no-such-user-dlstack')
    assert _as_user.run_as(['true'], 'no-such-user-dlstack') == (-1, '', 'no user no-such-user-dlstack in the user database')


def test_environment_is_the_account_s_own():
    account = _as_user.account_for('nobody', euid=0)
    env = _as_user.environment(account, base={'LANG': 'C.UTF-8', 'SSH_AUTH_SOCK': '/tmp/agent', 'HOME': '/root',
                                              'PYTHONPATH': '/root/lib'})
    assert env == {'LANG': 'C.UTF-8', 'HOME': OTHER.pw_dir, 'USER': 'nobody', 'LOGNAME': 'nobody',
                   'SHELL': OTHER.pw_shell, 'PATH': _as_user.USER_PATH}


@pytest.mark.skipif(not ROOT, reason='switching to another user needs root')
@pytest.mark.skipif(not os.access('/usr/bin/python3', os.X_OK), reason='needs the system Python (nobody cannot read the venv)')
def test_run_as_another_user_really_runs_as_it(tmp_path):
    script = ('import os, sys; print(os.getuid(), os.geteuid(), os.getgid(), sorted(os.getgroups()), '
              'os.environ["HOME"], os.environ["USER"], os.getcwd())')
    rc, out, err = _as_user.run_as(['/usr/bin/python3', '-c', script], 'nobody', cwd='/')
    assert (rc, err) == (0, '')
    assert out.split() == [str(OTHER.pw_uid), str(OTHER.pw_uid), str(OTHER.pw_gid),
                           *str(sorted(os.getgrouplist('nobody', OTHER.pw_gid))).split(), OTHER.pw_dir, 'nobody', '/']
    # what only root could do is refused to the command
    secret = tmp_path / 'secret'
    secret.write_text('x')
    secret.chmod(0o600)
    rc, out, err = _as_user.run_as(['cat', str(secret)], 'nobody')
    assert rc == 1 and 'Permission denied' in err


def test_run_as_the_own_user_runs_in_place():
    rc, out, err = _as_user.run_as(['id', '-u'], ME)
    assert (rc, out.strip(), err) == (0, str(os.geteuid()), '')


def test_run_as_reports_a_command_that_cannot_start_or_runs_too_long():
    rc, out, err = _as_user.run_as(['/nonexistent/python'], ME)
    assert rc == -1 and err.startswith('cannot start /nonexistent/python as %s: ' % ME)
    rc, out, err = _as_user.run_as(['sleep', '5'], ME, timeout=0.2)
    assert (rc, err) == (-1, 'ran past 0.2 seconds as %s and was stopped: sleep' % ME)

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It runs on managed hosts (modules pytorch_env_info and conda_prefix_info), so it is pure
# Python >= 3.9 (subprocess's user, group and extra_groups) with no third-party imports.

"""Run a command as a lab user from a module that runs as root: one connection for every user.

Why: a role that checks each user's environment as that user used one task item per user, each with
its own `become_user` (a connection, a `su`, a Python start and the module's payload on the host:
about 0.3 CPU seconds a user on the bench's hosts, bench/README.md). A module running as root starts
each user's command itself with what `su USER` (Ansible's default become method, without `-`) gives
the command: the user's uid, primary group and supplementary groups (initgroups, as login and su set
them), HOME, USER, LOGNAME and SHELL from the user database, and a working directory the caller names.
Not given: a PAM session (limits, pam_env) and the user's shell profile; neither is read by the checks
that use this (they run an interpreter by its absolute path).

A module not running as root can run commands only as its own user; for another user it gets the
PermissionError of `account_for`, with a message saying to run the task with become.
"""

from __future__ import annotations

import os
import pwd
import subprocess

# the PATH login(1) gives an ordinary user on Debian and Ubuntu (/etc/login.defs ENV_PATH)
USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games'
# locale variables handed on from the module's environment (the checks print text)
PASSED_ON = ('LANG', 'LC_ALL', 'LC_CTYPE')


def account_for(user, euid=None):
    """The account `user` (a name) as the run needs it, or an error when this process cannot switch to it.

    Returns {'name', 'uid', 'gid', 'groups', 'home', 'shell', 'switch'}: switch is False when the process
    already runs as that user (nothing to change). Raises KeyError for an unknown user and PermissionError
    when the process is neither root nor that user.
    """
    entry = pwd.getpwnam(user)
    euid = os.geteuid() if euid is None else euid
    switch = euid != entry.pw_uid
    if switch and euid != 0:
        raise PermissionError('cannot run as %s: this runs as uid %d, not root (run the task with become: true)'
                              % (user, euid))
    return {
        'name': entry.pw_name, 'uid': entry.pw_uid, 'gid': entry.pw_gid,
        'groups': os.getgrouplist(entry.pw_name, entry.pw_gid) if switch else None,
        'home': entry.pw_dir, 'shell': entry.pw_shell or '/bin/sh', 'switch': switch,
    }


def environment(account, base=None):
    """The environment the user's command gets: the account's own variables, the locale passed on."""
    base = os.environ if base is None else base
    env = dict((k, base[k]) for k in PASSED_ON if k in base)
    env.update({'HOME': account['home'], 'USER': account['name'], 'LOGNAME': account['name'],
                'SHELL': account['shell'], 'PATH': USER_PATH})
    return env


def popen_kwargs(account, cwd):
    """Keyword arguments of subprocess.run that start the command as the account, in `cwd`."""
    kwargs = {'cwd': cwd, 'env': environment(account)}
    if account['switch']:
        kwargs.update({'user': account['uid'], 'group': account['gid'], 'extra_groups': account['groups']})
    return kwargs


def run_as(argv, user, cwd='/', timeout=None):
    """Run argv as `user` (see the module docstring); returns (rc, stdout, stderr) as text.

    rc is -1 with the reason in stderr when the user is unknown, cannot be switched to, the command cannot
    start, or it ran past `timeout` seconds (then it is killed).
    """
    try:
        account = account_for(user)
    except KeyError:
        return -1, '', 'no user %s in the user database' % user
    except PermissionError as exc:
        return -1, '', str(exc)
    try:
        # not AnsibleModule.run_command: it cannot start a command as another uid, gid and groups
        proc = subprocess.run(argv, capture_output=True, text=True, errors='replace', timeout=timeout,  # pylint: disable=ansible-bad-function
                              check=False, **popen_kwargs(account, cwd))
    except subprocess.TimeoutExpired:
        return -1, '', 'ran past %s seconds as %s and was stopped: %s' % (timeout, user, argv[0])
    except OSError as exc:
        return -1, '', 'cannot start %s as %s: %s' % (argv[0], user, exc)
    return proc.returncode, proc.stdout, proc.stderr

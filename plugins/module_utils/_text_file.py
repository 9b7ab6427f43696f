# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It runs on the controller (action labops.dlstack.controller_file) and on managed hosts
# (module labops.dlstack.host_file): pure Python >= 3.9, the stdlib and ansible.module_utils only.

"""A small text file written whole: compare, then create the directories above it and replace it atomically.

The roles' reports are rewritten on every run with, in a re-run, nothing to change. ansible.builtin.copy costs a
stat module, then a file module (owner and mode) even when the text is the same: two module runs on the host,
each a Python start and a connection round trip. plan() compares in one read; apply() does only what it found.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_text

DIR_MODE = 0o755


class TextFileError(Exception):
    """A request that cannot be met (bad mode, something in the way); the caller says it as its own failure."""


def parse_mode(mode):
    """The file mode: an octal string such as "0644" or a number; refused otherwise."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    elif isinstance(mode, str) and mode.isdigit() and all(c in '01234567' for c in mode):
        value = int(mode, 8)
    else:
        raise TextFileError('mode %r is not an octal mode such as "0644"' % (mode,))
    if value > 0o7777:
        raise TextFileError('mode %r is not an octal mode such as "0644"' % (mode,))
    return value


def plan(dest, content, mode, uid=None, gid=None):
    """What writing content (bytes) to dest would change: {'changed', 'dirs', 'write', 'chmod', 'chown', 'before'}.

    uid/gid None: whoever writes owns it (the controller's user); else the owner the file must have.
    """
    dirs = []
    parent = os.path.dirname(dest)
    while parent and not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise TextFileError('%s is in the way of the directory of %s (not a directory)' % (parent, dest))
        dirs.append(parent)
        parent = os.path.dirname(parent)
    dirs.reverse()
    before = None
    if os.path.lexists(dest):
        if not os.path.isfile(dest) or os.path.islink(dest):
            raise TextFileError('%s exists and is not a plain file' % dest)
        with open(dest, 'rb') as handle:
            before = handle.read()
    write = before != content
    chmod = chown = False
    if not write:
        info = os.stat(dest)
        chmod = stat.S_IMODE(info.st_mode) != mode
        chown = (uid is not None and info.st_uid != uid) or (gid is not None and info.st_gid != gid)
    return {'changed': bool(dirs) or write or chmod or chown, 'dirs': dirs, 'write': write, 'chmod': chmod,
            'chown': chown, 'before': before}


def _owner(path, uid, gid):
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)


def apply(dest, content, mode, decided, uid=None, gid=None):
    """Do what plan() decided: the directories (0755, the file's owner), the file replaced atomically (a reader
    never sees half a file, and a write that fails leaves the old one)."""
    for path in decided['dirs']:
        os.mkdir(path, DIR_MODE)
        os.chmod(path, DIR_MODE)  # whatever the umask, as the file module's mode 0755 did
        _owner(path, uid, gid)
    if decided['write']:
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(dest), dir=os.path.dirname(dest) or '.')
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(content)
            os.chmod(tmp, mode)
            _owner(tmp, uid, gid)
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        if decided['chown']:
            _owner(dest, uid, gid)
        if decided['chmod'] or decided['chown']:  # chown may clear setuid bits: the mode after it
            os.chmod(dest, mode)


def diff(dest, decided, content):
    """The diff Ansible shows (--diff) for a write plan() decided, or None where the text stays."""
    if not decided['write']:
        return None
    return {'before_header': dest, 'after_header': dest,
            'before': to_text(decided['before'] or b'', errors='surrogate_or_replace'),
            'after': to_text(content, errors='surrogate_or_replace')}

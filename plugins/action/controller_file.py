# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""labops.dlstack.controller_file: write a text file on the controller, in the action itself.

The roles' reports on the controller (pytorch_env's per-host JSON, the fleet report's JSON and HTML) were
`ansible.builtin.file` plus `ansible.builtin.copy` tasks delegated to localhost: three module runs on the controller
(a Python start each, about 0.3 CPU seconds, bench/README.md) per file per host on every re-run, with nothing to
change. This action compares and writes in the controller's own process: one task, no module run. Documentation:
plugins/modules/controller_file.py.
"""

from __future__ import annotations

import os
import stat
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

DIR_MODE = 0o755


def parse_mode(mode):
    """The file mode: an octal string such as "0644" or a number; refused otherwise."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    elif isinstance(mode, str) and mode.isdigit() and all(c in '01234567' for c in mode):
        value = int(mode, 8)
    else:
        raise AnsibleActionFail('controller_file: mode %r is not an octal mode such as "0644"' % (mode,))
    if value > 0o7777:
        raise AnsibleActionFail('controller_file: mode %r is not an octal mode such as "0644"' % (mode,))
    return value


def plan(dest, content, mode):
    """What writing content to dest would change: {'changed', 'dirs', 'write', 'chmod', 'before'}."""
    dirs = []
    parent = os.path.dirname(dest)
    while parent and not os.path.isdir(parent):
        if os.path.lexists(parent):
            raise AnsibleActionFail('controller_file: %s is in the way of the directory of %s (not a directory)' % (parent, dest))
        dirs.append(parent)
        parent = os.path.dirname(parent)
    dirs.reverse()
    before = None
    if os.path.lexists(dest):
        if not os.path.isfile(dest) or os.path.islink(dest):
            raise AnsibleActionFail('controller_file: %s exists and is not a plain file' % dest)
        with open(dest, 'rb') as handle:
            before = handle.read()
    write = before != content
    chmod = not write and stat.S_IMODE(os.stat(dest).st_mode) != mode
    return {'changed': bool(dirs) or write or chmod, 'dirs': dirs, 'write': write, 'chmod': chmod, 'before': before}


def apply(dest, content, mode, decided):
    """Do what plan() decided: the directories (0755), the file replaced atomically (a reader never sees half)."""
    for path in decided['dirs']:
        os.mkdir(path, DIR_MODE)
        os.chmod(path, DIR_MODE)  # whatever the umask, as the file module's mode 0755 did
    if decided['write']:
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(dest), dir=os.path.dirname(dest) or '.')
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(content)
            os.chmod(tmp, mode)
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    elif decided['chmod']:
        os.chmod(dest, mode)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_diff = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        unknown = sorted(set(args) - {'dest', 'content', 'mode'})
        if unknown:
            raise AnsibleActionFail('controller_file: unknown options %s; allowed: dest, content, mode' % ', '.join(unknown))
        dest = args.get('dest')
        if not isinstance(dest, str) or not dest:
            raise AnsibleActionFail('controller_file: dest must be a path on the controller, got %r' % (dest,))
        dest = os.path.abspath(os.path.expanduser(dest))  # relative: to where ansible-playbook runs, as copy's
        if not isinstance(args.get('content'), str):
            raise AnsibleActionFail('controller_file: content must be a string')
        content = to_bytes(args['content'], errors='surrogate_or_strict')
        mode = parse_mode(args.get('mode', '0644'))
        decided = plan(dest, content, mode)
        if decided['changed'] and not self._task.check_mode:
            apply(dest, content, mode, decided)
        result.update(changed=decided['changed'], dest=dest, created_dirs=decided['dirs'])
        if self._task.diff and decided['write']:
            result['diff'] = {'before_header': dest, 'after_header': dest,
                              'before': to_text(decided['before'] or b'', errors='surrogate_or_replace'),
                              'after': to_text(content, errors='surrogate_or_replace')}
        return result

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

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase

from ansible_collections.labops.dlstack.plugins.module_utils import _text_file


def parse_mode(mode):
    try:
        return _text_file.parse_mode(mode)
    except _text_file.TextFileError as exc:
        raise AnsibleActionFail('controller_file: %s' % exc) from None


def plan(dest, content, mode):
    try:
        return _text_file.plan(dest, content, mode)
    except _text_file.TextFileError as exc:
        raise AnsibleActionFail('controller_file: %s' % exc) from None


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
            _text_file.apply(dest, content, mode, decided)
        result.update(changed=decided['changed'], dest=dest, created_dirs=decided['dirs'])
        if self._task.diff and decided['write']:
            result['diff'] = _text_file.diff(dest, decided, content)
        return result

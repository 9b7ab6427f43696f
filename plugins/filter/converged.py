# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fingerprint a role hands labops.dlstack.converged (its fast path); the hashing lives in
plugins/module_utils/_converged.py. Documented in converged_fingerprint.yml next to this file."""

from __future__ import annotations

import os

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_converged = LazyModule('_converged')


def converged_fingerprint(inputs, role_path=None):
    if role_path is not None and not (isinstance(role_path, str) and os.path.isdir(role_path)):
        raise AnsibleFilterError('converged_fingerprint: role_path must be the role directory (role_path), got %r' % (role_path,))
    return _converged.fingerprint(inputs, role_path)


class FilterModule(object):
    def filters(self):
        return {'_converged_fingerprint': converged_fingerprint}

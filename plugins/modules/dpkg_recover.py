#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: dpkg_recover
short_description: Finish the work of a dpkg that was killed mid-install, or stop saying what to run
version_added: 1.0.0
description:
  - Reads dpkg's database (C(/var/lib/dpkg/status) and its journal C(/var/lib/dpkg/updates/)) and tells whether an
    earlier dpkg was interrupted (a power cut, a killed apt or unattended-upgrades), which leaves journal entries
    and packages C(unpacked), C(half-configured) or C(half-installed); apt then refuses every install with
    C(dpkg was interrupted, you must manually run 'dpkg --configure -a').
  - With O(repair=true) it does what that message asks, C(dpkg --configure -a), then where packages are left
    unfinished C(apt-get -f install), with C(--reinstall) for those dpkg must unpack again (flagged reinstreq),
    non-interactively and keeping the host's configuration files; it first simulates the C(apt-get) run and
    refuses it when it would remove a package.
  - With O(repair=false), or when the repair does not finish everything, it fails naming the packages and the
    commands to run by hand, before the caller changes anything.
  - A package manager that is running right now (its lock is held) is waited for up to O(lock_timeout) seconds
    and never mistaken for an interrupted one.
  - The roles of labops.dlstack that install packages run it first.
author: labops.dlstack maintainers (!UNKNOWN)
options:
  repair:
    description: Run C(dpkg --configure -a) (and C(apt-get -f install)) when dpkg was interrupted; false fails instead.
    type: bool
    default: true
  lock_timeout:
    description: Seconds to wait for a running apt or dpkg to release C(/var/lib/dpkg/lock-frontend).
    type: int
    default: 120
attributes:
  check_mode:
    support: full
    description: Reads the database and reports the repair it would make as a change, without running it.
  diff_mode:
    support: none
    description: Reports nothing to diff.
notes:
  - Needs root (C(become)). Debian and Ubuntu hosts only.
  - A host whose own Python is among the half-installed packages may not run any Ansible module; run the
    commands of the failure message by hand there.
seealso:
  - name: dpkg(1)
    description: The database files, the journal and the package states.
    link: https://manpages.debian.org/bookworm/dpkg/dpkg.1.en.html
"""

EXAMPLES = r"""
- name: Finish what an interrupted dpkg left, before installing anything
  labops.dlstack.dpkg_recover:
  become: true

- name: Only tell (fails naming the packages and the commands to run)
  labops.dlstack.dpkg_recover:
    repair: false
  become: true
"""

RETURN = r"""
interrupted:
  description: Whether dpkg had been interrupted when the module started (journal entries or unfinished packages).
  returned: always
  type: bool
  sample: true
packages:
  description: The unfinished packages found, with their state.
  returned: always
  type: list
  elements: str
  sample: ["libpython3.11-stdlib:amd64 half-installed (reinstall required)", "python3.11:amd64 unpacked"]
journal:
  description: The number of journal entries found in C(/var/lib/dpkg/updates).
  returned: always
  type: int
  sample: 9
commands:
  description: The commands run (in check mode, those that would run).
  returned: always
  type: list
  elements: str
  sample: ["dpkg --configure -a --force-confdef --force-confold", "apt-get -f install -y -q ..."]
msg:
  description: What was found and done.
  returned: always
  type: str
  sample: "dpkg was interrupted (9 journal entries in /var/lib/dpkg/updates; ...); repaired with ..."
"""

import fcntl
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils import _dpkg


def _read_state():
    with open(os.path.join(_dpkg.ADMIN_DIR, 'status'), encoding='utf-8', errors='replace') as handle:
        status = handle.read()
    updates = os.path.join(_dpkg.ADMIN_DIR, 'updates')
    texts = []
    names = _dpkg.journal_names(os.listdir(updates)) if os.path.isdir(updates) else []
    for name in names:
        try:
            with open(os.path.join(updates, name), encoding='utf-8', errors='replace') as handle:
                texts.append(handle.read())
        except OSError:  # merged into status meanwhile
            continue
    return _dpkg.assess(status, texts)


def _take_lock(timeout):
    """An fd holding dpkg's frontend lock, or None when another process kept it for `timeout` seconds."""
    fd = os.open(_dpkg.FRONTEND_LOCK, os.O_RDWR | os.O_CREAT, 0o640)
    deadline = time.monotonic() + max(0, timeout)
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(1)


def _release(fd):
    if fd is not None:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


def _run(module, argv, extra_env=None):
    env = dict(_dpkg.ENVIRONMENT)
    env.update(extra_env or {})
    rc, out, err = module.run_command(argv, environ_update=env)
    return rc, (out or '') + (err or '')


def _fail(module, result, msg):
    result['msg'] = msg
    module.fail_json(**result)


def main():
    module = AnsibleModule(
        argument_spec={'repair': {'type': 'bool', 'default': True}, 'lock_timeout': {'type': 'int', 'default': 120}},
        supports_check_mode=True,
    )
    result = {'changed': False, 'interrupted': False, 'packages': [], 'journal': 0, 'commands': [], 'msg': ''}
    if not os.path.isfile(os.path.join(_dpkg.ADMIN_DIR, 'status')):
        result['msg'] = 'no dpkg database on this host (%s/status): nothing to finish' % _dpkg.ADMIN_DIR
        module.exit_json(**result)
    state = _read_state()
    if not state['interrupted']:
        result['msg'] = _dpkg.describe(state)
        module.exit_json(**result)
    if os.geteuid() != 0:
        _fail(module, result, '%s; this module needs root (become: true) to finish it.' % _dpkg.describe(state))

    # An apt or dpkg running now leaves the same marks: wait for it before calling them an interruption.
    lock = _take_lock(module.params['lock_timeout'])
    if lock is None:
        _fail(module, result, 'another apt or dpkg (unattended-upgrades?) has held %s for %d s; let it finish and run again. '
              'Nothing was changed.' % (_dpkg.FRONTEND_LOCK, module.params['lock_timeout']))
    try:
        state = _read_state()
        result.update({'interrupted': state['interrupted'], 'packages': state['packages'], 'journal': state['journal']})
        if not state['interrupted']:
            result['msg'] = 'an apt or dpkg run finished meanwhile; ' + _dpkg.describe(state)
            module.exit_json(**result)
        if not module.params['repair']:
            _fail(module, result, _dpkg.refusal(state))
        result['commands'].append(' '.join(_dpkg.DPKG_CONFIGURE))
        if module.check_mode:
            if state['reinstall'] or state['configure']:
                result['commands'].append(' '.join(_dpkg.fix_argv(state)))
            result.update(changed=True, msg='%s; would run %s.' % (_dpkg.describe(state), _dpkg.by_hand(state)))
            module.exit_json(**result)
        # dpkg takes only its database lock when told its frontend lock is held (as apt tells it)
        _rc, configure_out = _run(module, _dpkg.DPKG_CONFIGURE, {'DPKG_FRONTEND_LOCKED': '1'})
    finally:
        _release(lock)
    result['changed'] = True
    after = _read_state()
    fix_out = ''
    if after['interrupted']:
        rc, simulation = _run(module, _dpkg.fix_argv(after, simulate=True))
        removals = _dpkg.simulated_removals(simulation)
        if rc != 0 or removals:
            why = 'would remove %s' % ', '.join(removals) if removals else 'cannot plan: ' + _dpkg.tail(simulation, 4)
            _fail(module, result, '%s. dpkg --configure -a left %s; apt-get -f install %s, so it was not run. Run it as root '
                  'and decide. (dpkg said: %s)' % (_dpkg.describe(state), ', '.join(after['packages']) or 'the journal', why,
                                                   _dpkg.tail(configure_out, 4)))
        fix = _dpkg.fix_argv(after)
        result['commands'].append(' '.join(fix))
        _rc, fix_out = _run(module, fix + ['-o', 'DPkg::Lock::Timeout=%d' % module.params['lock_timeout']])
        after = _read_state()
    if after['interrupted']:
        left = ', '.join(after['packages']) or 'journal entries'
        _fail(module, result, '%s. After %s: %s left. Finish it by hand as root. (last output: %s)' % (
            _dpkg.describe(state), ' and '.join(result['commands']), left, _dpkg.tail(fix_out or configure_out, 6)))
    result['msg'] = '%s; finished with %s.' % (_dpkg.describe(state), ' and '.join("'%s'" % c for c in result['commands']))
    module.warn(result['msg'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It runs on managed hosts (module labops.dlstack.dpkg_recover): pure Python >= 3.9, stdlib only.

"""What a killed dpkg leaves behind, and what finishes its work.

dpkg keeps its database in /var/lib/dpkg: `status` (one paragraph per package) plus a journal of
updates not yet merged into it, `updates/0000`, `updates/0001`, ... (each a full paragraph of one
package, applied in order; dpkg(1), FILES). A dpkg killed mid-install (a power cut, a killed apt or
unattended-upgrades) leaves journal entries and packages whose Status is not final:

- `unpacked`, `half-configured`, `triggers-awaited`, `triggers-pending`: `dpkg --configure -a`
  finishes them; while the journal holds entries apt refuses to run at all ("E: dpkg was interrupted,
  you must manually run 'dpkg --configure -a' to correct the problem.");
- `half-installed` or the `reinstreq` flag: the files are a mix of two versions and the package
  must be unpacked again, which `apt-get -f install --reinstall <package>` does from the archive
  (dpkg --configure refuses such a package: "package is in a very bad inconsistent state").

Captured from a real Debian 12 container whose `apt-get install python3-venv` was SIGKILLed while
unpacking (tests/unit/fixtures/dpkg/killed-during-unpack): python3.11 `unpacked`,
libpython3.11-stdlib `reinstreq half-installed`, nine journal entries; `dpkg --configure -a` cleared
the journal but could not configure python3.11 ("dependency problems - leaving unconfigured"); a
following `apt-get -f install` reinstalled libpython3.11-stdlib and configured both. Killed at the
journal's first entry instead (the test in tests/integration saw it), python3.11 is left
`reinstreq half-configured`, which only `--reinstall python3.11:amd64` finishes.
"""

from __future__ import annotations

import re

ADMIN_DIR = '/var/lib/dpkg'
# The lock apt and dpkg take first (dpkg >= 1.19.1; apt sets DPKG_FRONTEND_LOCKED for the dpkg it runs).
FRONTEND_LOCK = ADMIN_DIR + '/lock-frontend'
FINAL_STATES = ('installed', 'config-files', 'not-installed')
CONFIGURE_STATES = ('unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending')
# Non-interactive and keeping the admin's configuration files where a package ships a new one.
DPKG_CONFIGURE = ['dpkg', '--configure', '-a', '--force-confdef', '--force-confold']
APT_FIX = ['apt-get', '-f', 'install', '-y', '-q', '-o', 'Dpkg::Options::=--force-confdef',
           '-o', 'Dpkg::Options::=--force-confold']
ENVIRONMENT = {'DEBIAN_FRONTEND': 'noninteractive', 'LC_ALL': 'C'}

_JOURNAL_RE = re.compile(r'^\d+$')


def parse_paragraphs(text):
    """The paragraphs of a dpkg status file (or one journal entry) as dicts of their fields."""
    records = []
    for block in re.split(r'\n\s*\n', text or ''):
        fields = {}
        key = None
        for line in block.splitlines():
            if not line.strip():
                continue
            if line[0] in ' \t' and key:
                fields[key] += '\n' + line.strip()
                continue
            if ':' in line:
                key, value = line.split(':', 1)
                key = key.strip()
                fields[key] = value.strip()
        if fields.get('Package'):
            records.append(fields)
    return records


def journal_names(names):
    """The journal entries among the names in updates/ (digits only, in order; tmp.i is not one)."""
    return sorted((n for n in names if _JOURNAL_RE.match(n)), key=int)


def package_states(status_text, journal_texts=()):
    """{(package, architecture): {'name', 'architecture', 'version', 'want', 'flag', 'state'}}.

    The status file, then each journal entry in order, as dpkg itself reads its database.
    """
    states = {}
    for text in [status_text] + list(journal_texts):
        for record in parse_paragraphs(text):
            words = record.get('Status', '').split()
            if len(words) != 3:
                continue
            key = (record['Package'], record.get('Architecture', ''))
            states[key] = {'name': record['Package'], 'architecture': record.get('Architecture', ''),
                           'version': record.get('Version', ''), 'want': words[0], 'flag': words[1], 'state': words[2]}
    return states


def unfinished(states):
    """The packages dpkg left half-done, sorted by name: not in a final state, or flagged reinstreq."""
    out = [s for s in states.values() if s['state'] not in FINAL_STATES or s['flag'] == 'reinstreq']
    return sorted(out, key=lambda s: (s['name'], s['architecture']))


def _label(state):
    return '%s:%s' % (state['name'], state['architecture']) if state['architecture'] else state['name']


def assess(status_text, journal_texts=()):
    """What a host's dpkg database says: {'journal', 'packages', 'reinstall', 'configure', 'interrupted'}.

    journal: number of journal entries; packages: the unfinished ones ('name:arch state' strings);
    reinstall: those that must be unpacked again (apt-get -f install); configure: those
    dpkg --configure -a finishes; interrupted: whether anything is left to do.
    """
    states = package_states(status_text, journal_texts)
    pending = unfinished(states)
    label = _label
    reinstall = [label(s) for s in pending if s['flag'] == 'reinstreq' or s['state'] == 'half-installed']
    configure = [label(s) for s in pending if label(s) not in reinstall and s['state'] in CONFIGURE_STATES]
    return {
        'journal': len(list(journal_texts)),
        'packages': ['%s %s%s' % (label(s), s['state'], ' (reinstall required)' if label(s) in reinstall else '')
                     for s in pending],
        'reinstall': reinstall,
        'configure': configure,
        'interrupted': bool(list(journal_texts)) or bool(pending),
    }


def apt_name(label):
    """'python3.11:amd64' -> itself; 'python3-pip-whl:all' -> 'python3-pip-whl' (how apt-get takes package names)."""
    name, _sep, arch = label.partition(':')
    return name if arch in ('', 'all') else label


def fix_argv(state, simulate=False):
    """apt-get's fix-broken install, unpacking again (--reinstall) the packages dpkg cannot configure as they are.

    A package killed while being deconfigured or unpacked is flagged reinstreq (`half-configured` or
    `half-installed`); dpkg --configure refuses it ("package is in a very bad inconsistent state; you
    should reinstall it before attempting configuration") and a plain `apt-get -f install` only asks dpkg
    to configure it again, so it must be named with --reinstall.
    """
    argv = list(APT_FIX)
    if simulate:
        argv = [a for a in argv if a != '-y'] + ['-s']
    if state['reinstall']:
        argv += ['--reinstall'] + [apt_name(p) for p in state['reinstall']]
    return argv


def simulated_removals(apt_output):
    """The packages an `apt-get -s` run would remove ('Remv <name> [...]' lines)."""
    return [line.split()[1] for line in (apt_output or '').splitlines() if line.startswith('Remv ') and len(line.split()) > 1]


def describe(state):
    """One sentence on what dpkg left: journal entries and the unfinished packages."""
    parts = []
    if state['journal']:
        parts.append('%d journal entr%s in %s/updates' % (state['journal'], 'y' if state['journal'] == 1 else 'ies', ADMIN_DIR))
    if state['packages']:
        parts.append('unfinished packages: %s' % ', '.join(state['packages']))
    return 'dpkg was interrupted (%s)' % '; '.join(parts) if parts else 'dpkg has nothing unfinished'


def by_hand(state):
    """The commands an admin runs to finish it (what this module would run)."""
    steps = ["dpkg --configure -a"]
    if state['reinstall']:
        steps.append('apt-get -f install --reinstall %s' % ' '.join(apt_name(p) for p in state['reinstall']))
    elif state['configure']:
        steps.append('apt-get -f install')
    return ' then '.join("'%s'" % s for s in steps)


def refusal(state):
    """The message when the module may not repair (repair: false): what is wrong and what to run."""
    return ('%s. Run %s as root on this host, then run again. Nothing was changed.' % (describe(state), by_hand(state)))


def tail(text, lines=12):
    """The last lines of a command's output, for a message."""
    rows = [r for r in (text or '').splitlines() if r.strip()]
    return ' / '.join(rows[-lines:])

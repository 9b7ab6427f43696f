# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's converged state on a host, read in one call: what the role's last converge left (recorded) against
what is there now, so a re-run with the same input skips the role's install and configure stages when nothing
drifted, and runs them (and repairs) when something did.

What a record holds: the fingerprint of the role's input and code (`fingerprint`, computed on the controller),
and a digest of each file (content, mode, owner) and each tree (every entry's path, type, size, mtime, mode and
owner; `__pycache__` and `.pyc` left out, since Python writes those on import) the role manages. What is read
live on every check: paths that must exist, packages that must be installed, packages that must be held.
Drift is a list of sentences, one per thing that differs; an empty list means the host is as the role left it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat

FORMAT = 1
IGNORED_DIRS = ('__pycache__',)
IGNORED_SUFFIXES = ('.pyc',)
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
DEFAULT_STATE_DIR = '/var/lib/labops-dlstack/converged'

# The options of a check: the top-level options of the converged module, and the suboptions of the `converged`
# option of the modules that ask the same question in a module run they make anyway (conda_prefix_info,
# pytorch_env_info), so a role's re-run starts one module where it started two. Documented in the converged module
# and, as that module's options, in plugins/doc_fragments/converged.py.
CHECK_OPTIONS = dict(
    name=dict(type='str', required=True),
    fingerprint=dict(type='str', required=True, no_log=False),
    files=dict(type='list', elements='path', default=[]),
    trees=dict(type='list', elements='path', default=[]),
    exists=dict(type='list', elements='path', default=[]),
    packages=dict(type='list', elements='str', default=[]),
    held=dict(type='list', elements='str', default=[]),
    state_dir=dict(type='path', default=DEFAULT_STATE_DIR),
)


def fingerprint(inputs, role_path=None):
    """sha256 of the role's decided input (any JSON value) and, when given, of every file of the role directory
    (defaults, files, handlers, meta, tasks, templates, vars), of the collection's Python decisions
    (plugins/module_utils) and of its version files: a changed variable, fact or release of the collection makes
    the next run take the full path once."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode('utf-8'))
    if role_path:
        for rel, path in _code_files(role_path):
            digest.update(rel.encode('utf-8') + b'\0')
            with open(path, 'rb') as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def _code_files(role_path):
    """(path relative to the collection, path) of the files a role's behaviour comes from."""
    root = os.path.realpath(role_path)
    collection = os.path.dirname(os.path.dirname(root))
    bases = [os.path.join(root, sub) for sub in ('defaults', 'files', 'handlers', 'meta', 'tasks', 'templates', 'vars')]
    # the decisions (module_utils) and what hands them to the tasks (the filters, the role_plan action)
    bases.extend(os.path.join(collection, 'plugins', sub) for sub in ('action', 'filter', 'module_utils'))
    out = []
    for base in bases:
        for top, dirs, names in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
            out.extend(os.path.join(top, name) for name in sorted(names) if not name.endswith(IGNORED_SUFFIXES))
    out.extend(os.path.join(collection, name) for name in ('MANIFEST.json', 'galaxy.yml')
               if os.path.isfile(os.path.join(collection, name)))
    return [(os.path.relpath(path, collection), path) for path in out]


def _meta(st):
    return '%o:%d:%d' % (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def file_digest(path):
    """Content, mode and owner of a file (or where a symlink points), None when it is missing."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return 'link:' + os.readlink(path) + ':' + _meta(st)
    if not stat.S_ISREG(st.st_mode):
        return 'type:%o:%s' % (stat.S_IFMT(st.st_mode), _meta(st))
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest() + ':' + _meta(st)


def tree_digest(path):
    """Every entry under a directory: relative path, type, size, mtime, mode and owner (not content: a tree
    such as a torch installation holds gigabytes). None when the directory is missing."""
    if not os.path.isdir(path):
        return None
    digest = hashlib.sha256()
    count = 0
    for top, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in sorted(names) + [d + '/' for d in dirs]:
            if name.endswith(IGNORED_SUFFIXES):
                continue
            full = os.path.join(top, name.rstrip('/'))
            try:
                st = os.lstat(full)
            except OSError:
                continue
            digest.update(('%s\0%o\0%d\0%d\0%s\n' % (os.path.relpath(full, path), stat.S_IFMT(st.st_mode),
                                                     st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                                                     st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0,
                                                     _meta(st))).encode('utf-8', 'surrogateescape'))
            count += 1
    return '%s:%d' % (digest.hexdigest(), count)


def snapshot(files, trees):
    return {'files': dict((path, file_digest(path)) for path in files),
            'trees': dict((path, tree_digest(path)) for path in trees)}


def record(name, fp, snap, packages=(), held=()):
    """The record a converge leaves; packages and held are checked again on each later check (with those the
    check names itself), so a role whose final package set is decided late (after asking apt) checks that set."""
    return {'format': FORMAT, 'name': name, 'fingerprint': fp, 'files': snap['files'], 'trees': snap['trees'],
            'packages': sorted(set(packages)), 'held': sorted(set(held))}


def wanted_packages(recorded, packages=(), held=()):
    """The packages a check asks dpkg about: those it names and those the record names (installed, held)."""
    recorded = recorded or {}
    return (sorted(set(packages) | set(recorded.get('packages') or [])),
            sorted(set(held) | set(recorded.get('held') or [])))


def parse_dpkg(text):
    """`dpkg-query -W -f '${Package}\\t${db:Status-Want}\\t${db:Status-Status}\\n'` -> {name: (want, status)}."""
    out = {}
    for line in text.splitlines():
        parts = line.split('\t')
        if len(parts) == 3 and parts[0]:
            out[parts[0]] = (parts[1], parts[2])
    return out


def drift(recorded, fp, snap, missing_paths=(), dpkg=None, packages=(), held=()):
    """Sentences saying how the host differs from the role's record; [] when it is as the role left it.

    recorded: the record read from the host (None when there is none); fp: this run's fingerprint;
    snap: snapshot() of the same files and trees now; missing_paths: paths that must exist and do not;
    dpkg: parse_dpkg() of the packages asked about; packages / held: names that must be installed / held."""
    if not recorded:
        return ['no record of an earlier converge of this role on this host']
    if recorded.get('format') != FORMAT:
        return ['the record was written by another version of the collection']
    if recorded.get('fingerprint') != fp:
        return ["the role's input or code changed since its last converge here"]
    out = []
    for kind, label in (('files', 'file'), ('trees', 'directory')):
        before = recorded.get(kind) or {}
        for path, now in sorted(snap[kind].items()):
            if path not in before:
                out.append('%s %s was not part of the last converge' % (label, path))
            elif now != before[path]:  # a path absent then and now is as the converge left it
                out.append('%s %s %s' % (label, path, 'is missing' if now is None else 'changed since the last converge'))
    out.extend('%s is missing' % path for path in missing_paths)
    dpkg = dpkg or {}
    for name in packages:
        if dpkg.get(name, ('', ''))[1] != 'installed':
            out.append('package %s is not installed' % name)
    for name in held:
        if dpkg.get(name, ('', ''))[0] != 'hold':
            out.append('package %s is not held' % name)
    return out


def record_path(params):
    """The record's file for CHECK_OPTIONS params; ValueError when the name is not a plain file name."""
    if not NAME_RE.match(params['name']):
        raise ValueError('name: %r is not a plain file name (letters, digits, _ . -)' % params['name'])
    return os.path.join(params['state_dir'] or DEFAULT_STATE_DIR, params['name'] + '.json')


def read_record(path):
    """The record at path, None when there is none (or it is not JSON)."""
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def dpkg_states(run_command, names):
    """{name: (want, status)} of the named packages, from dpkg-query; run_command(argv) -> (rc, out, err) as
    AnsibleModule.run_command. Unknown names make dpkg-query exit 1 and say so on stderr: they are simply not
    installed."""
    if not names:
        return {}
    _rc, out, _err = run_command(['dpkg-query', '-W', '-f=${Package}\t${db:Status-Want}\t${db:Status-Status}\n']
                                 + sorted(set(names)))
    return parse_dpkg(out)


# Every package dpkg knows, in one dpkg-query: the fields of the role's own listing (nvidia_driver's plan reads it with
# the dpkg_installed filter) and the selection (want: hold), which the check reads for the holds.
DPKG_LISTING_FORMAT = '${db:Status-Status}\t${Package}\t${Version}\t${db:Status-Want}\n'


def dpkg_listing(run_command):
    """(every package's (want, status) as dpkg_states gives them, the listing as
    `dpkg-query -W -f='${db:Status-Status}\\t${Package}\\t${Version}\\n'` prints it) from one dpkg-query."""
    _rc, out, _err = run_command(['dpkg-query', '-W', '-f=' + DPKG_LISTING_FORMAT])
    states, lines = {}, []
    for line in out.splitlines():
        parts = line.split('\t')
        if len(parts) == 4 and parts[1]:
            states[parts[1]] = (parts[3], parts[0])
            lines.append('\t'.join(parts[:3]))
    return states, ''.join(line + '\n' for line in lines)


def check(params, run_command, dpkg=None):
    """The whole check for CHECK_OPTIONS params: the record read, the files and trees digested, the paths that must
    exist looked at, dpkg asked about the packages (those named and those the record names), unless `dpkg` already
    holds every package's state (dpkg_listing()).

    Returns {'converged', 'drift', 'drifted_trees', 'path'}; ValueError for a name that is not a file name."""
    path = record_path(params)
    snap = snapshot(params.get('files') or [], params.get('trees') or [])
    recorded = read_record(path)
    missing = [p for p in params.get('exists') or [] if not os.path.lexists(p)]
    packages, held = wanted_packages(recorded, params.get('packages') or [], params.get('held') or [])
    states = dpkg if dpkg is not None else dpkg_states(run_command, packages + held)
    found = drift(recorded, params['fingerprint'], snap, missing, states, packages, held)
    return {'converged': not found, 'drift': found,
            'drifted_trees': drifted_trees(recorded, snap) if recorded else [], 'path': path}


def ask(module):
    """The answer of check() for an AnsibleModule's `converged` option (CHECK_OPTIONS as suboptions), None when the
    task gives none; a name that is not a file name fails the module."""
    if module.params.get('converged') is None:
        return None
    try:
        return check(module.params['converged'], module.run_command)
    except ValueError as exc:
        module.fail_json(msg='converged: %s' % exc)
        raise  # fail_json exits; this keeps linters from reading a fall-through


def drifted_trees(recorded, snap):
    """The trees whose entries differ from the record (the caller rebuilds those)."""
    before = (recorded or {}).get('trees') or {}
    return sorted(path for path, now in snap['trees'].items() if now is None or before.get(path) != now)

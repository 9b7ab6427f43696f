# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It runs on the controller only (the filter labops.dlstack.role_input_errors). The PEP 508
# and PEP 440 checks use the `packaging` library, which ansible-core itself depends on (its
# requirements: cryptography, jinja2, packaging, PyYAML, resolvelib); without it those two checks say so.

"""The checks every role's input goes through, written once: types, paths, URLs, requirement strings,
version pins, bounded numbers, names, and where a user's files may lie.

Each check is a small function of a value that returns None when the value is right, or the reason it
is not, ending with what is accepted ("... ; accepted: ..."). `Inputs` applies them to the variables
of one role and collects one message per problem, each starting with the variable it is about (and
the list item: `conda_users[alice].prefix`, `ca_trust_certificates[lab-ca].src`). The rules of each
role are in _role_inputs.py.

Values are shown in messages with any password of a URL replaced by *** (show()), so a message never
carries a credential the inventory keeps in vault.
"""

from __future__ import annotations

import os
import re

from urllib.parse import urlsplit

try:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version
    HAS_PACKAGING = True
except ImportError:  # pragma: no cover - ansible-core always brings it on the controller
    HAS_PACKAGING = False

# ansible-core's own spelling of booleans (ansible.module_utils.parsing.convert_bool), which the
# roles' argument_specs (type: bool) accept as well.
BOOLEANS_TRUE = frozenset(('y', 'yes', 'on', '1', 'true', 't', 1, 1.0, True))
BOOLEANS_FALSE = frozenset(('n', 'no', 'off', '0', 'false', 'f', 0, 0.0, False))

# A POSIX login name as useradd (shadow-utils) accepts it by default.
USER_RE = re.compile(r'^[a-z_][a-z0-9_.-]*[$]?$')
_SHA256_RE = re.compile(r'^[0-9a-fA-F]{64}$')
_DIGESTS = {'sha256': 64, 'sha384': 96, 'sha512': 128}
# the user information of a URL (a token may be the user name: https://<token>@host/...)
_USERINFO_RE = re.compile(r'//[^\s\'"/@]+@')
# user:password@ in anything URL-like, also a malformed one ('ftp:/bob:pw@host', 'bob:pw@host')
_CREDENTIALS_RE = re.compile(r'(?P<pre>^|[\s\'"/])(?P<user>[^\s\'"/@:]*):(?P<password>[^\s\'"/@]+)@')
_PLACEHOLDER_RE = re.compile(r'\{([^{}]*)\}')

MAX_SHOWN = 120
DAY = 86400


# --------------------------------------------------------------------------------------------------
# showing values
# --------------------------------------------------------------------------------------------------

def redact(text):
    """'http://bob:s3cret@proxy:3128' -> 'http://***@proxy:3128'; 'ftp:/bob:pw@x' -> 'ftp:/bob:***@x' (anywhere)."""
    text = _USERINFO_RE.sub('//***@', text)
    return _CREDENTIALS_RE.sub(lambda m: '%s%s:***@' % (m.group('pre'), m.group('user')), text)


def show(value):
    """A value as a message shows it: quoted strings, passwords of URLs replaced, long values cut."""
    if isinstance(value, str):
        text = "'%s'" % value
    elif isinstance(value, bool) or value is None:
        text = str(value).lower() if value is not None else 'null'
    elif isinstance(value, (int, float)):
        text = repr(value)
    else:
        text = repr(_plain(value))
    text = redact(text.replace('\n', '\\n'))
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + '...'


def _plain(value):
    """Ansible's tagged containers and strings as plain Python ones (for repr)."""
    if isinstance(value, dict):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


# --------------------------------------------------------------------------------------------------
# types
# --------------------------------------------------------------------------------------------------

def is_str(value):
    return isinstance(value, str)


def as_bool(value):
    """True/False for what ansible-core accepts as a boolean, None otherwise."""
    key = value.lower() if isinstance(value, str) else value
    try:
        if key in BOOLEANS_TRUE:
            return True
        if key in BOOLEANS_FALSE:
            return False
    except TypeError:  # unhashable (a list, a dict)
        return None
    return None


def as_int(value):
    """An int for an int or a string of digits (what argument_specs `type: int` converts), None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.match(r'^\s*[-+]?\d+\s*$', value):
        return int(value)
    return None


def not_bool(value):
    if as_bool(value) is None:
        return '%s is not a boolean; accepted: true or false' % show(value)
    return None


def not_int(value, minimum=None, maximum=None, unit=''):
    """None when value is an integer within [minimum, maximum]."""
    number = as_int(value)
    unit = (' ' + unit) if unit else ''
    if minimum is not None and maximum is not None:
        accepted = 'an integer from %d to %d%s' % (minimum, maximum, unit)
    elif minimum is not None:
        accepted = 'an integer of at least %d%s' % (minimum, unit)
    else:
        accepted = 'an integer%s' % unit
    if number is None:
        return '%s is not an integer; accepted: %s' % (show(value), accepted)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return '%s is out of range; accepted: %s' % (show(value), accepted)
    return None


def not_str(value, empty=True, single_line=True):
    if not is_str(value):
        return '%s is not a string; accepted: a quoted string' % show(value)
    if not empty and not value.strip():
        return 'is empty; accepted: a non-empty string'
    if single_line and ('\n' in value or '\r' in value):
        return '%s holds a line break; accepted: one line of text' % show(value)
    return None


def not_choice(value, choices):
    if not is_str(value) or value not in choices:
        return '%s is not one of the accepted values; accepted: %s' % (
            show(value), ', '.join("'%s'" % c if c == '' else c for c in choices))
    return None


def not_list(value, what='a list'):
    if not isinstance(value, list):
        return '%s is not a list; accepted: %s' % (show(value), what)
    return None


def not_dict(value, what='a mapping (dict)'):
    if not isinstance(value, dict):
        return '%s is not a mapping; accepted: %s' % (show(value), what)
    return None


def unknown_keys(item, allowed):
    """The sorted keys of a dict item that are not allowed ([] when all are)."""
    return sorted(str(k) for k in item if k not in allowed)


# --------------------------------------------------------------------------------------------------
# names, digests, versions
# --------------------------------------------------------------------------------------------------

def not_matching(value, pattern, accepted):
    """None when value is a string matching the regular expression pattern."""
    if not is_str(value) or not re.match(pattern, value):
        return '%s is not valid; accepted: %s' % (show(value), accepted)
    return None


def not_user_name(value):
    return not_matching(value, USER_RE.pattern, 'a login name (lower-case letters, digits, "_", "-", ".")')


def not_sha256(value):
    return not_matching(value, _SHA256_RE.pattern, 'the 64 hexadecimal digits of a sha256')


def not_digest(value):
    """'sha256:<64 hex>' (or sha384/sha512), as ansible.builtin.get_url's checksum takes it."""
    if is_str(value) and ':' in value:
        algorithm, digest = value.split(':', 1)
        size = _DIGESTS.get(algorithm.lower())
        if size and re.match(r'^[0-9a-fA-F]{%d}$' % size, digest):
            return None
    return '%s is not a checksum; accepted: sha256:<64 hex digits> (or sha384:, sha512:)' % show(value)


def not_pep440_version(value):
    """None for one exact release (PEP 440: '0.13.9', '2.13.0'), the reason otherwise ('latest', '>=1')."""
    if not is_str(value) or not value.strip():
        return '%s is not a version; accepted: one exact release such as 0.13.9 (PEP 440)' % show(value)
    if not HAS_PACKAGING:
        return 'cannot be checked: the Python library packaging is missing on the controller'
    try:
        Version(value)
    except InvalidVersion:
        return '%s is not a version pin; accepted: one exact release such as 0.13.9 (PEP 440), not a word or a range' % show(value)
    if value.strip() != value:
        return '%s has spaces around it; accepted: the bare version' % show(value)
    return None


def requirement(value):
    """(packaging Requirement, None) for a PEP 508 requirement string, (None, reason) otherwise."""
    accepted = 'a PEP 508 requirement such as numpy, numpy>=2.1 or "pandas[excel]==2.3.1"'
    if not is_str(value) or not value.strip():
        return None, '%s is not a requirement; accepted: %s' % (show(value), accepted)
    if value.lstrip().startswith('-'):
        return None, ('%s is a pip option, not a requirement; accepted: %s (sources go in the index and '
                      'find-links variables)' % (show(value), accepted))
    if not HAS_PACKAGING:
        return None, 'cannot be checked: the Python library packaging is missing on the controller'
    try:
        return Requirement(value), None
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0] if str(exc) else 'not PEP 508'
        return None, '%s is not a requirement (%s); accepted: %s' % (show(value), reason, accepted)


# --------------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------------

def _path_problem(value):
    if not is_str(value):
        return '%s is not a path (a string)' % show(value)
    if not value:
        return 'is empty'
    if '\x00' in value or '\n' in value:
        return '%s holds a NUL or line break' % show(value)
    return None


def not_abs_path(value, empty=False, what='an absolute path'):
    """None for an absolute path (or '' when empty is allowed)."""
    if empty and value == '':
        return None
    accepted = what + ' (starting with /, no "..")' + (' or ""' if empty else '')
    problem = _path_problem(value)
    if problem:
        return '%s; accepted: %s' % (problem, accepted)
    if not value.startswith('/'):
        return '%s is not an absolute path; accepted: %s' % (show(value), accepted)
    if '..' in value.split('/'):
        return '%s goes up with ".."; accepted: %s' % (show(value), accepted)
    return None


def not_system_dir(value):
    """None unless value is / or a directory the system owns as a whole (/usr, /etc, /home, ...)."""
    if is_str(value) and os.path.normpath(value) in ('/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/opt',
                                                     '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp',
                                                     '/usr', '/usr/local', '/var', '/var/cache', '/var/lib'):
        return '%s is a system directory as a whole; accepted: a directory of its own under it' % show(value)
    return None


def not_rel_subdir(value, what='a directory below the home directory'):
    """None for a relative path that stays below its base ('.venvs', 'envs/torch'), not '..' or absolute."""
    problem = _path_problem(value)
    if problem:
        return '%s; accepted: %s' % (problem, what)
    parts = [p for p in value.split('/') if p not in ('', '.')]
    if value.startswith('/') or not parts or '..' in parts:
        return '%s does not stay below its base; accepted: %s (relative, no "..")' % (show(value), what)
    return None


def normpath(path):
    return os.path.normpath(path) if path else path


def is_under(path, base, equal=False):
    """Whether normalised path lies below base (or is base, with equal)."""
    path, base = normpath(path), normpath(base)
    if equal and path == base:
        return True
    return path.startswith(base.rstrip('/') + '/')


def granted_dirs(granted, user):
    """The directories a user's files may lie in besides their home: each entry, {user} replaced."""
    return [normpath(str(g).replace('{user}', user)) for g in granted or [] if is_str(g) and g]


def outside_owned_dirs(path, user, home, granted, variable, also=()):
    """None when path lies where user can own it: below their home, in a granted directory, or in `also`.

    granted: the role's list of directories the inventory grants ({user} = the user's name), named by
    `variable` in the message.
    """
    allowed = granted_dirs(granted, user)
    if home and is_under(path, home):
        return None
    if any(is_under(path, d, equal=True) for d in allowed + [normpath(a) for a in also if a]):
        return None
    places = ['below %s (the home directory of %s)' % (home, user) if home else 'below the home directory of %s' % user]
    places += ['in %s' % d for d in allowed + [normpath(a) for a in also if a]]
    return ('%s is not where %s can own it; accepted: a path %s, or a directory granted in %s '
            '(for example /scratch/{user})' % (show(path), user, ', '.join(places), variable))


def find_on_controller(path, search_path=None):
    """The file a relative src resolves to as ansible's copy and file lookup search it, or None.

    Absolute paths are taken as they are. Relative ones are looked up in each directory of
    ansible_search_path (the role, then the playbook): its files/ subdirectory first, then itself.
    """
    if not is_str(path) or not path:
        return None
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path if os.path.isfile(path) else None
    for base in search_path or [os.getcwd()]:
        for candidate in (os.path.join(str(base), 'files', path), os.path.join(str(base), path)):
            if os.path.isfile(candidate):
                return candidate
    return None


def not_controller_file(value, search_path=None):
    """None when value names a readable file on the controller (where ansible would find it)."""
    problem = _path_problem(value)
    if problem:
        return '%s; accepted: a file on the controller' % problem
    found = find_on_controller(value, search_path)
    if found is None:
        where = '' if os.path.isabs(os.path.expanduser(value)) else ' (looked in files/ and the directory of %s)' % (
            ', '.join(str(p) for p in search_path or []) or os.getcwd())
        return '%s does not exist on the controller%s; accepted: a readable file on the controller' % (show(value), where)
    if not os.access(found, os.R_OK):
        return '%s (%s) cannot be read on the controller; accepted: a readable file' % (show(value), found)
    return None


# --------------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------------

WEB = ('http', 'https')
WEB_FILE = ('http', 'https', 'file')


def _schemes_text(schemes):
    """('http', 'https', 'file') -> 'an http://, https:// or file://'."""
    names = [s + '://' for s in schemes]
    text = names[0] if len(names) == 1 else '%s or %s' % (', '.join(names[:-1]), names[-1])
    return ('an ' if text[0] in 'aefhilmnorsx' else 'a ') + text


def has_credentials(url):
    """Whether a URL carries a user name or password (scheme://user:password@host)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.username or parts.password)


def not_url(value, schemes=WEB, empty=False, credentials_hint=None):
    """None for a URL of one of the schemes (with a host for http/https/ftp, a path for file).

    credentials_hint: when set, a URL with user:password@ is refused with that hint (where the URL
    would end up readable, and where the credentials belong instead).
    """
    if empty and value == '':
        return None
    accepted = '%s URL%s' % (_schemes_text(schemes), ' or ""' if empty else '')
    if not is_str(value) or not value:
        return '%s is not a URL; accepted: %s' % (show(value), accepted)
    if re.search(r'\s', value):
        return '%s holds white space; accepted: %s' % (show(value), accepted)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        return '%s is not a URL (%s); accepted: %s' % (show(value), exc, accepted)
    scheme = parts.scheme.lower()
    if scheme not in schemes or '://' not in value:
        return '%s is not a URL; accepted: %s' % (show(value), accepted)
    if scheme != 'file' and not parts.hostname:
        return '%s names no host; accepted: %s' % (show(value), accepted)
    if scheme == 'file' and (parts.netloc not in ('', 'localhost') or not parts.path.startswith('/')):
        return '%s names no absolute path; accepted: file:///absolute/path' % show(value)
    if credentials_hint and (parts.username or parts.password):
        return '%s carries credentials (user:password@ or token@): %s' % (show(value), credentials_hint)
    return None


def not_apt_uri(value, empty=True, credentials_hint=None):
    """An apt source URI: http(s)://, file:/, or apt's method prefixes (mirror+http://, tor+https://)."""
    if empty and value == '':
        return None
    accepted = 'an apt URI such as http://deb.debian.org/debian, https://..., file:/srv/mirror or mirror+file:/...' + (
        ' or ""' if empty else '')
    if not is_str(value) or not re.match(r'^(?:(?:mirror|tor)\+)?(https?|file|ftp|cdrom|mirror):\S+$', value):
        return '%s is not an apt URI; accepted: %s' % (show(value), accepted)
    if credentials_hint and has_credentials(re.sub(r'^(?:mirror|tor)\+', '', value)):
        return '%s carries credentials (user:password@ or token@): %s' % (show(value), credentials_hint)
    return None


def not_url_template(value, fields, schemes=WEB_FILE, credentials_hint=None):
    """A URL with {field} placeholders from `fields` only ('' accepted: no such URL)."""
    if value == '':
        return None
    if not is_str(value):
        return '%s is not a URL template; accepted: a URL with %s, or ""' % (show(value), ', '.join('{%s}' % f for f in fields))
    unknown = sorted(set(_PLACEHOLDER_RE.findall(value)) - set(fields))
    if unknown or value.count('{') != value.count('}'):
        return '%s has placeholders other than %s; accepted: a URL where only %s is replaced' % (
            show(value), ', '.join('{%s}' % f for f in fields), ', '.join('{%s}' % f for f in fields))
    sample = value
    for field in fields:
        sample = sample.replace('{%s}' % field, 'x')
    problem = not_url(sample, schemes=schemes, credentials_hint=credentials_hint)
    if problem:
        return problem.replace(show(sample), show(value), 1)
    return None


# --------------------------------------------------------------------------------------------------
# applying the checks to a role's variables
# --------------------------------------------------------------------------------------------------

def report_dir_problem(report_dir, inventory_sources, variable='fleet_report_dir'):
    """Why the controller directory ``report_dir`` must not receive reports, or '' when it may.

    Ansible parses every file under an inventory source that is a directory as inventory (JSON as
    YAML, HTML as nothing it knows), so reports written there warn on every later run, or add
    groups. ``inventory_sources`` is ``ansible_inventory_sources``; only its directories count.
    """
    if isinstance(inventory_sources, str):
        inventory_sources = [inventory_sources]
    target = os.path.realpath(os.path.expanduser(str(report_dir)))
    for source in inventory_sources or []:
        source = os.path.realpath(os.path.expanduser(str(source)))
        if os.path.isdir(source) and (target == source or target.startswith(source.rstrip(os.sep) + os.sep)):
            return ('%s (%s) is inside the inventory directory %s, which Ansible parses as inventory on every run: '
                    'point -i at the inventory file (for example -i %s) or set %s to a directory outside it.'
                    % (variable, target, source, os.path.join(source, 'hosts.yml'), variable))
    return ''


class Inputs(object):
    """The values of one role's variables (name -> value) and the messages of what is wrong with them.

    check(name, fn, ...) runs fn(value, ...) when the variable is defined and records its reason as
    '<name>: <reason>'. item(where, fn, value, ...) does the same for a list item or key, named by
    where. Every method returns True when the value passed.
    """

    def __init__(self, values, context=None):
        self.values = dict(values or {})
        self.context = dict(context or {})
        self.errors = []

    def defined(self, name):
        return name in self.values

    def get(self, name, default=None):
        return self.values.get(name, default)

    def error(self, where, reason):
        self.errors.append('%s: %s' % (where, reason))
        return False

    def item(self, where, check, value, *args, **kwargs):
        reason = check(value, *args, **kwargs)
        if reason:
            return self.error(where, reason)
        return True

    def check(self, name, check, *args, **kwargs):
        if name not in self.values:
            return True
        return self.item(name, check, self.values[name], *args, **kwargs)

    def bools(self, *names):
        for name in names:
            self.check(name, not_bool)

    def list_of(self, name, check, *args, **kwargs):
        """A list whose every item passes check; items named <name>[<index>]."""
        if name not in self.values:
            return True
        value = self.values[name]
        if not self.item(name, not_list, value):
            return False
        ok = True
        for index, entry in enumerate(value):
            ok = self.item('%s[%d]' % (name, index), check, entry, *args, **kwargs) and ok
        return ok

    def bool_value(self, name, default=False):
        value = as_bool(self.values.get(name, default))
        return default if value is None else value

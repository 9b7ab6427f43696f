# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It runs on the controller (filters) and on managed hosts (module conda_prefix_info),
# so it is pure Python >= 3.9 with no third-party imports.

"""What the collection knows about conda distributions and their constructor installers.

Plain data plus small pure functions used by the role labops.dlstack.conda (through the filters in
plugins/filter/conda.py) and by the module labops.dlstack.conda_prefix_info. Sources are the
research notes shared/research/conda-pytorch-probe.md (A.2 installers, A.3 .condarc, table T1),
which cite:

- conda-forge/miniforge README and scripts/build.sh: release URL layout
  .../releases/download/<ver>/Miniforge3-<ver>-<OS>-<arch>.sh and the published
  `<installer>.sha256` sidecar written by `sha256sum <installer> > <installer>.sha256`;
- conda/constructor header.sh: the installer CLI (-b batch, -p PREFIX, -u update in place, -h help)
  and its refusal of an existing prefix without -u;
- Anaconda's ToS plugin (conda-anaconda-tos): channels https://repo.anaconda.com/pkgs/main and
  /pkgs/r need acceptance; CONDA_PLUGINS_AUTO_ACCEPT_TOS=yes (condarc: plugins.auto_accept_tos)
  accepts non-interactively (pytorch/pytorch#158438, NVIDIA/cudf-spark#13114).

Vocabulary: "installer version" is the distribution's release tag ("26.3.2-3" for Miniforge,
"py313_26.7.1-1" for Miniconda, "2025.06-0" for Anaconda); "conda version" is the version of the
conda package that release ships ("26.3.2"); the role records what it installed in a marker file
(MARKER_NAME) at the prefix root and reads it back to stay idempotent.
"""

from __future__ import annotations

import json
import os
import re

MARKER_NAME = '.labops-dlstack-installer.json'
# Created next to (not inside) a prefix while its first installation runs; found later, it means
# that run was interrupted and the prefix is a leftover to remove before installing again.
INCOMPLETE_SUFFIX = '.labops-dlstack-incomplete'


# Per distribution: where its installers live, how they are named, what a batch install gives.
DISTRIBUTIONS = {
    'miniforge': {
        'default_version': '26.3.2-3',  # research A.2: latest tag of conda-forge/miniforge (2026-07)
        'base_url': 'https://github.com/conda-forge/miniforge/releases/download',
        'url_template': '{base}/{version}/{filename}',
        'file_template': 'Miniforge3-{version}-{os}-{arch}.sh',
        'sha256_sidecar': True,  # every release uploads <installer>.sha256 (scripts/build.sh)
        'prefix_name': 'miniforge3',
        'channels': ['conda-forge'],
        'needs_tos': False,
        'package_channel': 'conda-forge',
    },
    'miniconda': {
        'default_version': 'py313_26.7.1-1',  # research A.2: newest Miniconda3 seen in the index
        'base_url': 'https://repo.anaconda.com/miniconda',
        'url_template': '{base}/{filename}',
        'file_template': 'Miniconda3-{version}-{os}-{arch}.sh',
        'sha256_sidecar': False,  # the checksum is on the index page; sidecar files are unverified
        'prefix_name': 'miniconda3',
        'channels': ['defaults'],
        'needs_tos': True,
        'package_channel': 'pkgs/main',
    },
    'anaconda': {
        'default_version': '',  # no pin known to the collection: conda_version must be set
        'base_url': 'https://repo.anaconda.com/archive',
        'url_template': '{base}/{filename}',
        'file_template': 'Anaconda3-{version}-{os}-{arch}.sh',
        'sha256_sidecar': False,
        'prefix_name': 'anaconda3',
        'channels': ['defaults'],
        'needs_tos': True,
        'package_channel': 'pkgs/main',
    },
    'custom': {
        # Any constructor-built installer: conda_installer_url, _src or _path names it.
        'default_version': '',
        'base_url': '',
        'url_template': '',
        'file_template': '',
        'sha256_sidecar': True,  # only used when conda_installer_sha256_url is given
        'prefix_name': 'conda',
        'channels': ['conda-forge'],
        'needs_tos': False,
        'package_channel': '',
    },
}

# ansible_facts['architecture'] -> the arch part of an installer name (Linux builds only).
ARCHES = {
    'x86_64': 'x86_64',
    'amd64': 'x86_64',
    'aarch64': 'aarch64',
    'arm64': 'aarch64',
    'ppc64le': 'ppc64le',
}

_SHA256_RE = re.compile(r'^[0-9a-fA-F]{64}$')
_USER_RE = re.compile(r'^[a-z_][a-z0-9_.-]*[$]?$')
_VERSION_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._+-]*$')
# "26.3.2-3" -> conda 26.3.2; "py313_26.7.1-1" -> conda 26.7.1
_CONDA_FROM_INSTALLER_RE = re.compile(r'^(?:py\d+_)?(\d+(?:\.\d+)+)(?:-\d+)?$')


def is_sha256(value):
    """True for 64 hex digits."""
    return isinstance(value, str) and bool(_SHA256_RE.match(value))


def conda_version_of(distribution, installer_version):
    """The conda version a Miniforge/Miniconda release ships ('26.3.2-3' -> '26.3.2'), or ''.

    Anaconda and custom installers are versioned independently of conda: ''.
    """
    if distribution not in ('miniforge', 'miniconda'):
        return ''
    match = _CONDA_FROM_INSTALLER_RE.match(installer_version or '')
    return match.group(1) if match else ''


def parse_sha256_sidecar(text, filename=''):
    """The checksum in a `sha256sum` output ('<hex>  <file>' lines, or a bare hex), lower case.

    With several lines, the one naming `filename` wins. Returns '' when none is found.
    """
    candidates = []
    for line in (text or '').splitlines():
        parts = line.strip().split()
        if not parts or not is_sha256(parts[0]):
            continue
        name = parts[1].lstrip('*') if len(parts) > 1 else ''
        candidates.append((parts[0].lower(), os.path.basename(name)))
    if filename:
        for digest, name in candidates:
            if name == filename:
                return digest
        # A bare checksum (no file name) is accepted only when it is the whole file.
        if len(candidates) == 1 and not candidates[0][1]:
            return candidates[0][0]
        return ''
    return candidates[0][0] if len(candidates) == 1 else ''


def installer_source(distribution, version='', architecture='x86_64', system='Linux', url='', mirror='',
                     sha256='', sha256_url='', src='', path='', accept_tos=False):
    """Where the installer comes from and how it is checked.

    Returns a dict: kind ('url', 'src' or 'path'), location (URL, controller path or host path),
    filename (its name in the host cache), version, conda_version, sha256 (pinned, lower case, or ''),
    sha256_url (sidecar to read when sha256 is ''), sha256_file (sidecar next to src/path),
    needs_tos, and errors (a list of messages naming the variable at fault; empty when valid).
    """
    errors = []
    info = DISTRIBUTIONS.get(distribution)
    if info is None:
        return {'errors': ['conda_distribution: %r is not one of %s' % (distribution, ', '.join(sorted(DISTRIBUTIONS)))]}
    version = version or info['default_version']
    if not version:
        errors.append('conda_version: set the installer version to pin for conda_distribution %s (no default is known)' % distribution)
    elif not _VERSION_RE.match(version):
        errors.append('conda_version: %r is not a release tag (letters, digits, ".", "_", "+", "-")' % version)
    sources = [name for name, value in (('conda_installer_url', url), ('conda_installer_src', src), ('conda_installer_path', path)) if value]
    if len(sources) > 1:
        errors.append('%s: set only one installer source' % ' and '.join(sources))
    if sha256 and not is_sha256(sha256):
        errors.append('conda_installer_sha256: %r is not 64 hexadecimal digits' % sha256)
    if info['needs_tos'] and not accept_tos:
        errors.append('conda_accept_anaconda_tos: %s installs from Anaconda\'s channels, which need their Terms of Service '
                      'accepted (free only for organisations under 200 people); set it to true to accept, or use '
                      'conda_distribution: miniforge' % distribution)
    arch = ARCHES.get(architecture, '')
    if not arch and not (src or path or url):
        errors.append('conda_distribution: no %s installer is published for architecture %r (known: %s)'
                      % (distribution, architecture, ', '.join(sorted(set(ARCHES.values())))))

    result = {
        'distribution': distribution,
        'version': version,
        'conda_version': conda_version_of(distribution, version),
        'needs_tos': info['needs_tos'],
        'sha256': (sha256 or '').lower(),
        'sha256_url': '',
        'sha256_file': '',
        'kind': '',
        'location': '',
        'filename': '',
        'errors': errors,
    }
    if src or path:
        result['kind'] = 'src' if src else 'path'
        result['location'] = src or path
        result['filename'] = os.path.basename(src or path)
        if not result['sha256']:
            # An air-gapped lab ships the published sidecar next to the installer.
            result['sha256_file'] = (src or path) + '.sha256'
        if not result['filename'].endswith('.sh'):
            errors.append('%s: %r is not a constructor installer (*.sh)' % ('conda_installer_src' if src else 'conda_installer_path', src or path))
        if path and not os.path.isabs(path):
            errors.append('conda_installer_path: %r must be an absolute path on the host' % path)
        return result

    result['kind'] = 'url'
    if url:
        result['location'] = url
        result['filename'] = url.rstrip('/').rsplit('/', 1)[-1].split('?', 1)[0]
    elif distribution == 'custom':
        errors.append('conda_distribution: custom needs one of conda_installer_url, conda_installer_src or conda_installer_path')
        return result
    else:
        filename = info['file_template'].format(version=version, os=system, arch=arch or architecture)
        base = (mirror or info['base_url']).rstrip('/')
        result['filename'] = filename
        result['location'] = info['url_template'].format(base=base, version=version, filename=filename)
    if not re.match(r'^(https?|ftp|file)://', result['location']):
        errors.append('conda_installer_url / conda_installer_mirror: %r is not an http(s), ftp or file URL' % result['location'])
    if not result['filename'].endswith('.sh'):
        errors.append('conda_installer_url: %r does not name a constructor installer (*.sh)' % result['location'])
    if not result['sha256']:
        if sha256_url:
            result['sha256_url'] = sha256_url
        elif info['sha256_sidecar'] and distribution != 'custom':
            result['sha256_url'] = result['location'] + '.sha256'
        elif distribution == 'custom' and url:
            result['sha256_url'] = url + '.sha256'
        else:
            errors.append('conda_installer_sha256: %s publishes no .sha256 file next to its installers; pin the checksum '
                          '(from the download page) or set conda_installer_sha256_url' % distribution)
    return result


def _passwd_entry(passwd, name):
    entry = (passwd or {}).get(name)
    if not entry or len(entry) < 6:
        return None
    return {'uid': str(entry[1]), 'gid': str(entry[2]), 'home': entry[4], 'shell': entry[5]}


def user_plan(users, passwd, distribution='miniforge', state='present', channels=None, create_users=False):
    """One entry per item of conda_users, resolved against the host's passwd database.

    `users` is conda_users; `passwd` is getent's result (name -> [x, uid, gid, gecos, home, shell]).
    Each entry: name (also as user, the key conda_prefix_info's prefixes takes), state, prefix (absolute), home,
    uid, gid, channels, exists (user known), create (the role must create the user first). Returns {'users': [...], 'errors': [...]}.
    A missing user is an error for state present unless create_users; for state absent it is
    nothing to do (exists False).
    """
    errors = []
    planned = []
    seen = set()
    info = DISTRIBUTIONS.get(distribution) or DISTRIBUTIONS['miniforge']
    if not isinstance(users, list):
        return {'users': [], 'errors': ['conda_users: must be a list of {name, prefix, channels, state}']}
    for index, item in enumerate(users):
        if isinstance(item, str):
            item = {'name': item}
        if not isinstance(item, dict) or not item.get('name'):
            errors.append('conda_users[%d]: each item needs a name' % index)
            continue
        name = str(item['name'])
        unknown = sorted(set(item) - {'name', 'prefix', 'channels', 'state'})
        if unknown:
            errors.append('conda_users[%d] (%s): unknown keys %s; allowed: name, prefix, channels, state' % (index, name, ', '.join(unknown)))
        if not _USER_RE.match(name):
            errors.append('conda_users[%d]: %r is not a valid user name' % (index, name))
            continue
        if name in seen:
            errors.append('conda_users: %s is listed twice' % name)
            continue
        seen.add(name)
        user_state = item.get('state') or state
        if user_state not in ('present', 'absent'):
            errors.append('conda_users[%d] (%s): state %r is not present or absent' % (index, name, user_state))
            continue
        user_channels = item.get('channels') if item.get('channels') is not None else (channels or info['channels'])
        if not isinstance(user_channels, list) or not all(isinstance(c, str) and c for c in user_channels):
            errors.append('conda_users[%d] (%s): channels must be a list of channel names or URLs' % (index, name))
            continue
        entry = _passwd_entry(passwd, name)
        create = False
        if entry is None:
            if user_state == 'present' and not create_users:
                errors.append('conda_users: user %s does not exist on this host; create it first or set '
                              'conda_create_users: true' % name)
                continue
            create = user_state == 'present'
            entry = {'uid': '', 'gid': '', 'home': '/home/%s' % name, 'shell': '/bin/bash'}
        prefix = item.get('prefix') or info['prefix_name']
        if prefix.startswith('~/'):
            prefix = prefix[2:]
        if not os.path.isabs(prefix):
            prefix = os.path.join(entry['home'], prefix)
        prefix = os.path.normpath(prefix)
        if ' ' in prefix:
            errors.append('conda_users[%d] (%s): prefix %r contains a space; conda installers refuse those' % (index, name, prefix))
            continue
        if prefix in ('/', entry['home'], '/usr', '/opt', '/home') or prefix.count('/') < 2:
            errors.append('conda_users[%d] (%s): prefix %r would install conda over a system or home directory' % (index, name, prefix))
            continue
        planned.append({
            'name': name,
            'user': name,  # the key conda_prefix_info's prefixes read as whom to ask conda
            'state': user_state,
            'prefix': prefix,
            'home': entry['home'],
            'uid': entry['uid'],
            'gid': entry['gid'],
            'channels': list(user_channels),
            'exists': not create and _passwd_entry(passwd, name) is not None,
            'create': create,
            'incomplete_marker': prefix + INCOMPLETE_SUFFIX,
        })
    prefixes = [u['prefix'] for u in planned]
    for prefix in sorted(set(p for p in prefixes if prefixes.count(p) > 1)):
        errors.append('conda_users: prefix %s is given to more than one user' % prefix)
    return {'users': planned, 'errors': errors}


def detect_distribution(records):
    """Which distribution a prefix's conda-meta package records come from, or ''.

    `records` maps package name -> the record's `channel` (URL or name). An `anaconda` metapackage
    means Anaconda; otherwise the channel conda itself came from tells conda-forge (Miniforge)
    from Anaconda's pkgs/main (Miniconda).
    """
    if not records:
        return ''
    if 'anaconda' in records:
        return 'anaconda'
    channel = records.get('conda') or ''
    if 'conda-forge' in channel:
        return 'miniforge'
    if 'pkgs/main' in channel or channel == 'defaults':
        return 'miniconda'
    return ''


def prefix_actions(infos, users, wanted):
    """What to do with every user's prefix: {user name: prefix_action(...)}.

    `infos` are conda_prefix_info's results in the order of `users` (the plan's users, each with name, state and
    prefix); `wanted` has distribution, version, conda_version (the state comes from each user) and, optionally,
    installer: the installer's path on the host, which adds to each install, update or reinstall the installer's
    command line (argv, from installer_argv).
    """
    infos, users = list(infos or []), list(users or [])
    if len(infos) != len(users):
        raise ValueError('%d prefix reads for %d users' % (len(infos), len(users)))
    actions = {}
    for info, user in zip(infos, users):
        action = prefix_action(info, dict(wanted, state=user.get('state', 'present')))
        if wanted.get('installer') and action['action'] in ('install', 'update', 'reinstall'):
            action['argv'] = installer_argv(wanted['installer'], user['prefix'], action['action'])
        actions[user['name']] = action
    return actions


def prefix_action(info, wanted):
    """What to do with one user's prefix.

    `info` is conda_prefix_info's result; `wanted` has state, distribution, version, conda_version.
    Returns {'action': one of none/install/update/reinstall/remove/adopt, 'reason': str, 'error': str}.
    reinstall = remove a leftover of an interrupted first install, then install; adopt = a conda
    prefix installed without this role at the pinned conda version: record it, run nothing.
    """
    state = wanted.get('state', 'present')
    exists = bool(info.get('exists'))
    if state == 'absent':
        if exists or info.get('incomplete'):
            return {'action': 'remove', 'reason': 'state absent', 'error': ''}
        return {'action': 'none', 'reason': 'absent already', 'error': ''}
    if info.get('incomplete'):
        return {'action': 'reinstall', 'reason': 'an earlier installation was interrupted', 'error': ''}
    if not exists:
        return {'action': 'install', 'reason': 'no prefix', 'error': ''}
    marker = info.get('installer') or {}
    if marker:
        if marker.get('distribution') != wanted.get('distribution'):
            message = ('%s holds %s %s installed by this role; it will not be converted to %s. Remove it (state: absent) '
                       'or give this user another prefix.')
            return {'action': 'none', 'reason': '', 'error': message % (
                info.get('prefix'), marker.get('distribution'), marker.get('version'), wanted.get('distribution'))}
        if marker.get('version') == wanted.get('version') and info.get('conda_exe'):
            return {'action': 'none', 'reason': 'pinned version installed', 'error': ''}
        return {'action': 'update', 'reason': 'installed %s, pinned %s' % (marker.get('version'), wanted.get('version')), 'error': ''}
    if not info.get('is_conda'):
        return {'action': 'none', 'reason': '', 'error': (
            '%s exists and is not a conda installation; move it away or give this user another prefix '
            '(the installer refuses an existing directory).' % info.get('prefix'))}
    found = info.get('distribution') or ''
    if found and wanted.get('distribution') != 'custom' and found != wanted.get('distribution'):
        return {'action': 'none', 'reason': '', 'error': (
            '%s holds a %s installation made without this role; it will not be converted to %s. Remove it or give '
            'this user another prefix.' % (info.get('prefix'), found, wanted.get('distribution')))}
    if wanted.get('conda_version') and info.get('conda_version') == wanted.get('conda_version') and info.get('conda_exe'):
        return {'action': 'adopt', 'reason': 'conda %s already installed' % info.get('conda_version'), 'error': ''}
    return {'action': 'update', 'reason': 'conda %s installed without this role; pinned %s' % (
        info.get('conda_version') or 'unknown', wanted.get('version')), 'error': ''}


def installer_argv(installer, prefix, action):
    """The constructor installer's command line: batch (-b), prefix (-p), update in place (-u)."""
    argv = ['bash', installer, '-b', '-p', prefix]
    if action == 'update':
        argv.append('-u')
    return argv


def condarc(channels, channel_alias='', custom_channels=None, pkgs_dirs=None, envs_dirs=None, auto_activate=False,
            channel_priority='strict', proxy_servers=None, ssl_verify=True, accept_tos=False, extra=None):
    """The .condarc content as a dict (rendered with to_nice_yaml by the role's template).

    ssl_verify: True/False, or a CA bundle path (conda then verifies against that bundle).
    auto_activate is written under both its name since conda 25.5 and the older alias
    auto_activate_base, so old and new conda read it (research A.3).
    """
    data = {'channels': list(channels)}
    if channel_alias:
        data['channel_alias'] = channel_alias
    if custom_channels:
        data['custom_channels'] = dict(custom_channels)
    if channel_priority:
        data['channel_priority'] = channel_priority
    if pkgs_dirs:
        data['pkgs_dirs'] = list(pkgs_dirs)
    if envs_dirs:
        data['envs_dirs'] = list(envs_dirs)
    data['auto_activate'] = bool(auto_activate)
    data['auto_activate_base'] = bool(auto_activate)
    data['auto_update_conda'] = False
    if proxy_servers:
        data['proxy_servers'] = {k: v for k, v in sorted(proxy_servers.items()) if v}
    if isinstance(ssl_verify, str) and ssl_verify.lower() in ('true', 'false', 'yes', 'no'):
        ssl_verify = ssl_verify.lower() in ('true', 'yes')
    data['ssl_verify'] = ssl_verify
    if accept_tos:
        data['plugins'] = {'auto_accept_tos': True}
    for key, value in (extra or {}).items():
        data[key] = value
    return data


def parse_conda_info(text):
    """The fields the role uses from `conda info --json`, or {} for output that is not JSON."""
    try:
        data = json.loads(text or '')
    except ValueError:
        # conda may print progress or warnings before the JSON: take from the first '{'.
        start = (text or '').find('{')
        if start < 0:
            return {}
        try:
            data = json.loads(text[start:])
        except ValueError:
            return {}
    if not isinstance(data, dict):
        return {}
    return {
        'conda_version': data.get('conda_version') or '',
        # conda prints sys.version_info joined: "3.13.5.final.0" -> "3.13.5"
        'python_version': '.'.join(str(data.get('python_version') or '').split(' ', maxsplit=1)[0].split('.')[:3]),
        'root_prefix': data.get('root_prefix') or '',
        'platform': data.get('platform') or '',
        'channels': list(data.get('channels') or []),
        'envs': list(data.get('envs') or []),
        # the stand-in installer of the tests and the demo (molecule/conda/files) says it is one; a real
        # conda has no such key
        'stand_in': bool(data.get('stand_in')),
    }


def read_prefix(prefix):
    """What is at `prefix` (read-only): the data conda_prefix_info returns, minus `conda info`."""
    result = {
        'prefix': prefix,
        'exists': os.path.lexists(prefix),
        'is_conda': False,
        'conda_exe': '',
        'installer': {},
        'conda_version': '',
        'python_version': '',
        'distribution': '',
        'incomplete': os.path.lexists(prefix + INCOMPLETE_SUFFIX),
        'owner_uid': None,
    }
    if not result['exists']:
        return result
    try:
        result['owner_uid'] = os.lstat(prefix).st_uid
    except OSError:
        pass
    meta = os.path.join(prefix, 'conda-meta')
    result['is_conda'] = os.path.isdir(meta)
    exe = os.path.join(prefix, 'bin', 'conda')
    if os.path.isfile(exe) and os.access(exe, os.X_OK):
        result['conda_exe'] = exe
    marker = os.path.join(prefix, MARKER_NAME)
    if os.path.isfile(marker):
        try:
            with open(marker, encoding='utf-8') as handle:
                data = json.load(handle)
            if isinstance(data, dict):
                result['installer'] = data
        except (OSError, ValueError):
            result['installer'] = {}
    records = {}
    if result['is_conda']:
        try:
            names = sorted(os.listdir(meta))
        except OSError:
            names = []
        for filename in names:
            if not filename.endswith('.json'):
                continue
            name = filename[:-5].rsplit('-', 2)[0]
            if name not in ('conda', 'python', 'anaconda'):
                continue
            try:
                with open(os.path.join(meta, filename), encoding='utf-8') as handle:
                    record = json.load(handle)
            except (OSError, ValueError):
                continue
            if not isinstance(record, dict):
                continue
            records[record.get('name') or name] = str(record.get('channel') or record.get('schannel') or '')
            if (record.get('name') or name) == 'conda':
                result['conda_version'] = str(record.get('version') or '')
            elif (record.get('name') or name) == 'python':
                result['python_version'] = str(record.get('version') or '')
    result['distribution'] = detect_distribution(records)
    return result


def verify_summary(results, installer, users=None):
    """What each user's conda is, from conda_prefix_info's reads in the role's verify.

    results: conda_prefix_info's prefixes (one task with prefixes: then `users` is the plan's entries in the same
    order), or the results of a loop of it (each with the user's plan entry under __conda_user; skipped items,
    as in check mode, are left out); installer: the role's installer decision (version, conda_version).
    Returns one dict per user: user, prefix, owner (the user's name, or 'uid N' when someone else owns
    the prefix), distribution, version (the installer release recorded in the prefix), conda_version,
    python_version, stand_in, ok and message (what the role asserts, in words).
    """
    out = []
    results = list(results or [])
    if users is not None and len(users) != len(results):
        raise ValueError('%d prefix reads for %d users' % (len(results), len(users)))
    for index, res in enumerate(results):
        user = users[index] if users is not None else res.get('__conda_user') or {}
        if res.get('skipped') or not user:
            continue
        info = res.get('conda_info') or {}
        recorded = (res.get('installer') or {}).get('version') or ''
        conda_version = info.get('conda_version') or res.get('conda_version') or ''
        owner_ok = res.get('owner_uid') is not None and str(res.get('owner_uid')) == str(user.get('uid'))
        problems = []
        if recorded != installer.get('version'):
            problems.append('holds %s, expected %s' % (recorded or 'no recorded installation', installer.get('version')))
        if info.get('root_prefix') != user.get('prefix'):
            problems.append('conda answers from root prefix %s' % (info.get('root_prefix') or '?'))
        if installer.get('conda_version') and conda_version != installer['conda_version']:
            problems.append('conda %s, expected %s' % (conda_version or '?', installer['conda_version']))
        if not owner_ok:
            problems.append('owned by uid %s, not %s' % (res.get('owner_uid'), user.get('name')))
        entry = {
            'user': user.get('name'), 'prefix': user.get('prefix'),
            'owner': user.get('name') if owner_ok else 'uid %s' % res.get('owner_uid'),
            'distribution': res.get('distribution') or (res.get('installer') or {}).get('distribution') or '',
            'version': recorded, 'conda_version': conda_version,
            'python_version': info.get('python_version') or res.get('python_version') or '',
            'stand_in': bool(info.get('stand_in')), 'ok': not problems,
        }
        entry['message'] = 'conda (%s): %s %s' % (
            entry['user'], entry['prefix'], '; '.join(problems) if problems else
            'is %s %s (conda %s), owned by %s' % (entry['distribution'] or 'conda', recorded, conda_version, entry['owner']))
        out.append(entry)
    return out

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. Controller only (the action labops.dlstack.role_plan and the filter labops.dlstack.role_input_errors).

"""The input rules of each role: every public variable, by type and by meaning, before anything changes.

One function per role (ROLES), each applying the shared checks of _validate.py to that role's
variables and adding what only that role knows (a conda release tag per distribution, a conda prefix
where its user can own it, a matmul that fits the device). Each role hands all its variables to its
labops.dlstack.role_plan task (or, in tasks/validate.yml, to the filter labops.dlstack.role_input_errors),
which runs the function and returns the messages; the play stops on the first host with any, before the
role changes anything.

Rules are checked whether or not this run uses the value (an index URL when offline, a mirror when a
controller file is the installer), so an inventory error shows on the first run, not on the first run
that needs the value. VARIABLES lists what each function covers; tests/unit checks it equals the
role's meta/argument_specs.yml, so a new variable cannot go without a rule.

context (what the host and the controller tell, all optional; a check that needs a missing one is
skipped): passwd (ansible_facts['getent_passwd']), search_path (ansible_search_path: where a relative
controller src is looked up), gpu (ansible_facts['dlstack_gpu']), memtotal_mb (ansible_facts['memtotal_mb']),
missing_files (the files the role's variables name that its preflight did not find on the host) and
installed_kernels (the kernel releases under /lib/modules; None when not read). What those two refuse
(HOST_RULES) is said once the variables pass, after every variable's own error.
"""

from __future__ import annotations

import os
import re

from ansible_collections.labops.dlstack.plugins.module_utils import _validate as v

try:
    from packaging.utils import canonicalize_name
except ImportError:  # pragma: no cover - ansible-core always brings packaging on the controller
    def canonicalize_name(name):
        return re.sub(r'[-_.]+', '-', name).lower()

_NAME_RE = r'^[A-Za-z0-9][A-Za-z0-9._-]*$'
_CERT_NAME_RE = r'^[A-Za-z0-9][A-Za-z0-9._-]*$'
_PEM_CERT = '-----BEGIN CERTIFICATE-----'
_PGP_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----'
_PGP_END = '-----END PGP PUBLIC KEY BLOCK-----'

APT_CREDENTIALS = ('the apt source file it is written into is readable by every user; keep the URI without '
                   'credentials and put them in /etc/apt/auth.conf.d/<name>.conf (mode 0600, apt_auth.conf(5))')
INDEX_CREDENTIALS = ('it would be written into the shared layer\'s record (<pytorch_env_root>/pytorch/layers/*/'
                     'labops-dlstack-layer.json, readable by every user) and shown in the process list; keep the URL '
                     'without credentials and put them in ~/.netrc (mode 0600) of root, who builds the layers, and '
                     'of each user, whose pip installs the extra packages (uv and pip read it)')


def _not_granted_dir(value):
    """A directory the inventory grants users: absolute; a shared system directory only per user ({user})."""
    problem = v.not_abs_path(value, what='an absolute directory ({user} = the user name, as in /scratch/{user})')
    if problem or '{user}' in value:
        return problem
    if v.not_system_dir(value):
        return ('%s would let every user own files in a directory the system or other users own; accepted: a '
                'directory of the lab\'s own (/scratch) or one per user (/scratch/{user})' % v.show(value))
    return None


def _granted_dirs(inputs, name):
    return inputs.list_of(name, _not_granted_dir)


def _passwd_home(context, user):
    """(known, home): known False when no user database was given; home None for a missing user."""
    passwd = context.get('passwd')
    if passwd is None:
        return False, None
    entry = passwd.get(user)
    if not entry or len(entry) < 5:
        return True, None
    return True, entry[4]


def _item_label(item, key, index):
    """The name a list item is known by in messages: its key's value, or its index."""
    if isinstance(item, dict) and v.is_str(item.get(key)) and item.get(key):
        return item[key]
    if v.is_str(item) and item:
        return item
    return str(index)


def _named_items(inputs, name, keys, shape, name_re, name_accepted, what, list_shape=None):
    """The items of a list of mappings named by their 'name' key: checks that it is a list of mappings with
    the given keys only, each named by a unique name matching name_re; yields (where, item) for each mapping."""
    if not inputs.defined(name) or not inputs.item(name, v.not_list, inputs.get(name), 'a list of %s' % (list_shape or shape)):
        return
    seen = set()
    for index, item in enumerate(inputs.get(name)):
        where = '%s[%s]' % (name, _item_label(item, 'name', index))
        if not inputs.item(where, v.not_dict, item, shape):
            continue
        extra = v.unknown_keys(item, keys)
        if extra:
            inputs.error(where, 'unknown keys %s; accepted keys: %s' % (', '.join(extra), ', '.join(keys)))
        if inputs.item(where + '.name', v.not_matching, item.get('name'), name_re, name_accepted):
            if item['name'] in seen:
                inputs.error(where + '.name', 'is used by two %s; accepted: a name of its own' % what)
            seen.add(item['name'])
        yield where, item


# --------------------------------------------------------------------------------------------------
# ca_trust
# --------------------------------------------------------------------------------------------------

def ca_trust(inputs):
    inputs.bools('ca_trust_configure_pip')
    for where, cert in _named_items(inputs, 'ca_trust_certificates', ('name', 'src', 'content'),
                                    '{name, src} or {name, content}', _CERT_NAME_RE,
                                    'a file name of letters, digits, ".", "_" or "-"', 'certificates',
                                    list_shape='{name, src or content}'):
        src, content = cert.get('src') or '', cert.get('content') or ''
        if bool(src) == bool(content):
            inputs.error(where, 'needs exactly one of src (a PEM file on the controller) or content (PEM text)')
            continue
        if content:
            if inputs.item(where + '.content', v.not_str, content, single_line=False) and _PEM_CERT not in content:
                inputs.error(where + '.content', 'holds no PEM certificate; accepted: text with %s' % _PEM_CERT)
            continue
        if not inputs.item(where + '.src', v.not_controller_file, src, inputs.context.get('search_path')):
            continue
        found = v.find_on_controller(src, inputs.context.get('search_path'))
        try:
            with open(found, 'rb') as handle:
                head = handle.read(1 << 20)
        except (OSError, IOError) as exc:
            inputs.error(where + '.src', '%s cannot be read on the controller (%s)' % (v.show(src), exc))
            continue
        if _PEM_CERT.encode('ascii') not in head:
            inputs.error(where + '.src', '%s%s holds no PEM certificate; accepted: a file with %s'
                         % (v.show(src), '' if found == src else ' (%s)' % found, _PEM_CERT))


# --------------------------------------------------------------------------------------------------
# apt_components, nvidia_repo
# --------------------------------------------------------------------------------------------------

def apt_components(inputs):
    for name in ('apt_components_mirror', 'apt_components_security_mirror'):
        inputs.check(name, v.not_apt_uri, credentials_hint=APT_CREDENTIALS)
    keyring = inputs.get('apt_components_keyring')
    if inputs.defined('apt_components_keyring') and keyring not in ('auto', ''):
        inputs.check('apt_components_keyring', v.not_abs_path,
                     what='auto, "" (no Signed-By) or the absolute path of a keyring')
    inputs.bools('apt_components_update_cache')


# apt stores a pin's priority in a signed short (apt-pkg/policy.h: `signed short Priority`).
APT_PRIORITY = (-32768, 32767)


def nvidia_repo(inputs):
    inputs.check('nvidia_repo_state', v.not_choice, ('present', 'absent'))
    inputs.check('nvidia_repo_base_url', v.not_url, v.WEB_FILE, credentials_hint=APT_CREDENTIALS)
    inputs.check('nvidia_repo_url', v.not_url, v.WEB_FILE, empty=True, credentials_hint=APT_CREDENTIALS)
    inputs.check('nvidia_repo_distro', v.not_choice, ('', 'debian12', 'debian13', 'ubuntu2204', 'ubuntu2404'))
    inputs.check('nvidia_repo_arch', v.not_choice, ('', 'x86_64', 'sbsa'))
    inputs.check('nvidia_repo_key_url', v.not_url, v.WEB_FILE, empty=True)
    key = inputs.get('nvidia_repo_key_content')
    if inputs.defined('nvidia_repo_key_content') and key != '':
        if inputs.check('nvidia_repo_key_content', v.not_str, single_line=False) and not (_PGP_BEGIN in key and _PGP_END in key):
            inputs.error('nvidia_repo_key_content', 'is not an ASCII-armoured key; accepted: "" or text from %s to %s'
                         % (_PGP_BEGIN, _PGP_END))
    if inputs.defined('nvidia_repo_key_checksum') and inputs.get('nvidia_repo_key_checksum') != '':
        inputs.check('nvidia_repo_key_checksum', v.not_digest)
    # "" = the key of the repository directory (debian13: 8793F200, the others 3BF863CC; _nvidia_driver.nvidia_repo_key)
    if inputs.defined('nvidia_repo_key_fingerprint') and inputs.get('nvidia_repo_key_fingerprint') != '':
        inputs.check('nvidia_repo_key_fingerprint', v.not_matching, r'^[0-9A-Fa-f]{40}$',
                     '"" (the platform\'s key) or the 40 hexadecimal digits of the key fingerprint, without spaces')
    inputs.check('nvidia_repo_priority', v.not_int, APT_PRIORITY[0], APT_PRIORITY[1], '(apt pin priority)')
    inputs.check('nvidia_repo_release_label', v.not_str, empty=False)
    inputs.bools('nvidia_repo_update_cache')
    for where, pref in _named_items(inputs, 'nvidia_repo_preferences', ('name', 'package', 'pin', 'priority'),
                                    '{name, package, pin, priority}', r'^[A-Za-z0-9-]+$',
                                    'letters, digits and "-" (the preferences file name)', 'items'):
        inputs.item(where + '.package', v.not_str, pref.get('package'), empty=False)
        inputs.item(where + '.pin', v.not_matching, pref.get('pin'), r'^(version|release|origin) \S.*$',
                    'an apt Pin line such as "version 580.*", "release l=NVIDIA CUDA" or "origin host.example"')
        inputs.item(where + '.priority', v.not_int, pref.get('priority'), APT_PRIORITY[0], APT_PRIORITY[1],
                    '(apt pin priority)')


# --------------------------------------------------------------------------------------------------
# nvidia_driver
# --------------------------------------------------------------------------------------------------

def nvidia_driver(inputs):
    inputs.check('nvidia_driver_state', v.not_choice, ('present', 'absent'))
    inputs.check('nvidia_driver_source', v.not_choice, ('distro', 'nvidia'))
    inputs.check('nvidia_driver_flavour', v.not_choice, ('auto', 'open', 'proprietary'))
    inputs.check('nvidia_driver_kernel_module_type', v.not_choice, ('auto', 'precompiled', 'dkms'))
    inputs.check('nvidia_driver_reboot', v.not_choice, ('auto', 'never'))
    if inputs.defined('nvidia_driver_branch'):
        branch = inputs.get('nvidia_driver_branch')
        branch = str(branch) if isinstance(branch, int) and not isinstance(branch, bool) else branch
        inputs.item('nvidia_driver_branch', v.not_matching, branch, r'^(auto|[3-9]\d\d)$',
                    'auto, or a driver branch number such as "580"')
    inputs.bools('nvidia_driver_ubuntu_server', 'nvidia_driver_require_gpu', 'nvidia_driver_install_without_gpu',
                 'nvidia_driver_keep_satisfying',
                 'nvidia_driver_hold', 'nvidia_driver_unattended_upgrades_blacklist', 'nvidia_driver_blacklist_nouveau',
                 'nvidia_driver_persistenced', 'nvidia_driver_debian_components')
    if inputs.get('nvidia_driver_kernel_release') not in (None, ''):
        # `uname -r`: 6.1.0-40-amd64 (Debian), 6.12.48+deb13-amd64, 6.8.0-49-generic (Ubuntu)
        inputs.check('nvidia_driver_kernel_release', v.not_matching, r'^[0-9]+\.[0-9]+[A-Za-z0-9._+~-]*$',
                     'empty (the running kernel), or the `uname -r` of an installed kernel such as "6.1.0-40-amd64"')
    inputs.check('nvidia_driver_reboot_timeout', v.not_int, 1, v.DAY, 'seconds')
    # the batches of site.yml: an inventory group name (ansible's TRANSFORM_INVALID_GROUP_CHARS rule)
    if inputs.get('nvidia_driver_batch_group') not in (None, ''):
        if inputs.check('nvidia_driver_batch_group', v.not_matching, r'^[A-Za-z_][A-Za-z0-9_]*$',
                        'empty, or a group name of letters, digits and underscores such as "dlstack_driver_batches"') \
                and inputs.get('nvidia_driver_batch_group') in ('all', 'ungrouped'):
            inputs.error('nvidia_driver_batch_group', '%s is a group of every inventory; accepted: a group of its own '
                         'such as "dlstack_driver_batches"' % v.show(inputs.get('nvidia_driver_batch_group')))
    # running GPU jobs (issue #14): what to do, and how long and how often to wait for idle GPUs
    inputs.check('nvidia_driver_busy_policy', v.not_choice, ('defer', 'wait', 'proceed'))
    inputs.check('nvidia_driver_busy_wait_timeout', v.not_int, 1, 7 * v.DAY, 'seconds')
    inputs.check('nvidia_driver_busy_wait_poll', v.not_int, 1, v.DAY, 'seconds')
    inputs.bools('nvidia_driver_busy_sessions')
    if inputs.defined('nvidia_driver_busy_wait_timeout') and inputs.defined('nvidia_driver_busy_wait_poll'):
        timeout, poll = inputs.get('nvidia_driver_busy_wait_timeout'), inputs.get('nvidia_driver_busy_wait_poll')
        if isinstance(timeout, int) and isinstance(poll, int) and not isinstance(poll, bool) and poll > timeout:
            inputs.error('nvidia_driver_busy_wait_poll', '%d is longer than nvidia_driver_busy_wait_timeout (%d); '
                         'accepted: seconds up to the timeout' % (poll, timeout))
    for name in ('nvidia_driver_mok_key', 'nvidia_driver_mok_cert'):
        inputs.check(name, v.not_abs_path, empty=True, what='the absolute path of the file on the host')
    if inputs.defined('nvidia_driver_mok_key') and inputs.defined('nvidia_driver_mok_cert') \
            and bool(inputs.get('nvidia_driver_mok_key')) != bool(inputs.get('nvidia_driver_mok_cert')):
        inputs.error('nvidia_driver_mok_key / nvidia_driver_mok_cert', 'set both (the enrolled MOK on the host) or neither')
    report = inputs.get('nvidia_driver_report_path')
    if inputs.check('nvidia_driver_report_path', v.not_abs_path, empty=True,
                    what='the absolute path of a JSON file on the host') and report and report.endswith('/'):
        inputs.error('nvidia_driver_report_path', '%s names a directory; accepted: the path of a file' % v.show(report))


def nvidia_driver_host(values, context):
    """What nvidia_driver's preflight read on the host refuses: a MOK file that is not there
    (context['missing_files'], of nvidia_driver_mok_key and nvidia_driver_mok_cert) and a kernel release that is
    not installed (context['installed_kernels'], the names under /lib/modules; not checked when None)."""
    errors = []
    mok = [values.get(name) for name in ('nvidia_driver_mok_key', 'nvidia_driver_mok_cert') if values.get(name)]
    missing = [path for path in context.get('missing_files') or [] if path in mok]
    if missing:
        errors.append('nvidia_driver_mok_key / nvidia_driver_mok_cert: %s not found on the host.' % ', '.join(missing))
    release, kernels = values.get('nvidia_driver_kernel_release'), context.get('installed_kernels')
    if release and kernels is not None and release not in kernels:
        errors.append('nvidia_driver_kernel_release: kernel %s is not installed here (no /lib/modules/%s); installed: %s. '
                      'Install its linux-image package first, or leave the variable empty for the running kernel.'
                      % (release, release, ', '.join(sorted(kernels)) or 'none'))
    return errors


# --------------------------------------------------------------------------------------------------
# cuda_toolkit
# --------------------------------------------------------------------------------------------------

_CUDA_RE = r'^\d{1,2}\.\d{1,2}$'
_CUDA_ACCEPTED = 'a quoted "X.Y" CUDA version such as "12.8" (unquoted, YAML reads 12.10 as the number 12.1)'


def cuda_toolkit(inputs):
    inputs.check('cuda_toolkit_source', v.not_choice, ('distro', 'nvidia'))
    if inputs.list_of('cuda_toolkit_versions', v.not_matching, _CUDA_RE, _CUDA_ACCEPTED):
        versions = inputs.get('cuda_toolkit_versions') or []
        twice = sorted(set(x for x in versions if versions.count(x) > 1))
        if twice:
            inputs.error('cuda_toolkit_versions', 'lists %s twice; accepted: each version once' % ', '.join(twice))
    default = inputs.get('cuda_toolkit_default_version')
    if inputs.defined('cuda_toolkit_default_version') and default != '':
        inputs.check('cuda_toolkit_default_version', v.not_matching, _CUDA_RE, '"" or ' + _CUDA_ACCEPTED)
    inputs.bools('cuda_toolkit_build_only', 'cuda_toolkit_cudnn', 'cuda_toolkit_nccl',
                 'cuda_toolkit_distro_manage_sources', 'cuda_toolkit_profile_script', 'cuda_toolkit_verify')


# --------------------------------------------------------------------------------------------------
# conda
# --------------------------------------------------------------------------------------------------

# What a pinned release of each distribution looks like, as its installers are named (research
# conda-pytorch-probe.md A.2/T1): Miniforge release tags <conda version>-<build> (conda-forge/miniforge
# releases: 26.3.2-3, 24.11.3-2, 4.10.3-10); Miniconda py<XY>_<conda version>[-<build>]
# (repo.anaconda.com/miniconda: Miniconda3-py313_26.7.1-1-Linux-x86_64.sh, older py39_4.12.0);
# Anaconda <year>.<month>[-<build>] (repo.anaconda.com/archive: Anaconda3-2025.06-0-Linux-x86_64.sh,
# older 2022.05). A moving name such as `latest` (Miniconda3-latest-Linux-x86_64.sh) is not a pin.
CONDA_RELEASE_PATTERNS = {
    'miniforge': (r'^\d+\.\d+(\.\d+)*-\d+$', 'a Miniforge release tag such as 26.3.2-3'),
    'miniconda': (r'^py3\d{1,2}_\d+(\.\d+)+(-\d+)?$', 'a Miniconda release such as py313_26.7.1-1'),
    'anaconda': (r'^\d{4}\.\d{2}(-\d+)?$', 'an Anaconda release such as 2025.06-0'),
    'custom': (r'^(?=.*\d)[A-Za-z0-9][A-Za-z0-9._+-]*$', 'the installer\'s release tag, with its version number'),
}
# .condarc keys the role writes from its own variables: conda_condarc_extra must not set them behind them.
CONDARC_MANAGED = {
    'channels': 'conda_channels', 'channel_alias': 'conda_channel_alias', 'custom_channels': 'conda_custom_channels',
    'channel_priority': 'conda_channel_priority', 'pkgs_dirs': 'conda_pkgs_dirs', 'envs_dirs': 'conda_envs_dirs',
    'auto_activate': 'conda_auto_activate', 'auto_activate_base': 'conda_auto_activate',
    'proxy_servers': 'conda_proxy_servers', 'ssl_verify': 'conda_ssl_verify',
}
_PREFIX_NAMES = {'miniforge': 'miniforge3', 'miniconda': 'miniconda3', 'anaconda': 'anaconda3', 'custom': 'conda'}


def not_conda_release(value, distribution):
    pattern, accepted = CONDA_RELEASE_PATTERNS.get(distribution, CONDA_RELEASE_PATTERNS['custom'])
    if value == '':
        if distribution in ('miniforge', 'miniconda'):
            return None
        return 'is empty, and the collection pins no %s release; accepted: %s' % (distribution, accepted)
    if not v.is_str(value) or not re.match(pattern, value):
        return '%s is not a pinned %s release; accepted: %s%s' % (
            v.show(value), distribution, accepted,
            ', or "" for the collection\'s pin' if distribution in ('miniforge', 'miniconda') else '')
    return None


def not_conda_dir(value):
    """pkgs_dirs / envs_dirs entries: absolute, or below the home directory of whoever runs conda (~/...)."""
    if v.is_str(value) and value.startswith('~/'):
        problem = v.not_rel_subdir(value[2:], 'a directory below ~')
        return problem.replace(v.show(value[2:]), v.show(value), 1) if problem else None
    return v.not_abs_path(value, what='an absolute path or ~/...')


def not_proxy_url(value):
    return v.not_url(value, ('http', 'https', 'socks5', 'socks5h'))


def conda_prefix_of(item, home, distribution):
    """The absolute prefix of a conda_users item, as the role resolves it (relative = below the home)."""
    prefix = (item.get('prefix') if isinstance(item, dict) else None) or _PREFIX_NAMES.get(distribution, 'conda')
    if prefix.startswith('~/'):
        prefix = prefix[2:]
    if not prefix.startswith('/'):
        prefix = '%s/%s' % (home.rstrip('/'), prefix)
    return os.path.normpath(prefix)


def _conda_user(inputs, index, item, distribution, create, granted, seen):
    name = 'conda_users'
    label = _item_label(item, 'name', index)
    where = '%s[%s]' % (name, label)
    if isinstance(item, dict):
        extra = v.unknown_keys(item, ('name', 'prefix', 'channels', 'state'))
        if extra:
            inputs.error(where, 'unknown keys %s; accepted keys: name, prefix, channels, state' % ', '.join(extra))
        user = item.get('name')
    elif v.is_str(item):
        user = item
    else:
        return inputs.error(where, '%s is neither a user name nor a {name, prefix, channels, state} mapping' % v.show(item))
    if not inputs.item(where + ('.name' if isinstance(item, dict) else ''), v.not_user_name, user):
        return None
    if user in seen:
        return inputs.error(where, 'the user is listed twice; accepted: each user once')
    seen.add(user)
    spec = item if isinstance(item, dict) else {}
    if 'state' in spec:
        inputs.item(where + '.state', v.not_choice, spec['state'], ('present', 'absent'))
    if spec.get('channels') is not None:
        inputs.item(where + '.channels', _not_channels, spec['channels'])
    prefix = spec.get('prefix')
    if prefix is not None and not inputs.item(where + '.prefix', _not_prefix_text, prefix):
        return None
    known, home = _passwd_home(inputs.context, user)
    state = spec.get('state') or inputs.get('conda_state', 'present')
    if known and home is None:
        if state == 'present' and not create:
            return inputs.error(where, 'user %s does not exist on this host; accepted: an existing user, or set '
                                       'conda_create_users: true' % user)
        home = '/home/%s' % user  # what useradd --create-home gives the user the role creates
    if home is None:
        return None  # no user database: where the prefix lies is checked once it is known
    resolved = conda_prefix_of(spec, home, distribution)
    if state == 'present':
        inputs.item(where + '.prefix', v.outside_owned_dirs, resolved, user, home, granted, 'conda_allowed_prefix_dirs')
    return resolved


def _not_prefix_text(value):
    if not v.is_str(value) or not value:
        return '%s is not a path; accepted: an absolute path, or one relative to the home directory' % v.show(value)
    if ' ' in value:
        return '%s contains a space, which conda installers refuse; accepted: a path without spaces' % v.show(value)
    if '..' in value.split('/'):
        return '%s goes up with ".."; accepted: a path without ".."' % v.show(value)
    return None


def _not_channels(value):
    if not isinstance(value, list) or not all(v.is_str(c) and c.strip() and not re.search(r'\s', c) for c in value):
        return '%s is not a list of channels; accepted: a list of channel names or URLs' % v.show(value)
    return None


def conda(inputs):
    distribution = inputs.get('conda_distribution', 'miniforge')
    inputs.check('conda_distribution', v.not_choice, ('miniforge', 'miniconda', 'anaconda', 'custom'))
    inputs.check('conda_state', v.not_choice, ('present', 'absent'))
    inputs.bools('conda_create_users', 'conda_accept_anaconda_tos', 'conda_auto_activate', 'conda_shell_init')
    if distribution in CONDA_RELEASE_PATTERNS:
        inputs.check('conda_version', not_conda_release, distribution)
    # every installer source is checked, also those this run does not use
    inputs.check('conda_installer_mirror', v.not_url, ('http', 'https', 'ftp', 'file'), empty=True)
    url = inputs.get('conda_installer_url')
    if inputs.check('conda_installer_url', v.not_url, ('http', 'https', 'ftp', 'file'), empty=True) and url \
            and not url.split('?', 1)[0].rstrip('/').endswith('.sh'):
        inputs.error('conda_installer_url', '%s does not name a constructor installer; accepted: a URL ending in .sh' % v.show(url))
    inputs.check('conda_installer_sha256_url', v.not_url, ('http', 'https', 'ftp', 'file'), empty=True)
    src = inputs.get('conda_installer_src')
    if inputs.defined('conda_installer_src') and src != '':
        if inputs.check('conda_installer_src', v.not_controller_file, inputs.context.get('search_path')) \
                and not src.endswith('.sh'):
            inputs.error('conda_installer_src', '%s is not a constructor installer; accepted: a *.sh file' % v.show(src))
    path = inputs.get('conda_installer_path')
    if inputs.check('conda_installer_path', v.not_abs_path, empty=True, what='the absolute path of a *.sh installer on the host') \
            and path and not path.endswith('.sh'):
        inputs.error('conda_installer_path', '%s is not a constructor installer; accepted: a *.sh file' % v.show(path))
    if inputs.defined('conda_installer_sha256') and inputs.get('conda_installer_sha256') != '':
        inputs.check('conda_installer_sha256', v.not_sha256)
    if inputs.check('conda_cache_dir', v.not_abs_path, what='an absolute directory on the host'):
        inputs.check('conda_cache_dir', v.not_system_dir)
    inputs.check('conda_download_timeout', v.not_int, 1, v.DAY, 'seconds')
    inputs.check('conda_install_timeout', v.not_int, 1, v.DAY, 'seconds')
    inputs.check('conda_channels', _not_channels)
    inputs.check('conda_channel_alias', v.not_url, v.WEB_FILE, empty=True)
    if inputs.check('conda_custom_channels', v.not_dict, 'channel name -> base URL'):
        for channel, base in sorted((inputs.get('conda_custom_channels') or {}).items(), key=lambda kv: str(kv[0])):
            inputs.item('conda_custom_channels[%s]' % channel, v.not_url, base, v.WEB_FILE)
    inputs.check('conda_channel_priority', v.not_choice, ('strict', 'flexible', 'disabled', ''))
    inputs.list_of('conda_pkgs_dirs', not_conda_dir)
    inputs.list_of('conda_envs_dirs', not_conda_dir)
    if inputs.check('conda_proxy_servers', v.not_dict, 'scheme (http, https) -> proxy URL'):
        for scheme, proxy in sorted((inputs.get('conda_proxy_servers') or {}).items(), key=lambda kv: str(kv[0])):
            where = 'conda_proxy_servers[%s]' % scheme
            if inputs.item(where, v.not_matching, scheme, r'^(https?|all)(://\S+)?$',
                           'keys http, https, all or scheme://host'):
                inputs.item(where, not_proxy_url, proxy)
    verify = inputs.get('conda_ssl_verify')
    if inputs.defined('conda_ssl_verify') and verify != '' and v.as_bool(verify) is None:
        inputs.check('conda_ssl_verify', v.not_abs_path, what='true, false, "" or the absolute path of a CA bundle')
    if inputs.check('conda_condarc_extra', v.not_dict, '.condarc key -> value'):
        for key in sorted(str(k) for k in inputs.get('conda_condarc_extra') or {}):
            if key in CONDARC_MANAGED:
                inputs.error('conda_condarc_extra[%s]' % key, 'is written by the role from %s; accepted: set %s instead'
                             % (CONDARC_MANAGED[key], CONDARC_MANAGED[key]))
    granted = inputs.get('conda_allowed_prefix_dirs') or []
    if not _granted_dirs(inputs, 'conda_allowed_prefix_dirs'):
        granted = []
    users = inputs.get('conda_users')
    if inputs.defined('conda_users') and inputs.item('conda_users', v.not_list, users, 'a list of user names or {name, prefix, channels, state}'):
        seen, prefixes = set(), {}
        create = inputs.bool_value('conda_create_users')
        for index, item in enumerate(users):
            prefix = _conda_user(inputs, index, item, distribution, create, granted, seen)
            if prefix:
                prefixes.setdefault(prefix, []).append(_item_label(item, 'name', index))
        for prefix, owners in sorted(prefixes.items()):
            if len(owners) > 1:
                inputs.error('conda_users[%s].prefix' % owners[1], '%s is also the prefix of %s; accepted: a prefix of '
                                                                   'its own per user' % (prefix, owners[0]))


# --------------------------------------------------------------------------------------------------
# pytorch_env
# --------------------------------------------------------------------------------------------------

_PYTHON_RE = r'^3\.\d{1,2}$'
_TORCH_RE = r'^\d+\.\d+\.\d+$'
_VARIANT_RE = r'^(auto|cpu|cu\d{2,3}|rocm\d+(\.\d+)*|xpu)$'
_ENV_KEYS = ('name', 'backend', 'python', 'interpreter', 'torch_version', 'variant', 'torchvision', 'torchaudio',
             'packages', 'jupyter_kernel', 'path')
# Installed by the shared layer from pytorch_env_torch_version / _torchvision / _torchaudio: a second
# copy in packages would make each user download their own torch into their environment.
LAYER_PACKAGES = {'torch': 'pytorch_env_torch_version', 'torchvision': 'pytorch_env_torchvision',
                  'torchaudio': 'pytorch_env_torchaudio'}
# The verification matmul: two float32 matrices of side n and their product (3 * 4 * n^2 bytes).
MATMUL_MAX = 16384
MATMUL_BYTES_PER_ELEMENT = 3 * 4
MATMUL_MEMORY_SHARE = 4  # at most a quarter of the device's memory


def not_package(value):
    req, problem = v.requirement(value)
    if problem:
        return problem
    name = canonicalize_name(req.name)
    if name in LAYER_PACKAGES:
        return ('%s is installed by the shared layer; accepted: other packages (set %s instead)'
                % (v.show(value), LAYER_PACKAGES[name]))
    return None


def not_find_link(value):
    if v.is_str(value) and value.startswith('/'):
        return v.not_abs_path(value)
    problem = v.not_url(value, v.WEB_FILE, credentials_hint=INDEX_CREDENTIALS)
    if problem and 'is not a URL' in problem:
        return '%s is neither an absolute directory nor a URL; accepted: /srv/wheelhouse or https://...' % v.show(value)
    return problem


def matmul_limit(context):
    """(largest side, why) the verification matmul may have on this host, from the device's memory."""
    gpu = context.get('gpu') or {}
    if gpu.get('status') == 'ok':
        sizes = [g.get('memory_total_mib') for g in gpu.get('gpus') or [] if isinstance(g.get('memory_total_mib'), int)]
        if sizes:
            mib, device = min(sizes), 'the smallest GPU\'s %d MiB' % min(sizes)
        else:
            return MATMUL_MAX, None
    elif isinstance(context.get('memtotal_mb'), int) and context['memtotal_mb'] > 0:
        mib, device = context['memtotal_mb'], 'the host\'s %d MiB (the matmul runs on the CPU here)' % context['memtotal_mb']
    else:
        return MATMUL_MAX, None
    side = int(((mib << 20) // MATMUL_MEMORY_SHARE // MATMUL_BYTES_PER_ELEMENT) ** 0.5)
    return min(side, MATMUL_MAX), 'a quarter of %s' % device


def not_matmul_size(value, context):
    problem = v.not_int(value, 1, MATMUL_MAX, '(matrix side)')
    size = v.as_int(value)
    gib = MATMUL_BYTES_PER_ELEMENT * size * size / float(1 << 30) if size else 0
    if problem:
        return problem + ('; %s needs %.1f GiB for two float32 matrices and their product' % (size, gib) if size and size > MATMUL_MAX else '')
    limit, why = matmul_limit(context)
    if why and size > limit:
        return ('%d needs %.1f GiB for two float32 matrices and their product, more than %s; accepted on this host: '
                '1 to %d' % (size, gib, why, limit))
    return None


def _env_path_owned(inputs, where, path, user, home, granted, conda_prefix):
    also = [conda_prefix] if conda_prefix else []
    inputs.item(where, v.outside_owned_dirs, path, user, home, granted, 'pytorch_env_allowed_env_dirs', also=also)


def _pytorch_env(inputs, user, home, index, env, granted):
    label = _item_label(env, 'name', index)
    where = 'pytorch_env_users[%s].envs[%s]' % (user, label)
    if not inputs.item(where, v.not_dict, env, 'a mapping with at least name'):
        return None
    extra = v.unknown_keys(env, _ENV_KEYS)
    if extra:
        inputs.error(where, 'unknown keys %s; accepted keys: %s' % (', '.join(extra), ', '.join(_ENV_KEYS)))
    if not inputs.item(where + '.name', v.not_matching, env.get('name'), _NAME_RE, 'letters, digits, ".", "_" or "-"'):
        return None
    checks = (('backend', v.not_choice, (('venv', 'conda'),)),
              ('python', v.not_matching, (_PYTHON_RE, 'a Python version such as "3.12"')),
              ('torch_version', v.not_matching, (_TORCH_RE, 'a full torch release such as "2.13.0" (no variant tag)')),
              ('variant', v.not_matching, (_VARIANT_RE, 'auto, cpu or a CUDA variant such as cu128')),
              ('interpreter', v.not_abs_path, ()))
    for key, check, args in checks:
        if env.get(key) not in (None, ''):
            inputs.item('%s.%s' % (where, key), check, env[key], *args)
    for key in ('torchvision', 'torchaudio', 'jupyter_kernel'):
        if env.get(key) is not None:
            inputs.item('%s.%s' % (where, key), v.not_bool, env[key])
    if env.get('packages') is not None and inputs.item(where + '.packages', v.not_list, env['packages']):
        for p_index, package in enumerate(env['packages']):
            inputs.item('%s.packages[%d]' % (where, p_index), not_package, package)
    backend = env.get('backend') or inputs.get('pytorch_env_backend', 'venv')
    conda_prefix = (inputs.get('pytorch_env_conda_prefixes') or {}).get(user) if isinstance(
        inputs.get('pytorch_env_conda_prefixes'), dict) else None
    path = env.get('path')
    if path not in (None, ''):
        if inputs.item(where + '.path', v.not_abs_path, path, what='an absolute path on the host') and home:
            _env_path_owned(inputs, where + '.path', path, user, home, granted, conda_prefix)
    elif home and backend == 'conda' and conda_prefix and v.is_str(conda_prefix):
        _env_path_owned(inputs, where + '.path (default <conda prefix>/envs/%s)' % env['name'],
                        '%s/envs/%s' % (conda_prefix.rstrip('/'), env['name']), user, home, granted, None)
    return env['name']


def _pytorch_user(inputs, index, item, granted, seen):
    where = 'pytorch_env_users[%s]' % _item_label(item, 'user', index)
    if not inputs.item(where, v.not_dict, item, '{user, envs}'):
        return
    extra = v.unknown_keys(item, ('user', 'envs'))
    if extra:
        inputs.error(where, 'unknown keys %s; accepted keys: user, envs' % ', '.join(extra))
    user = item.get('user')
    if not inputs.item(where + '.user', v.not_user_name, user):
        return
    if user in seen:
        inputs.error(where, 'the user is listed twice; accepted: each user once, with all their envs')
        return
    seen.add(user)
    known, home = _passwd_home(inputs.context, user)
    if known and home is None:
        inputs.error(where, 'user %s does not exist on this host; accepted: an existing user (create it first, for '
                            'example with ansible.builtin.user)' % user)
        return
    envs = item.get('envs')
    if envs is None:
        return
    if not inputs.item(where + '.envs', v.not_list, envs, 'a non-empty list of {name, ...}') or not envs:
        if isinstance(envs, list):
            inputs.error(where + '.envs', 'is empty; accepted: leave it out for one env "pytorch", or list the envs')
        return
    names = []
    for e_index, env in enumerate(envs):
        name = _pytorch_env(inputs, user, home, e_index, env, granted)
        if name in names:
            inputs.error('%s.envs[%s]' % (where, name), 'the name is used twice; accepted: a name of its own')
        names.append(name)


def pytorch_env(inputs):
    inputs.check('pytorch_env_backend', v.not_choice, ('venv', 'conda'))
    if inputs.defined('pytorch_env_python') and inputs.get('pytorch_env_python') != '':
        inputs.check('pytorch_env_python', v.not_matching, _PYTHON_RE, '"" or a Python version such as "3.12"')
    inputs.check('pytorch_env_torch_version', v.not_matching, _TORCH_RE, 'a full torch release such as "2.13.0" (no variant tag)')
    inputs.check('pytorch_env_variant', v.not_matching, _VARIANT_RE, 'auto, cpu or a CUDA variant such as cu128')
    inputs.bools('pytorch_env_torchvision', 'pytorch_env_torchaudio', 'pytorch_env_jupyter_kernel', 'pytorch_env_offline',
                 'pytorch_env_verify', 'pytorch_env_require_cuda', 'pytorch_env_verify_only', 'pytorch_env_numpy')
    inputs.list_of('pytorch_env_packages', not_package)
    inputs.check('pytorch_env_venv_dir', v.not_rel_subdir)
    # sources: every one checked, also when pytorch_env_offline makes this run use none of them
    inputs.check('pytorch_env_index_url_template', v.not_url_template, ('variant',), credentials_hint=INDEX_CREDENTIALS)
    inputs.check('pytorch_env_index_url', v.not_url, v.WEB_FILE, empty=True, credentials_hint=INDEX_CREDENTIALS)
    inputs.list_of('pytorch_env_extra_index_urls', v.not_url, v.WEB_FILE, credentials_hint=INDEX_CREDENTIALS)
    inputs.list_of('pytorch_env_find_links', not_find_link)
    for name in ('pytorch_env_root', 'pytorch_env_cache_dir'):
        if inputs.check(name, v.not_abs_path, what='an absolute directory on the host'):
            inputs.check(name, v.not_system_dir)
    inputs.check('pytorch_env_uv_version', v.not_pep440_version)
    inputs.check('pytorch_env_system_site_packages_from', v.not_abs_path, empty=True,
                 what='the absolute path of a site-packages directory holding torch')
    if inputs.check('pytorch_env_conda_prefixes', v.not_dict, 'user -> absolute conda prefix'):
        for user, prefix in sorted((inputs.get('pytorch_env_conda_prefixes') or {}).items(), key=lambda kv: str(kv[0])):
            inputs.item('pytorch_env_conda_prefixes[%s]' % user, v.not_abs_path, prefix)
    inputs.check('pytorch_env_ca_bundle', v.not_abs_path, empty=True, what='the absolute path of a CA bundle on the host')
    inputs.check('pytorch_env_install_timeout', v.not_int, 1, 2 * v.DAY, 'seconds')
    inputs.check('pytorch_env_matmul_size', not_matmul_size, inputs.context)
    if inputs.check('pytorch_env_report_dir', v.not_str, empty=False) and inputs.get('pytorch_env_verify', True) in v.BOOLEANS_TRUE:
        _report_dir(inputs, 'pytorch_env_report_dir')  # the reports are written when the role verifies
    granted = inputs.get('pytorch_env_allowed_env_dirs') or []
    if not _granted_dirs(inputs, 'pytorch_env_allowed_env_dirs'):
        granted = []
    users = inputs.get('pytorch_env_users')
    if inputs.defined('pytorch_env_users') and inputs.item('pytorch_env_users', v.not_list, users, 'a list of {user, envs}'):
        seen = set()
        for index, item in enumerate(users):
            _pytorch_user(inputs, index, item, granted, seen)
        # an env without a path lives in ~/<pytorch_env_venv_dir>/<name>, below its user's home since
        # pytorch_env_venv_dir is checked to stay below it


# --------------------------------------------------------------------------------------------------
# fleet_report
# --------------------------------------------------------------------------------------------------

def _report_dir(inputs, name):
    """The controller directory the role writes reports to is not inside an inventory directory (given
    context['inventory_sources'], ansible_inventory_sources)."""
    sources = inputs.context.get('inventory_sources')
    if sources is None or not isinstance(inputs.get(name), str) or not inputs.get(name):
        return
    problem = v.report_dir_problem(inputs.get(name), sources, name)
    if problem:
        inputs.errors.append(problem)


def fleet_report(inputs):
    if inputs.check('fleet_report_dir', v.not_str, empty=False):
        _report_dir(inputs, 'fleet_report_dir')
    inputs.check('fleet_report_name', v.not_matching, _NAME_RE,
                 'a file base name of letters, digits, ".", "_" or "-" (no directory)')
    inputs.check('fleet_report_title', v.not_str)
    if inputs.check('fleet_report_hosts', v.not_list, 'a list of inventory host names'):
        inputs.list_of('fleet_report_hosts', v.not_str, empty=False)


# --------------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------------

ROLES = {
    'apt_components': apt_components,
    'ca_trust': ca_trust,
    'conda': conda,
    'cuda_toolkit': cuda_toolkit,
    'fleet_report': fleet_report,
    'nvidia_driver': nvidia_driver,
    'nvidia_repo': nvidia_repo,
    'pytorch_env': pytorch_env,
}

# The variables each function checks (tests/unit/plugins/module_utils/test_role_inputs.py compares
# them with every role's meta/argument_specs.yml).
VARIABLES = {
    'apt_components': ('apt_components_mirror', 'apt_components_security_mirror', 'apt_components_keyring',
                       'apt_components_update_cache'),
    'ca_trust': ('ca_trust_certificates', 'ca_trust_configure_pip'),
    'conda': ('conda_users', 'conda_state', 'conda_create_users', 'conda_distribution', 'conda_version',
              'conda_accept_anaconda_tos', 'conda_installer_mirror', 'conda_installer_url', 'conda_installer_src',
              'conda_installer_path', 'conda_installer_sha256', 'conda_installer_sha256_url', 'conda_cache_dir',
              'conda_download_timeout', 'conda_install_timeout', 'conda_channels', 'conda_channel_alias',
              'conda_custom_channels', 'conda_channel_priority', 'conda_pkgs_dirs', 'conda_envs_dirs',
              'conda_auto_activate', 'conda_proxy_servers', 'conda_ssl_verify', 'conda_condarc_extra',
              'conda_shell_init', 'conda_allowed_prefix_dirs'),
    'cuda_toolkit': ('cuda_toolkit_source', 'cuda_toolkit_versions', 'cuda_toolkit_default_version',
                     'cuda_toolkit_build_only', 'cuda_toolkit_cudnn', 'cuda_toolkit_nccl',
                     'cuda_toolkit_distro_manage_sources', 'cuda_toolkit_profile_script', 'cuda_toolkit_verify'),
    'fleet_report': ('fleet_report_dir', 'fleet_report_name', 'fleet_report_title', 'fleet_report_hosts'),
    'nvidia_driver': ('nvidia_driver_state', 'nvidia_driver_source', 'nvidia_driver_branch', 'nvidia_driver_flavour',
                      'nvidia_driver_kernel_module_type', 'nvidia_driver_ubuntu_server', 'nvidia_driver_require_gpu',
                      'nvidia_driver_install_without_gpu', 'nvidia_driver_kernel_release', 'nvidia_driver_keep_satisfying',
                      'nvidia_driver_reboot', 'nvidia_driver_reboot_timeout', 'nvidia_driver_batch_group',
                      'nvidia_driver_hold', 'nvidia_driver_unattended_upgrades_blacklist',
                      'nvidia_driver_blacklist_nouveau', 'nvidia_driver_persistenced', 'nvidia_driver_debian_components',
                      'nvidia_driver_mok_key', 'nvidia_driver_mok_cert', 'nvidia_driver_report_path',
                      'nvidia_driver_busy_policy', 'nvidia_driver_busy_wait_timeout', 'nvidia_driver_busy_wait_poll',
                      'nvidia_driver_busy_sessions'),
    'nvidia_repo': ('nvidia_repo_state', 'nvidia_repo_base_url', 'nvidia_repo_url', 'nvidia_repo_distro',
                    'nvidia_repo_arch', 'nvidia_repo_key_url', 'nvidia_repo_key_content', 'nvidia_repo_key_checksum',
                    'nvidia_repo_key_fingerprint', 'nvidia_repo_priority', 'nvidia_repo_release_label',
                    'nvidia_repo_preferences', 'nvidia_repo_update_cache'),
    'pytorch_env': ('pytorch_env_users', 'pytorch_env_backend', 'pytorch_env_python', 'pytorch_env_torch_version',
                    'pytorch_env_variant', 'pytorch_env_torchvision', 'pytorch_env_torchaudio', 'pytorch_env_packages',
                    'pytorch_env_jupyter_kernel', 'pytorch_env_venv_dir', 'pytorch_env_index_url_template',
                    'pytorch_env_index_url', 'pytorch_env_extra_index_urls', 'pytorch_env_find_links',
                    'pytorch_env_offline', 'pytorch_env_root', 'pytorch_env_cache_dir', 'pytorch_env_uv_version',
                    'pytorch_env_system_site_packages_from', 'pytorch_env_conda_prefixes', 'pytorch_env_ca_bundle',
                    'pytorch_env_install_timeout', 'pytorch_env_verify', 'pytorch_env_require_cuda',
                    'pytorch_env_matmul_size', 'pytorch_env_report_dir', 'pytorch_env_verify_only',
                    'pytorch_env_allowed_env_dirs', 'pytorch_env_numpy'),
}

# A role also checks the variables of the roles it includes, which the inventory may set although
# this run does not include them (nvidia_driver with source distro never includes nvidia_repo).
INCLUDES = {
    'nvidia_driver': ('apt_components', 'nvidia_repo'),
    'cuda_toolkit': ('apt_components', 'nvidia_repo'),
}


# What a role's tasks read on the host and hand over in the context (missing_files, installed_kernels) refuses:
# asked once every variable passes (a path that is not absolute is the variable's own error, not a missing file).
HOST_RULES = {
    'nvidia_driver': nvidia_driver_host,
}


def role_prefixes(role):
    """The variable prefixes a role's validation reads: its own and those of the roles it includes."""
    return [role] + list(INCLUDES.get(role, ()))


# What a role says on a platform its per-OS layers do not support (vars/main.yml, __<role>_platforms, merged by
# labops.dlstack._platform_vars and handed over as context['platform']; context['host'] names the host's OS).
UNSUPPORTED = {
    'apt_components': 'apt_components: no archive layout is known for {host}; supported are Debian and Ubuntu.',
    'ca_trust': 'ca_trust: no trust-store layout is known for {host}; supported are Debian and Ubuntu.',
    'conda': 'conda: {host} is not supported; supported are Debian and Ubuntu (Linux x86_64, aarch64, ppc64le).',
    'nvidia_repo': 'nvidia_repo: {host} has no apt known to the role; supported are Debian and Ubuntu.',
    'cuda_toolkit': 'cuda_toolkit: {host} is not supported; supported are Debian 12 and 13, Ubuntu 22.04 and 24.04.',
    'nvidia_driver': 'nvidia_driver: supported are Debian 12/13 and Ubuntu 22.04/24.04, not {host}.',
}


def platform_errors(role, values, context):
    """The platform's refusal, first of all messages: the role's layers say it is not supported, or (pytorch_env)
    no Python version is known for it and pytorch_env_python does not say one."""
    platform = (context or {}).get('platform')
    if not isinstance(platform, dict):
        return []
    host = (context or {}).get('host') or 'this platform'
    if role == 'pytorch_env':
        if not (values or {}).get('pytorch_env_python') and not platform.get('default_python'):
            return ['pytorch_env_python: no default Python version is known for %s; set pytorch_env_python '
                    '(for example "3.12").' % host]
        return []
    if role in UNSUPPORTED and not platform.get('supported'):
        return [UNSUPPORTED[role].format(host=host)]
    return []


def input_errors(role, values, context=None):
    """The messages of everything wrong in the variables of role (and of the roles it includes), the platform's
    refusal first when the context has the role's platform data; when there is none, what the role's tasks read on
    the host refuses (HOST_RULES)."""
    if role not in ROLES:
        raise ValueError('no input rules for role %r (known: %s)' % (role, ', '.join(sorted(ROLES))))
    errors = platform_errors(role, values, context)
    for name in role_prefixes(role):
        inputs = v.Inputs(dict((k, val) for k, val in (values or {}).items() if k in VARIABLES[name]), context)
        ROLES[name](inputs)
        errors.extend(inputs.errors)
    if not errors and role in HOST_RULES:
        errors.extend(HOST_RULES[role](dict(values or {}), dict(context or {})))
    return errors

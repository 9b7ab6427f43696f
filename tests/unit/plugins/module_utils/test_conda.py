# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/_conda.py (the conda role's decisions).

The fixtures under tests/unit/fixtures/conda are hand-written in the formats of real conda outputs
(no conda can be downloaded here); their README says so file by file.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import CONDA_INFO_MINIFORGE

from ansible_collections.labops.dlstack.plugins.module_utils import _conda

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'conda')
MF = 'Miniforge3-26.3.2-3-Linux-x86_64.sh'
MF_URL = 'https://github.com/conda-forge/miniforge/releases/download/26.3.2-3/' + MF
SHA = '28e1ab6c221cbc679a52f5de128df1296ce61997acf62f5478af5757efb6a899'


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


# --- versions and checksums -------------------------------------------------------------------

@pytest.mark.parametrize('distribution, version, expected', [
    ('miniforge', '26.3.2-3', '26.3.2'),
    ('miniforge', '24.11.0-1', '24.11.0'),
    ('miniconda', 'py313_26.7.1-1', '26.7.1'),
    ('miniconda', 'py39_4.12.0', '4.12.0'),
    ('anaconda', '2025.06-0', ''),
    ('custom', '1.0', ''),
    ('miniforge', 'latest', ''),
])
def test_conda_version_of(distribution, version, expected):
    assert _conda.conda_version_of(distribution, version) == expected


def test_sidecar_as_miniforge_publishes_it():
    assert _conda.parse_sha256_sidecar(fixture(MF + '.sha256'), MF) == SHA


@pytest.mark.parametrize('text, filename, expected', [
    (SHA + '  ' + MF + '\n', MF, SHA),
    (SHA.upper() + ' *' + MF + '\n', MF, SHA),                       # binary-mode marker, upper case
    (SHA + '\n', MF, SHA),                                          # a bare digest as the whole file
    (SHA + '  other.sh\n', MF, ''),                                 # the sidecar of another file
    ('0' * 64 + '  a.sh\n' + SHA + '  ' + MF + '\n', MF, SHA),      # SHA256SUMS-style list
    ('0' * 64 + '  a.sh\n' + SHA + '  ' + MF + '\n', '', ''),       # a list without a file name: ambiguous
    ('<html>Not Found</html>', MF, ''),
    ('', MF, ''),
    ('abc123  ' + MF, MF, ''),                                      # too short
    ('  ' + SHA + '  ./dist/' + MF + '\n', MF, SHA),                # a path before the name
])
def test_parse_sha256_sidecar(text, filename, expected):
    assert _conda.parse_sha256_sidecar(text, filename) == expected


# --- installer source -------------------------------------------------------------------------

def test_installer_default_is_pinned_miniforge_with_sidecar():
    assert _conda.installer_source('miniforge') == {
        'distribution': 'miniforge',
        'version': '26.3.2-3',
        'conda_version': '26.3.2',
        'needs_tos': False,
        'sha256': '',
        'sha256_url': MF_URL + '.sha256',
        'sha256_file': '',
        'kind': 'url',
        'location': MF_URL,
        'filename': MF,
        'errors': [],
    }


def test_installer_mirror_replaces_the_server_only():
    result = _conda.installer_source('miniforge', version='25.3.0-1', architecture='aarch64',
                                     mirror='http://mirror.lab/miniforge/')
    assert result['location'] == 'http://mirror.lab/miniforge/25.3.0-1/Miniforge3-25.3.0-1-Linux-aarch64.sh'
    assert result['sha256_url'] == result['location'] + '.sha256'
    assert result['errors'] == []


def test_installer_pinned_sha_skips_the_sidecar():
    result = _conda.installer_source('miniforge', sha256=SHA.upper())
    assert (result['sha256'], result['sha256_url'], result['errors']) == (SHA, '', [])


def test_miniconda_needs_tos_and_a_pinned_checksum():
    result = _conda.installer_source('miniconda')
    assert result['location'] == 'https://repo.anaconda.com/miniconda/Miniconda3-py313_26.7.1-1-Linux-x86_64.sh'
    assert result['errors'] == [
        "conda_accept_anaconda_tos: miniconda installs from Anaconda's channels, which need their Terms of Service "
        "accepted (free only for organisations under 200 people); set it to true to accept, or use "
        "conda_distribution: miniforge",
        'conda_installer_sha256: miniconda publishes no .sha256 file next to its installers; pin the checksum '
        '(from the download page) or set conda_installer_sha256_url',
    ]
    accepted = _conda.installer_source('miniconda', sha256=SHA, accept_tos=True)
    assert (accepted['errors'], accepted['needs_tos'], accepted['conda_version']) == ([], True, '26.7.1')


def test_anaconda_needs_a_version():
    result = _conda.installer_source('anaconda', sha256=SHA, accept_tos=True)
    assert result['errors'] == ['conda_version: set the installer version to pin for conda_distribution anaconda (no default is known)']
    ok = _conda.installer_source('anaconda', version='2025.06-0', sha256=SHA, accept_tos=True)
    assert ok['location'] == 'https://repo.anaconda.com/archive/Anaconda3-2025.06-0-Linux-x86_64.sh'
    assert ok['errors'] == []


def test_custom_needs_a_source():
    assert _conda.installer_source('custom', version='1.0')['errors'] == [
        'conda_distribution: custom needs one of conda_installer_url, conda_installer_src or conda_installer_path']
    url = 'https://files.lab/installers/LabConda-1.0-Linux-x86_64.sh'
    result = _conda.installer_source('custom', version='1.0', url=url)
    assert (result['filename'], result['sha256_url'], result['errors']) == ('LabConda-1.0-Linux-x86_64.sh', url + '.sha256', [])


def test_local_sources_read_the_sidecar_next_to_them():
    src = _conda.installer_source('miniforge', src='/srv/files/' + MF)
    assert (src['kind'], src['location'], src['filename'], src['sha256_file'], src['sha256_url']) == (
        'src', '/srv/files/' + MF, MF, '/srv/files/' + MF + '.sha256', '')
    path = _conda.installer_source('miniforge', path='/opt/drop/' + MF, sha256=SHA)
    assert (path['kind'], path['sha256'], path['sha256_file'], path['errors']) == ('path', SHA, '', [])


@pytest.mark.parametrize('kwargs, message', [
    ({'sha256': 'abc'}, "conda_installer_sha256: 'abc' is not 64 hexadecimal digits"),
    ({'src': '/a/' + MF, 'path': '/b/' + MF}, 'conda_installer_src and conda_installer_path: set only one installer source'),
    ({'path': 'relative/' + MF}, "conda_installer_path: 'relative/%s' must be an absolute path on the host" % MF),
    ({'path': '/srv/miniforge.tar.bz2'}, "conda_installer_path: '/srv/miniforge.tar.bz2' is not a constructor installer (*.sh)"),
    ({'version': 'bad version'}, "conda_version: 'bad version' is not a release tag (letters, digits, \".\", \"_\", \"+\", \"-\")"),
    ({'architecture': 's390x'}, "conda_distribution: no miniforge installer is published for architecture 's390x' (known: aarch64, ppc64le, x86_64)"),
    ({'mirror': 'mirror.lab'}, "conda_installer_url / conda_installer_mirror: 'mirror.lab/26.3.2-3/%s' is not an http(s), ftp or file URL" % MF),
])
def test_installer_errors_name_the_variable(kwargs, message):
    assert message in _conda.installer_source('miniforge', **kwargs)['errors']


def test_unknown_distribution():
    assert _conda.installer_source('mamba')['errors'] == ["conda_distribution: 'mamba' is not one of anaconda, custom, miniconda, miniforge"]


# --- users ------------------------------------------------------------------------------------

PASSWD = {
    'alice': ['x', '1001', '1001', '', '/home/alice', '/bin/bash'],
    'bob': ['x', '1002', '100', 'Bob', '/srv/home/bob', '/usr/bin/zsh'],
}


def test_user_plan_resolves_homes_and_prefixes():
    plan = _conda.user_plan(['alice', {'name': 'bob', 'prefix': 'tools/conda', 'channels': ['conda-forge', 'bioconda']}], PASSWD)
    assert plan == {'errors': [], 'users': [
        {'name': 'alice', 'user': 'alice', 'state': 'present', 'prefix': '/home/alice/miniforge3', 'home': '/home/alice', 'uid': '1001',
         'gid': '1001', 'channels': ['conda-forge'], 'exists': True, 'create': False,
         'incomplete_marker': '/home/alice/miniforge3.labops-dlstack-incomplete'},
        {'name': 'bob', 'user': 'bob', 'state': 'present', 'prefix': '/srv/home/bob/tools/conda', 'home': '/srv/home/bob', 'uid': '1002',
         'gid': '100', 'channels': ['conda-forge', 'bioconda'], 'exists': True, 'create': False,
         'incomplete_marker': '/srv/home/bob/tools/conda.labops-dlstack-incomplete'},
    ]}


def test_user_plan_defaults_follow_the_distribution():
    plan = _conda.user_plan([{'name': 'alice', 'prefix': '~/mc3'}], PASSWD, distribution='miniconda')
    assert (plan['users'][0]['prefix'], plan['users'][0]['channels']) == ('/home/alice/mc3', ['defaults'])
    plan = _conda.user_plan(['alice'], PASSWD, distribution='miniconda', channels=['conda-forge'])
    assert (plan['users'][0]['prefix'], plan['users'][0]['channels']) == ('/home/alice/miniconda3', ['conda-forge'])


def test_unknown_user_is_an_error_unless_created_or_absent():
    assert _conda.user_plan(['mallory'], PASSWD)['errors'] == [
        'conda_users: user mallory does not exist on this host; create it first or set conda_create_users: true']
    created = _conda.user_plan(['mallory'], PASSWD, create_users=True)
    assert created['errors'] == []
    assert (created['users'][0]['create'], created['users'][0]['exists'], created['users'][0]['prefix']) == (
        True, False, '/home/mallory/miniforge3')
    gone = _conda.user_plan([{'name': 'mallory', 'state': 'absent'}], PASSWD)
    assert gone['errors'] == []
    assert (gone['users'][0]['create'], gone['users'][0]['exists']) == (False, False)


@pytest.mark.parametrize('users, message', [
    (['alice', 'alice'], 'conda_users: alice is listed twice'),
    ([{'name': 'alice', 'prefix': '/opt/x'}, {'name': 'bob', 'prefix': '/opt/x'}], 'conda_users: prefix /opt/x is given to more than one user'),
    ([{'name': 'alice', 'prefix': 'my conda'}], "conda_users[0] (alice): prefix '/home/alice/my conda' contains a space; conda installers refuse those"),
    ([{'name': 'alice', 'prefix': '/home/alice'}], "conda_users[0] (alice): prefix '/home/alice' would install conda over a system or home directory"),
    ([{'name': 'alice', 'prefix': '/usr'}], "conda_users[0] (alice): prefix '/usr' would install conda over a system or home directory"),
    ([{'name': 'alice', 'state': 'gone'}], "conda_users[0] (alice): state 'gone' is not present or absent"),
    ([{'name': 'alice', 'channels': 'conda-forge'}], 'conda_users[0] (alice): channels must be a list of channel names or URLs'),
    ([{'name': 'alice', 'prefx': '/x'}], 'conda_users[0] (alice): unknown keys prefx; allowed: name, prefix, channels, state'),
    ([{'prefix': '/x'}], 'conda_users[0]: each item needs a name'),
    (['Robert; rm -rf /'], "conda_users[0]: 'Robert; rm -rf /' is not a valid user name"),
])
def test_user_plan_errors(users, message):
    assert message in _conda.user_plan(users, PASSWD)['errors']


def test_user_plan_not_a_list():
    assert _conda.user_plan('alice', PASSWD) == {'users': [], 'errors': ['conda_users: must be a list of {name, prefix, channels, state}']}


# --- prefix actions ---------------------------------------------------------------------------

WANT = {'state': 'present', 'distribution': 'miniforge', 'version': '26.3.2-3', 'conda_version': '26.3.2'}
EXE = '/home/alice/miniforge3/bin/conda'
MARKER = {'distribution': 'miniforge', 'version': '26.3.2-3'}


@pytest.mark.parametrize('info, wanted, action', [
    ({'exists': False}, WANT, 'install'),
    ({'exists': False, 'incomplete': True}, WANT, 'reinstall'),
    ({'exists': True, 'incomplete': True, 'installer': MARKER}, WANT, 'reinstall'),
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'installer': MARKER}, WANT, 'none'),
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'installer': {'distribution': 'miniforge', 'version': '26.3.2-2'}}, WANT, 'update'),
    ({'exists': True, 'is_conda': True, 'conda_exe': '', 'installer': MARKER}, WANT, 'update'),  # bin/conda lost: repair
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'conda_version': '26.3.2', 'distribution': 'miniforge'}, WANT, 'adopt'),
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'conda_version': '25.1.1', 'distribution': 'miniforge'}, WANT, 'update'),
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'conda_version': '26.3.2', 'distribution': ''}, WANT, 'adopt'),
    ({'exists': True}, dict(WANT, state='absent'), 'remove'),
    ({'exists': False, 'incomplete': True}, dict(WANT, state='absent'), 'remove'),
    ({'exists': False}, dict(WANT, state='absent'), 'none'),
])
def test_prefix_action(info, wanted, action):
    result = _conda.prefix_action(dict(info, prefix='/home/alice/miniforge3'), wanted)
    assert (result['action'], result['error']) == (action, '')


@pytest.mark.parametrize('info, message', [
    ({'exists': True, 'is_conda': False},
     '/home/alice/miniforge3 exists and is not a conda installation; move it away or give this user another prefix '
     '(the installer refuses an existing directory).'),
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'installer': {'distribution': 'miniconda', 'version': 'py313_26.7.1-1'}},
     '/home/alice/miniforge3 holds miniconda py313_26.7.1-1 installed by this role; it will not be converted to miniforge. '
     'Remove it (state: absent) or give this user another prefix.'),
    ({'exists': True, 'is_conda': True, 'conda_exe': EXE, 'conda_version': '26.7.1', 'distribution': 'miniconda'},
     '/home/alice/miniforge3 holds a miniconda installation made without this role; it will not be converted to miniforge. '
     'Remove it or give this user another prefix.'),
])
def test_prefix_action_refuses_what_it_must_not_overwrite(info, message):
    result = _conda.prefix_action(dict(info, prefix='/home/alice/miniforge3'), WANT)
    assert (result['action'], result['error']) == ('none', message)


@pytest.mark.parametrize('action, argv', [
    ('install', ['bash', '/var/cache/i.sh', '-b', '-p', '/home/a/mf']),
    ('reinstall', ['bash', '/var/cache/i.sh', '-b', '-p', '/home/a/mf']),
    ('update', ['bash', '/var/cache/i.sh', '-b', '-p', '/home/a/mf', '-u']),
])
def test_installer_argv(action, argv):
    assert _conda.installer_argv('/var/cache/i.sh', '/home/a/mf', action) == argv


# --- .condarc ---------------------------------------------------------------------------------

def test_condarc_defaults():
    assert _conda.condarc(['conda-forge']) == {
        'channels': ['conda-forge'],
        'channel_priority': 'strict',
        'auto_activate': False,
        'auto_activate_base': False,
        'auto_update_conda': False,
        'ssl_verify': True,
    }


def test_condarc_everything():
    data = _conda.condarc(
        ['conda-forge', 'bioconda'], channel_alias='https://mirror.lab/conda', custom_channels={'internal': 'https://pkgs.lab'},
        pkgs_dirs=['/scratch/pkgs'], envs_dirs=['/scratch/envs'], auto_activate=True, channel_priority='flexible',
        proxy_servers={'https': 'http://u:p@proxy:3128', 'http': ''}, ssl_verify='/etc/ssl/certs/ca-certificates.crt',
        accept_tos=True, extra={'channel_priority': 'disabled', 'report_errors': False})
    assert data == {
        'channels': ['conda-forge', 'bioconda'],
        'channel_alias': 'https://mirror.lab/conda',
        'custom_channels': {'internal': 'https://pkgs.lab'},
        'channel_priority': 'disabled',
        'pkgs_dirs': ['/scratch/pkgs'],
        'envs_dirs': ['/scratch/envs'],
        'auto_activate': True,
        'auto_activate_base': True,
        'auto_update_conda': False,
        'proxy_servers': {'https': 'http://u:p@proxy:3128'},
        'ssl_verify': '/etc/ssl/certs/ca-certificates.crt',
        'plugins': {'auto_accept_tos': True},
        'report_errors': False,
    }


@pytest.mark.parametrize('value, expected', [('false', False), ('True', True), (False, False), ('/etc/pki/ca.pem', '/etc/pki/ca.pem')])
def test_condarc_ssl_verify(value, expected):
    assert _conda.condarc(['conda-forge'], ssl_verify=value)['ssl_verify'] == expected


# --- conda info and prefixes ------------------------------------------------------------------

@pytest.mark.parametrize('name', ['conda-info-miniforge.json', 'conda-info-with-warning.txt'])
def test_parse_conda_info(name):
    assert _conda.parse_conda_info(fixture(name)) == CONDA_INFO_MINIFORGE


@pytest.mark.parametrize('text', ['', 'not json', '[1, 2]', 'WARNING only {'])
def test_parse_conda_info_garbage(text):
    assert _conda.parse_conda_info(text) == {}


def copy_prefix(tmp_path, name):
    prefix = str(tmp_path / 'miniforge3')
    shutil.copytree(os.path.join(FIXTURES, name), prefix, symlinks=True)
    os.chmod(os.path.join(prefix, 'bin', 'conda'), 0o755)
    return prefix


def test_read_prefix_missing(tmp_path):
    prefix = str(tmp_path / 'miniforge3')
    assert _conda.read_prefix(prefix) == {
        'prefix': prefix, 'exists': False, 'is_conda': False, 'conda_exe': '', 'installer': {}, 'conda_version': '',
        'python_version': '', 'distribution': '', 'incomplete': False, 'owner_uid': None}


def test_read_prefix_miniforge_without_marker(tmp_path):
    prefix = copy_prefix(tmp_path, 'prefix-miniforge')
    assert _conda.read_prefix(prefix) == {
        'prefix': prefix, 'exists': True, 'is_conda': True, 'conda_exe': prefix + '/bin/conda', 'installer': {},
        'conda_version': '26.3.2', 'python_version': '3.13.5', 'distribution': 'miniforge', 'incomplete': False,
        'owner_uid': os.getuid()}
    # ... which the role adopts: same conda as the pinned release, installed by hand
    assert _conda.prefix_action(_conda.read_prefix(prefix), WANT)['action'] == 'adopt'


def test_read_prefix_with_marker_and_interrupted_install(tmp_path):
    prefix = copy_prefix(tmp_path, 'prefix-miniforge')
    marker = {'installed_by': 'labops.dlstack.conda', 'distribution': 'miniforge', 'version': '26.3.2-3', 'sha256': SHA}
    with open(os.path.join(prefix, _conda.MARKER_NAME), 'w', encoding='utf-8') as handle:
        json.dump(marker, handle)
    info = _conda.read_prefix(prefix)
    assert (info['installer'], _conda.prefix_action(info, WANT)['action']) == (marker, 'none')
    open(prefix + _conda.INCOMPLETE_SUFFIX, 'w').close()
    info = _conda.read_prefix(prefix)
    assert (info['incomplete'], _conda.prefix_action(info, WANT)['action']) == (True, 'reinstall')


def test_read_prefix_corrupt_marker_counts_as_none(tmp_path):
    prefix = copy_prefix(tmp_path, 'prefix-miniforge')
    with open(os.path.join(prefix, _conda.MARKER_NAME), 'w', encoding='utf-8') as handle:
        handle.write('{not json')
    assert _conda.read_prefix(prefix)['installer'] == {}


def test_read_prefix_miniconda_is_not_converted(tmp_path):
    prefix = copy_prefix(tmp_path, 'prefix-miniconda')
    info = _conda.read_prefix(prefix)
    assert (info['distribution'], info['conda_version'], info['python_version']) == ('miniconda', '26.7.1', '3.13.7')
    assert _conda.prefix_action(info, WANT)['error'].startswith(prefix + ' holds a miniconda installation made without this role')


def test_read_prefix_plain_directory(tmp_path):
    prefix = str(tmp_path / 'miniforge3')
    os.makedirs(os.path.join(prefix, 'notes'))
    info = _conda.read_prefix(prefix)
    assert (info['exists'], info['is_conda'], info['conda_exe']) == (True, False, '')
    assert 'is not a conda installation' in _conda.prefix_action(info, WANT)['error']


@pytest.mark.parametrize('records, expected', [
    ({}, ''),
    ({'conda': 'https://conda.anaconda.org/conda-forge/linux-64', 'python': 'https://conda.anaconda.org/conda-forge/linux-64'}, 'miniforge'),
    ({'conda': 'https://repo.anaconda.com/pkgs/main/linux-64'}, 'miniconda'),
    ({'conda': 'defaults'}, 'miniconda'),
    ({'conda': 'https://repo.anaconda.com/pkgs/main/linux-64', 'anaconda': 'https://repo.anaconda.com/pkgs/main/linux-64'}, 'anaconda'),
    ({'conda': 'https://mirror.lab/internal/linux-64'}, ''),
])
def test_detect_distribution(records, expected):
    assert _conda.detect_distribution(records) == expected


STANDIN = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'molecule', 'conda', 'files',
                       'Miniforge3-standin-Linux-x86_64.sh')
INSTALLER = {'version': '26.3.2-3', 'conda_version': '26.3.2'}


def _standin_result(tmp_path):
    """The registered conda_prefix_info result for a prefix the tests' stand-in installer really made."""
    import subprocess
    prefix = str(tmp_path / 'miniforge3')
    subprocess.run(['sh', STANDIN, '-b', '-p', prefix], check=True, capture_output=True, env=dict(os.environ, HOME=str(tmp_path)))
    with open(os.path.join(prefix, _conda.MARKER_NAME), 'w', encoding='utf-8') as handle:
        json.dump({'distribution': 'miniforge', 'version': '26.3.2-3'}, handle)  # what the role writes after it
    info = subprocess.run([prefix + '/bin/conda', 'info', '--json'], check=True, capture_output=True, text=True).stdout
    result = dict(_conda.read_prefix(prefix), conda_info=_conda.parse_conda_info(info))
    result['__conda_user'] = {'name': 'alice', 'uid': os.getuid(), 'prefix': prefix, 'state': 'present'}
    return prefix, result


def test_verify_summary_of_the_stand_in(tmp_path):
    prefix, result = _standin_result(tmp_path)
    assert result['conda_info']['stand_in'] is True
    python = result['conda_info']['python_version']  # the stand-in's base is the system python3
    assert python.count('.') == 2
    assert _conda.verify_summary([result, {'skipped': True, '__conda_user': {'name': 'bob'}}], INSTALLER) == [{
        'user': 'alice', 'prefix': prefix, 'owner': 'alice', 'distribution': 'miniforge', 'version': '26.3.2-3',
        'conda_version': '26.3.2', 'python_version': python, 'stand_in': True, 'ok': True,
        'message': 'conda (alice): %s is miniforge 26.3.2-3 (conda 26.3.2), owned by alice' % prefix}]


def test_verify_summary_names_what_is_wrong(tmp_path):
    prefix, result = _standin_result(tmp_path)
    uid = os.getuid()
    result['__conda_user'] = dict(result['__conda_user'], uid=uid + 1)
    result['conda_info'] = dict(result['conda_info'], conda_version='26.1.0')
    entry = _conda.verify_summary([result], dict(INSTALLER, version='26.3.2-4'))[0]
    assert (entry['ok'], entry['owner']) == (False, 'uid %d' % uid)
    assert entry['message'] == (
        'conda (alice): %s holds 26.3.2-3, expected 26.3.2-4; conda 26.1.0, expected 26.3.2; owned by uid %d, not alice'
        % (prefix, uid))


def test_verify_summary_of_one_task_pairs_reads_with_the_users_in_order(tmp_path):
    prefix, result = _standin_result(tmp_path)
    user = result.pop('__conda_user')
    bob = {'name': 'bob', 'uid': os.getuid() + 1, 'prefix': '/home/bob/miniforge3', 'state': 'present'}
    bob_read = dict(result, prefix=bob['prefix'], user='bob')  # what conda_prefix_info returns for prefixes
    summary = _conda.verify_summary([dict(result, user='alice'), bob_read], INSTALLER, [user, bob])
    looped = _conda.verify_summary([dict(result, __conda_user=user), dict(bob_read, __conda_user=bob)], INSTALLER)
    assert summary == looped
    assert [(e['user'], e['ok']) for e in summary] == [('alice', True), ('bob', False)]
    with pytest.raises(ValueError, match='1 prefix reads for 2 users'):
        _conda.verify_summary([result], INSTALLER, [user, bob])


def test_prefix_actions_one_per_user_state_from_each():
    users = [{'name': 'alice', 'state': 'present', 'prefix': '/home/alice/miniforge3'},
             {'name': 'bob', 'state': 'absent', 'prefix': '/home/bob/miniforge3'}]
    infos = [{'prefix': '/home/alice/miniforge3', 'exists': False}, {'prefix': '/home/bob/miniforge3', 'exists': True}]
    actions = _conda.prefix_actions(infos, users, WANT)
    assert dict((k, a['action']) for k, a in actions.items()) == {'alice': 'install', 'bob': 'remove'}
    assert 'argv' not in actions['alice']
    actions = _conda.prefix_actions(infos, users, dict(WANT, installer='/var/cache/labops-dlstack/conda/Miniforge3.sh'))
    assert actions['alice']['argv'] == ['bash', '/var/cache/labops-dlstack/conda/Miniforge3.sh', '-b', '-p', '/home/alice/miniforge3']
    assert 'argv' not in actions['bob']  # removed, not installed
    assert _conda.prefix_actions([], [], WANT) == {}
    with pytest.raises(ValueError, match='1 prefix reads for 2 users'):
        _conda.prefix_actions(infos[:1], users, WANT)

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/_validate.py: the shared checks, one case per check and edge, exact values."""

from __future__ import annotations

import os

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _validate as v

FILES = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'inputs'))


@pytest.mark.parametrize('value, expected', [
    (True, True), ('yes', True), ('True', True), (1, True), ('off', False), (False, False), (0, False),
    ('sometimes', None), ([], None), ({'a': 1}, None), (2, None),
])
def test_as_bool_takes_what_ansible_takes(value, expected):
    assert v.as_bool(value) is expected


@pytest.mark.parametrize('value, expected', [(5, 5), ('10', 10), (' -3 ', -3), (4.0, 4), (True, None), ('ten', None), (2.5, None)])
def test_as_int(value, expected):
    assert v.as_int(value) == expected


@pytest.mark.parametrize('check, args, value, expected', [
    (v.not_bool, (), 'sometimes', "'sometimes' is not a boolean; accepted: true or false"),
    (v.not_bool, (), 'no', None),
    (v.not_int, (1, 10, 'seconds'), 0, '0 is out of range; accepted: an integer from 1 to 10 seconds'),
    (v.not_int, (1, None), 'ten', "'ten' is not an integer; accepted: an integer of at least 1"),
    (v.not_int, (1, 10), '7', None),
    (v.not_str, (), 3, '3 is not a string; accepted: a quoted string'),
    (v.not_str, (False,), ' ', 'is empty; accepted: a non-empty string'),
    (v.not_str, (), 'a\nb', "'a\\nb' holds a line break; accepted: one line of text"),
    (v.not_choice, (('venv', 'conda'),), 'pip', "'pip' is not one of the accepted values; accepted: venv, conda"),
    (v.not_choice, (('strict', ''),), 'x', "'x' is not one of the accepted values; accepted: strict, ''"),
    (v.not_list, (), 'a', "'a' is not a list; accepted: a list"),
    (v.not_dict, (), [1], '[1] is not a mapping; accepted: a mapping (dict)'),
    (v.not_sha256, (), 'abc', "'abc' is not valid; accepted: the 64 hexadecimal digits of a sha256"),
    (v.not_sha256, (), 'A' * 64, None),
    (v.not_digest, (), 'sha512:' + 'f' * 128, None),
    (v.not_digest, (), 'sha256:' + 'f' * 63, "'sha256:%s' is not a checksum; accepted: sha256:<64 hex digits> (or sha384:, sha512:)" % ('f' * 63)),
    (v.not_user_name, (), 'Alice', "'Alice' is not valid; accepted: a login name (lower-case letters, digits, \"_\", \"-\", \".\")"),
])
def test_scalar_checks(check, args, value, expected):
    assert check(value, *args) == expected


@pytest.mark.parametrize('value, expected', [
    ('0.13.9', None),
    ('2.13.0rc1', None),
    ('latest', "'latest' is not a version pin; accepted: one exact release such as 0.13.9 (PEP 440), not a word or a range"),
    ('==0.13.9', "'==0.13.9' is not a version pin; accepted: one exact release such as 0.13.9 (PEP 440), not a word or a range"),
    (' 0.13.9', "' 0.13.9' has spaces around it; accepted: the bare version"),
    ('', "'' is not a version; accepted: one exact release such as 0.13.9 (PEP 440)"),
])
def test_pep440_version(value, expected):
    assert v.not_pep440_version(value) == expected


@pytest.mark.parametrize('value, name', [
    ('numpy', 'numpy'), ('numpy>=2.1,<3', 'numpy'), ('pandas[excel]==2.3.1', 'pandas'),
    ('mylib @ https://wheels.lab/mylib-1.0-py3-none-any.whl', 'mylib'), ('tomli; python_version < "3.11"', 'tomli'),
])
def test_requirement_accepts_pep508(value, name):
    req, problem = v.requirement(value)
    assert (req.name, problem) == (name, None)


@pytest.mark.parametrize('value, start', [
    ('-e .', "'-e .' is a pip option, not a requirement"),
    ('--index-url https://x', "'--index-url https://x' is a pip option, not a requirement"),
    ('git+https://github.com/x/y', "'git+https://github.com/x/y' is not a requirement ("),
    ('./mypkg', "'./mypkg' is not a requirement ("),
    ('numpy>=>2', "'numpy>=>2' is not a requirement ("),
    ('', "'' is not a requirement; accepted: a PEP 508 requirement"),
])
def test_requirement_refuses_what_pip_would_read_as_something_else(value, start):
    req, problem = v.requirement(value)
    assert req is None and problem.startswith(start), problem


@pytest.mark.parametrize('value, kwargs, expected', [
    ('/opt/x', {}, None),
    ('', {'empty': True}, None),
    ('opt/x', {}, "'opt/x' is not an absolute path; accepted: an absolute path (starting with /, no \"..\")"),
    ('/opt/../etc', {}, "'/opt/../etc' goes up with \"..\"; accepted: an absolute path (starting with /, no \"..\")"),
    ('', {}, 'is empty; accepted: an absolute path (starting with /, no "..")'),
    (['/x'], {'what': 'a dir'}, "['/x'] is not a path (a string); accepted: a dir (starting with /, no \"..\")"),
])
def test_abs_path(value, kwargs, expected):
    assert v.not_abs_path(value, **kwargs) == expected


@pytest.mark.parametrize('value, expected', [
    ('.venvs', None), ('envs/torch', None),
    ('../shared', "'../shared' does not stay below its base; accepted: a directory below the home directory (relative, no \"..\")"),
    ('/opt/envs', "'/opt/envs' does not stay below its base; accepted: a directory below the home directory (relative, no \"..\")"),
    ('.', "'.' does not stay below its base; accepted: a directory below the home directory (relative, no \"..\")"),
])
def test_rel_subdir(value, expected):
    assert v.not_rel_subdir(value) == expected


@pytest.mark.parametrize('value, expected', [('/usr', True), ('/var/cache/', True), ('/', True), ('/var/cache/labops', False)])
def test_system_dir(value, expected):
    assert (v.not_system_dir(value) is not None) == expected


@pytest.mark.parametrize('path, granted, also, expected', [
    ('/home/alice/miniforge3', [], (), None),
    ('/home/alice', [], (), "'/home/alice' is not where alice can own it; accepted: a path below /home/alice (the home "
                            "directory of alice), or a directory granted in X (for example /scratch/{user})"),
    ('/home/alicex/conda', [], (), "'/home/alicex/conda' is not where alice can own it; accepted: a path below /home/alice "
                                   "(the home directory of alice), or a directory granted in X (for example /scratch/{user})"),
    ('/scratch/alice', ['/scratch/{user}'], (), None),
    ('/scratch/alice/../bob/x', ['/scratch/{user}'], (), "'/scratch/bob/x' is not where alice can own it; accepted: a path "
                                                         "below /home/alice (the home directory of alice), in /scratch/alice, "
                                                         "or a directory granted in X (for example /scratch/{user})"),
    ('/data/alice-conda/envs/t', [], ('/data/alice-conda',), None),
])
def test_outside_owned_dirs(path, granted, also, expected):
    assert v.outside_owned_dirs(v.normpath(path), 'alice', '/home/alice', granted, 'X', also=also) == expected


def test_find_on_controller_follows_ansible_search_path(tmp_path):
    (tmp_path / 'role' / 'files').mkdir(parents=True)
    (tmp_path / 'play').mkdir()
    (tmp_path / 'role' / 'files' / 'a.pem').write_text('x')
    (tmp_path / 'play' / 'b.pem').write_text('x')
    search = [str(tmp_path / 'role'), str(tmp_path / 'play')]
    assert v.find_on_controller('a.pem', search) == str(tmp_path / 'role' / 'files' / 'a.pem')
    assert v.find_on_controller('b.pem', search) == str(tmp_path / 'play' / 'b.pem')
    assert v.find_on_controller('c.pem', search) is None
    assert v.find_on_controller(str(tmp_path / 'play' / 'b.pem')) == str(tmp_path / 'play' / 'b.pem')
    assert v.not_controller_file('c.pem', search) == (
        "'c.pem' does not exist on the controller (looked in files/ and the directory of %s, %s); accepted: a readable "
        "file on the controller" % tuple(search))


@pytest.mark.parametrize('value, kwargs, expected', [
    ('https://pypi.org/simple', {}, None),
    ('file:///srv/wheels', {'schemes': v.WEB_FILE}, None),
    ('', {'empty': True}, None),
    ('pypi.org/simple', {}, "'pypi.org/simple' is not a URL; accepted: an http:// or https:// URL"),
    ('https:///simple', {}, "'https:///simple' names no host; accepted: an http:// or https:// URL"),
    ('file://srv/wheels', {'schemes': v.WEB_FILE}, "'file://srv/wheels' names no absolute path; accepted: file:///absolute/path"),
    ('https://x:99999/', {}, "'https://x:99999/' is not a URL (Port out of range 0-65535); accepted: an http:// or https:// URL"),
    ('https://pypi.org/ simple', {}, "'https://pypi.org/ simple' holds white space; accepted: an http:// or https:// URL"),
    ('https://u:pw@x/', {'credentials_hint': 'use netrc'}, "'https://***@x/' carries credentials (user:password@ or token@): use netrc"),
    ('https://tok@x/', {'credentials_hint': 'use netrc'}, "'https://***@x/' carries credentials (user:password@ or token@): use netrc"),
    ('https://u:pw@x/', {}, None),
])
def test_url(value, kwargs, expected):
    assert v.not_url(value, **kwargs) == expected


@pytest.mark.parametrize('value, expected', [
    ('http://deb.debian.org/debian', None), ('mirror+file:/etc/apt/mirrors/debian.list', None), ('file:/srv/mirror', None),
    ('deb.debian.org/debian', "'deb.debian.org/debian' is not an apt URI; accepted: an apt URI such as http://deb.debian.org/debian, "
                              "https://..., file:/srv/mirror or mirror+file:/... or \"\""),
    ('mirror+https://u:p@m/x', "'mirror+https://***@m/x' carries credentials (user:password@ or token@): hint"),
])
def test_apt_uri(value, expected):
    assert v.not_apt_uri(value, credentials_hint='hint') == expected


@pytest.mark.parametrize('value, expected', [
    ('https://download.pytorch.org/whl/{variant}', None),
    ('', None),
    ('https://mirror.lab/torch', None),
    ('https://download.pytorch.org/whl/{cuda}', "'https://download.pytorch.org/whl/{cuda}' has placeholders other than "
                                                "{variant}; accepted: a URL where only {variant} is replaced"),
    ('https://x/{variant', "'https://x/{variant' has placeholders other than {variant}; accepted: a URL where only "
                           "{variant} is replaced"),
    ('download.pytorch.org/whl/{variant}', "'download.pytorch.org/whl/{variant}' is not a URL; accepted: an http://, "
                                           "https:// or file:// URL"),
])
def test_url_template(value, expected):
    assert v.not_url_template(value, ('variant',)) == expected


@pytest.mark.parametrize('text, expected', [
    ('http://bob:s3cret@proxy:3128', 'http://***@proxy:3128'),
    ('https://TOKEN@git.lab/x', 'https://***@git.lab/x'),
    ("'ftp:/bob:s3cret@x'", "'ftp:/bob:***@x'"),
    ('proxy.lab:3128', 'proxy.lab:3128'),
])
def test_redact(text, expected):
    assert v.redact(text) == expected


def test_show_quotes_cuts_and_redacts():
    assert v.show('x' * 200) == "'" + 'x' * 116 + '...'
    assert v.show({'https': 'http://u:pw@p'}) == "{'https': 'http://***@p'}"
    assert (v.show(None), v.show(True), v.show(12.5)) == ('null', 'true', '12.5')


def test_inputs_collects_messages_per_variable_and_item():
    inputs = v.Inputs({'a': 'x', 'b': [1, 'y'], 'c': True})
    inputs.check('a', v.not_bool)
    inputs.list_of('b', v.not_str)
    inputs.bools('c', 'missing')
    assert inputs.errors == ["a: 'x' is not a boolean; accepted: true or false",
                             'b[0]: 1 is not a string; accepted: a quoted string']

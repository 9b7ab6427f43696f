# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_converged: fingerprints, digests of files and trees, and the drift between a record and the host now."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.labops.dlstack.plugins.module_utils import _converged


def make_tree(root):
    (root / 'torch').mkdir(parents=True)
    (root / 'torch' / '__init__.py').write_text('x = 1\n')
    (root / 'torch' / 'lib.so').write_bytes(b'\0' * 64)
    return str(root)


def test_fingerprint_follows_input_not_key_order():
    assert _converged.fingerprint({'a': 1, 'b': [2]}) == _converged.fingerprint({'b': [2], 'a': 1})
    assert _converged.fingerprint({'a': 1}) != _converged.fingerprint({'a': 2})


def test_fingerprint_follows_the_role_code(tmp_path):
    role = tmp_path / 'coll' / 'roles' / 'r'
    (role / 'tasks').mkdir(parents=True)
    (tmp_path / 'coll' / 'plugins' / 'module_utils').mkdir(parents=True)
    (role / 'tasks' / 'main.yml').write_text('- debug: {}\n')
    first = _converged.fingerprint({'a': 1}, str(role))
    assert first != _converged.fingerprint({'a': 1})
    (tmp_path / 'coll' / 'plugins' / 'module_utils' / '_x.py').write_text('X = 1\n')
    second = _converged.fingerprint({'a': 1}, str(role))
    assert second != first  # the Python decisions count
    (tmp_path / 'coll' / 'galaxy.yml').write_text('version: 1.1.0\n')
    third = _converged.fingerprint({'a': 1}, str(role))
    assert third != second  # and the release
    (tmp_path / 'coll' / 'plugins' / 'module_utils' / '__pycache__').mkdir()
    (tmp_path / 'coll' / 'plugins' / 'module_utils' / '__pycache__' / '_x.cpython-311.pyc').write_bytes(b'1')
    assert _converged.fingerprint({'a': 1}, str(role)) == third  # bytecode does not
    for sub, name in (('filter', 'x.py'), ('action', 'role_plan.py')):
        (tmp_path / 'coll' / 'plugins' / sub).mkdir()
        (tmp_path / 'coll' / 'plugins' / sub / name).write_text('Y = 1\n')
        assert _converged.fingerprint({'a': 1}, str(role)) != third  # what hands the decisions to the tasks does
        third = _converged.fingerprint({'a': 1}, str(role))


def test_file_digest_sees_content_mode_and_absence(tmp_path):
    path = tmp_path / 'pip.conf'
    assert _converged.file_digest(str(path)) is None
    path.write_text('[global]\n')
    first = _converged.file_digest(str(path))
    os.chmod(str(path), 0o600)
    assert _converged.file_digest(str(path)) != first
    os.chmod(str(path), 0o644)
    second = _converged.file_digest(str(path))
    path.write_text('[global]\ncert = x\n')
    assert _converged.file_digest(str(path)) != second


def test_tree_digest_sees_a_removed_file_but_not_bytecode(tmp_path):
    root = make_tree(tmp_path / 'layer')
    first = _converged.tree_digest(root)
    assert first.endswith(':3')  # torch/, torch/__init__.py, torch/lib.so
    os.makedirs(os.path.join(root, 'torch', '__pycache__'))
    with open(os.path.join(root, 'torch', '__pycache__', '__init__.cpython-311.pyc'), 'wb') as handle:
        handle.write(b'bytecode')
    assert _converged.tree_digest(root) == first
    os.remove(os.path.join(root, 'torch', 'lib.so'))
    assert _converged.tree_digest(root) != first
    assert _converged.tree_digest(str(tmp_path / 'nothing')) is None


def test_no_drift_when_the_host_is_as_recorded(tmp_path):
    root = make_tree(tmp_path / 'layer')
    conf = tmp_path / 'pip.conf'
    conf.write_text('[global]\n')
    snap = _converged.snapshot([str(conf)], [root])
    recorded = _converged.record('pytorch_env', 'f1', snap)
    dpkg = _converged.parse_dpkg('nvidia-smi\thold\tinstalled\nlibcuda1\thold\tinstalled\n')
    assert _converged.drift(recorded, 'f1', _converged.snapshot([str(conf)], [root]), [], dpkg,
                            ['nvidia-smi', 'libcuda1'], ['nvidia-smi']) == []
    assert _converged.drifted_trees(recorded, snap) == []


def test_drift_names_each_difference(tmp_path):
    root = make_tree(tmp_path / 'layer')
    conf = tmp_path / 'pip.conf'
    conf.write_text('[global]\n')
    recorded = _converged.record('r', 'f1', _converged.snapshot([str(conf)], [root]))
    os.remove(os.path.join(root, 'torch', '__init__.py'))
    conf.unlink()
    now = _converged.snapshot([str(conf), str(tmp_path / 'new')], [root])
    dpkg = _converged.parse_dpkg('nvidia-smi\tinstall\tinstalled\nlibcuda1\tdeinstall\tconfig-files\n')
    assert _converged.drift(recorded, 'f1', now, ['/home/alice/envs/torch/bin/python'], dpkg,
                            ['nvidia-smi', 'libcuda1', 'libnvidia-ml1'], ['nvidia-smi']) == [
        'file %s was not part of the last converge' % (tmp_path / 'new'),
        'file %s is missing' % conf,
        'directory %s changed since the last converge' % root,
        '/home/alice/envs/torch/bin/python is missing',
        'package libcuda1 is not installed',
        'package libnvidia-ml1 is not installed',
        'package nvidia-smi is not held',
    ]
    assert _converged.drifted_trees(recorded, now) == [root]


def test_no_record_or_another_fingerprint_is_drift(tmp_path):
    snap = _converged.snapshot([], [])
    assert _converged.drift(None, 'f1', snap) == ['no record of an earlier converge of this role on this host']
    recorded = _converged.record('r', 'f1', snap)
    assert _converged.drift(recorded, 'f2', snap) == ["the role's input or code changed since its last converge here"]
    recorded['format'] = 0
    assert _converged.drift(recorded, 'f1', snap) == ['the record was written by another version of the collection']


def test_parse_dpkg_skips_what_is_not_a_row():
    assert _converged.parse_dpkg('dpkg-query: no packages found matching x\n\nnvidia-smi\thold\tinstalled\n') == {
        'nvidia-smi': ('hold', 'installed')}


def test_a_path_absent_at_the_converge_and_now_is_no_drift(tmp_path):
    """A file a converge did not write (a MOK configuration on a host without DKMS) stays out of the drift."""
    snap = _converged.snapshot([str(tmp_path / 'mok.conf')], [])
    recorded = _converged.record('r', 'f1', snap)
    assert _converged.drift(recorded, 'f1', _converged.snapshot([str(tmp_path / 'mok.conf')], [])) == []
    (tmp_path / 'mok.conf').write_text('x')
    assert _converged.drift(recorded, 'f1', _converged.snapshot([str(tmp_path / 'mok.conf')], [])) == [
        'file %s changed since the last converge' % (tmp_path / 'mok.conf')]


def test_check_reads_record_files_exists_and_dpkg_in_one_call(tmp_path):
    """check(): what converged and the modules asking on the way answer; dpkg asked once for the packages named
    and those the record names, through the run_command given."""
    conf = tmp_path / 'pip.conf'
    conf.write_text('[global]\n')
    params = {'name': 'pytorch_env', 'fingerprint': 'f1', 'state_dir': str(tmp_path / 'state'), 'files': [str(conf)],
              'trees': [], 'exists': [str(tmp_path / 'gone')], 'packages': ['a'], 'held': []}
    asked = []

    def run(argv):
        asked.append(argv)
        return 0, 'a\thold\tinstalled\nb\tinstall\tinstalled\n', ''
    assert _converged.check(params, run) == {
        'converged': False, 'drift': ['no record of an earlier converge of this role on this host'],
        'drifted_trees': [], 'path': str(tmp_path / 'state' / 'pytorch_env.json')}
    (tmp_path / 'state').mkdir()
    with open(str(tmp_path / 'state' / 'pytorch_env.json'), 'w', encoding='utf-8') as handle:
        json.dump(_converged.record('pytorch_env', 'f1', _converged.snapshot([str(conf)], []), ['b'], ['a']), handle)
    assert _converged.check(params, run)['drift'] == ['%s is missing' % (tmp_path / 'gone')]
    assert asked[-1][-2:] == ['a', 'b']  # the named one and the recorded one, in one dpkg-query
    assert _converged.check(dict(params, exists=[]), run)['converged'] is True
    assert len(asked) == 3


def test_record_path_refuses_a_name_that_is_not_a_file_name(tmp_path):
    assert _converged.record_path({'name': 'conda', 'state_dir': str(tmp_path)}) == str(tmp_path / 'conda.json')
    with pytest.raises(ValueError, match='not a plain file name'):
        _converged.record_path({'name': '../conda', 'state_dir': str(tmp_path)})


def test_dpkg_listing_gives_the_states_and_the_roles_listing():
    out = ('installed\tnvidia-smi\t535.247.01-1~deb12u1\thold\n'
           'config-files\tsudo\t1.9.13p3-1+deb12u4\tdeinstall\n'
           'not a row\n')
    states, listing = _converged.dpkg_listing(lambda argv: (0, out, ''))
    assert states == {'nvidia-smi': ('hold', 'installed'), 'sudo': ('deinstall', 'config-files')}
    assert listing == 'installed\tnvidia-smi\t535.247.01-1~deb12u1\nconfig-files\tsudo\t1.9.13p3-1+deb12u4\n'

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytorch_env_info: output parsing, the source it sends, and a real run of it with this interpreter.

No environment with torch exists in CI's unit stage: the run uses this interpreter with a tiny
stand-in `torch` package (version, CUDA API answering "not available", ones/matmul on lists, no
tensor() and so no autograd) - enough to prove the check's own logic and JSON, not torch itself
(molecule/pytorch_env and molecule/default run it against the real torch and NumPy).
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import venv

from conftest import run_main

from ansible_collections.labops.dlstack.plugins.modules import pytorch_env_info as m
from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env_check as check

FAKE_TORCH = '''
__version__ = "2.13.0+cpu"
class version:
    cuda = None
class cuda:
    @staticmethod
    def is_available(): return False
    @staticmethod
    def get_arch_list(): return []
    @staticmethod
    def device_count(): return 0
class _M:
    def __init__(self, n): self.n = n
    def __matmul__(self, other): return _M(self.n)
    def sum(self): return _S(self.n ** 3)
class _S:
    def __init__(self, v): self.v = v
    def item(self): return float(self.v)
def ones(shape, device=None): return _M(shape[0])
'''


def test_parse_probe_output_takes_the_json_line():
    out = 'warning: something\n{"import_ok": true, "torch_version": "2.13.0+cpu"}\n'
    assert m.parse_probe_output(0, out, '') == {'import_ok': True, 'torch_version': '2.13.0+cpu'}


def test_parse_probe_output_without_json():
    assert m.parse_probe_output(1, '', 'Segmentation fault') == {
        'import_ok': False, 'error': 'the probe printed no result (rc=1): Segmentation fault'}


def test_the_module_sends_the_file_the_role_installs():
    # one source: the text the module runs is the file roles/pytorch_env/tasks/install-check.yml copies
    with open(check.__file__, encoding='utf-8') as handle:
        assert m.check_source() == handle.read()


def _run_source(tmp_path, *args):
    pkg = tmp_path / 'torch'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(FAKE_TORCH)
    hide = tmp_path / 'numpy'  # whatever this interpreter has: NumPy is absent for the test
    hide.mkdir()
    (hide / '__init__.py').write_text('raise ModuleNotFoundError("No module named \'numpy\'", name="numpy")\n')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run([sys.executable, '-c', m.check_source()] + list(args), capture_output=True, text=True,
                          env=env, check=False)


def test_check_source_with_stand_in_torch(tmp_path):
    out = _run_source(tmp_path, '--json', '--no-expect', '--size', '8')
    assert out.returncode == 1  # no NumPy, no autograd in the stand-in: two failed checks
    result = json.loads(out.stdout)
    assert result['import_ok'] is True
    assert (result['torch_version'], result['torch_cuda'], result['variant'], result['cuda_available']) == (
        '2.13.0+cpu', None, 'cpu', False)
    assert result['torch_location'] == str(tmp_path)
    assert (result['devices'], result['device']) == ([], 'cpu')
    assert {k: v for k, v in result['matmul'].items() if k != 'seconds'} == {
        'device': 'cpu', 'size': 8, 'ok': True, 'checksum': 512}
    assert result['matmul']['seconds'] >= 0
    assert result['numpy'] == {'ok': False, 'missing': True, 'device': 'cpu',
                               'error': "ModuleNotFoundError: No module named 'numpy'",
                               'seconds': result['numpy']['seconds']}
    assert result['autograd']['ok'] is False
    assert result['autograd']['error'] == "AttributeError: module 'torch' has no attribute 'tensor'"
    assert result['failures'] == ["numpy: ModuleNotFoundError: No module named 'numpy'",
                                  "autograd: AttributeError: module 'torch' has no attribute 'tensor'"]
    assert result['passed'] is False


def test_check_source_text_output_and_exit_status(tmp_path):
    out = _run_source(tmp_path, '--no-expect', '--size', '4')
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith('dlstack-check: ')
    assert lines[2] == 'CUDA      not available: this torch is the cpu build, compiled without CUDA'
    assert lines[4] == "numpy     FAIL  ModuleNotFoundError: No module named 'numpy'"
    assert lines[5] == "autograd  FAIL  AttributeError: module 'torch' has no attribute 'tensor'"
    assert lines[6].startswith('matmul    ok    4x4 ones @ ones on cpu: checksum 64 = 4**3   ')
    assert lines[-1].startswith('FAIL      2 problem(s): numpy: ')


def test_check_source_usage_error(tmp_path):
    out = _run_source(tmp_path, '--size', 'many')
    assert out.returncode == 2
    assert out.stderr.startswith("dlstack-check: --size: 'many' is not a positive whole number\nusage: dlstack-check")


def _fake_env(tmp_path):
    """A real venv of this interpreter with the stand-in torch in its site-packages (its own python, no PYTHONPATH)."""
    path = tmp_path / 'env'
    venv.EnvBuilder(with_pip=False).create(str(path))
    site = subprocess.run([str(path / 'bin' / 'python'), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(os.path.join(site, 'torch'))
    with open(os.path.join(site, 'torch', '__init__.py'), 'w', encoding='utf-8') as handle:
        handle.write(FAKE_TORCH)
    return str(path / 'bin' / 'python')


def test_envs_checks_every_environment_in_one_task(capsys, tmp_path):
    me = pwd.getpwuid(os.geteuid()).pw_name
    python = _fake_env(tmp_path)
    envs = [{'user': me, 'python': python, 'name': 'torch'},
            {'user': me, 'python': str(tmp_path / 'gone' / 'bin' / 'python'), 'name': 'gone'},
            {'user': 'no-such-user-dlstack', 'python': python, 'name': 'other'},
            {'python': 'relative/bin/python'}]
    code, result = run_main(capsys, m.main, {'envs': envs, 'size': 8})
    assert code == 0 and result['changed'] is False
    first, gone, unknown, bad = result['results']
    assert (first['env'], first['user'], first['exit_status']) == (envs[0], me, 1)  # the stand-in has no autograd
    assert (first['probe']['import_ok'], first['probe']['torch_version'], first['probe']['matmul']['checksum']) == (
        True, '2.13.0+cpu', 512)
    assert first['probe']['torch_location'].startswith(str(tmp_path / 'env'))  # the environment's own torch
    assert gone['probe'] == {'import_ok': False, 'error': 'no interpreter at %s' % envs[1]['python']}
    assert (unknown['exit_status'], unknown['probe']['import_ok']) == (-1, False)
    assert unknown['probe']['error'].endswith('no user no-such-user-dlstack in the user database')
    assert bad['probe']['error'] == ("envs: each item needs python (an absolute path) and user, got "
                                     "{'python': 'relative/bin/python'}")


def test_envs_skip_missing_reports_environments_not_created_yet(capsys, tmp_path):
    missing = str(tmp_path / 'new' / 'bin' / 'python')
    code, result = run_main(capsys, m.main, {'envs': [{'user': 'root', 'python': missing}], 'skip_missing': True})
    assert code == 0
    assert result['results'] == [{'env': {'user': 'root', 'python': missing}, 'user': 'root', 'skipped': True,
                                  'skip_reason': 'no interpreter at %s (not created yet)' % missing}]


def test_python_and_envs_exclude_each_other(capsys):
    code, result = run_main(capsys, m.main, {'python': '/usr/bin/python3', 'envs': []})
    assert code == 1 and 'mutually exclusive' in result['msg']
    code, result = run_main(capsys, m.main, {})
    assert code == 1 and 'one of the following is required: python, envs' in result['msg']


def test_converged_asks_the_fast_path_question_and_checks_only_a_converged_host(capsys, tmp_path):
    """The fast path and the proof in one run: no record -> not converged, nothing checked; after the record the
    same call checks every environment; a removed interpreter (exists) is drift again, and nothing is checked."""
    from ansible_collections.labops.dlstack.plugins.modules import converged
    me = pwd.getpwuid(os.geteuid()).pw_name
    python = _fake_env(tmp_path)
    ask = {'name': 'pytorch_env', 'fingerprint': 'f1', 'state_dir': str(tmp_path / 'state'),
           'trees': [str(tmp_path / 'env')], 'exists': [python]}
    envs = [{'user': me, 'python': python, 'name': 'torch'}]
    code, result = run_main(capsys, m.main, {'envs': envs, 'size': 8, 'converged': ask})
    assert code == 0 and result['changed'] is False
    assert (result['checked'], result['results']) == (False, [])
    assert result['state'] == {'converged': False, 'drift': ['no record of an earlier converge of this role on this host'],
                               'drifted_trees': [], 'path': str(tmp_path / 'state' / 'pytorch_env.json')}

    run_main(capsys, converged.main, {k: v for k, v in ask.items() if k != 'exists'} | {'record': True})
    code, result = run_main(capsys, m.main, {'envs': envs, 'size': 8, 'converged': ask})
    assert (result['state']['converged'], result['checked']) == (True, True)
    assert [r['probe']['matmul']['checksum'] for r in result['results']] == [512]

    code, result = run_main(capsys, m.main, {'envs': envs, 'size': 8, 'converged': dict(ask, fingerprint='f2')})
    assert (result['state']['drift'], result['checked'], result['results']) == (
        ["the role's input or code changed since its last converge here"], False, [])


def test_converged_needs_envs_and_a_plain_name(capsys, tmp_path):
    code, result = run_main(capsys, m.main, {'python': '/usr/bin/python3', 'converged': {'name': 'x', 'fingerprint': 'f'}})
    assert code == 1 and 'missing parameter(s) required by \'converged\': envs' in result['msg']
    ask = {'name': '../x', 'fingerprint': 'f', 'state_dir': str(tmp_path)}
    code, result = run_main(capsys, m.main, {'envs': [], 'converged': ask})
    assert (code, result['msg']) == (1, "converged: name: '../x' is not a plain file name (letters, digits, _ . -)")

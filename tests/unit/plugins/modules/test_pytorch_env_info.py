# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytorch_env_info: output parsing, and a real run of the probe with this interpreter.

No environment with torch exists in CI's unit stage: the run uses this interpreter with a tiny
stand-in `torch` package (version, CUDA API answering "not available", ones/matmul on lists) -
enough to prove the probe's own logic and JSON, not torch itself (molecule/pytorch_env does that).
"""

from __future__ import annotations

import json
import subprocess
import sys

from ansible_collections.labops.dlstack.plugins.modules import pytorch_env_info as m
from ansible_collections.labops.dlstack.plugins.module_utils._pytorch_env import PROBE_SOURCE

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


def test_probe_source_with_stand_in_torch(tmp_path):
    pkg = tmp_path / 'torch'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(FAKE_TORCH)
    code = 'import sys; sys.path.insert(0, %r); sys.argv[1:] = ["8"]; exec(%r)' % (str(tmp_path), PROBE_SOURCE)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result['import_ok'] is True
    assert (result['torch_version'], result['torch_cuda'], result['cuda_available']) == ('2.13.0+cpu', None, False)
    assert result['torch_location'] == str(tmp_path)
    assert result['devices'] == []
    assert result['matmul'] == {'device': 'cpu', 'size': 8, 'ok': True, 'checksum': 512}

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_lazy: the filter files import the decisions on first use, so ansible-core's scan of every filter file (in every
worker it forks) compiles no module_utils."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

FILTER_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'filter')


def test_the_first_attribute_imports_the_module():
    lazy = LazyModule('_platform')
    assert 'not imported yet' in repr(lazy)
    from ansible_collections.labops.dlstack.plugins.module_utils import _platform
    assert lazy.merged is _platform.merged
    assert 'not imported yet' not in repr(lazy)


def test_function_calls_the_decision_by_name():
    call = LazyModule('_nvidia_driver').function('parse_dpkg_query')
    assert call.__name__ == 'parse_dpkg_query'
    assert call('installed\tnvidia-smi\t535.247.01-1~deb12u1\n') == {'nvidia-smi': '535.247.01-1~deb12u1'}


def test_an_unknown_name_is_an_attribute_error():
    lazy = LazyModule('_platform')
    try:
        lazy.no_such_name_dlstack  # pylint: disable=pointless-statement
    except AttributeError:
        return
    raise AssertionError('no AttributeError')


# What ansible-core does to find one filter of the collection (plugins/loader.py, Jinja2Loader): import every filter
# file and ask each for its filters. In a fresh interpreter, that must import none of module_utils.
SCAN = r'''
import importlib, json, os, sys
sys.path[:0] = [p for p in os.environ['DLSTACK_TEST_PATH'].split(os.pathsep) if p]
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
roots = [p for p in sys.path if os.path.isdir(os.path.join(p, 'ansible_collections', 'labops', 'dlstack'))]
_AnsibleCollectionFinder(paths=roots)._install()
names = sorted(f[:-3] for f in os.listdir(sys.argv[1]) if f.endswith('.py'))
filters = 0
for name in names:
    module = importlib.import_module('ansible_collections.labops.dlstack.plugins.filter.' + name)
    filters += len(module.FilterModule().filters())
print(json.dumps({'files': len(names), 'filters': filters,
                  'module_utils': sorted(k for k in sys.modules if k.startswith('ansible_collections.labops.dlstack.plugins.module_utils'))}))
'''


def test_scanning_every_filter_file_imports_no_decision():
    env = dict(os.environ, DLSTACK_TEST_PATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', SCAN, FILTER_DIR], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['files'] >= 10 and result['filters'] >= 40
    assert result['module_utils'] == []

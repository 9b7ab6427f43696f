# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make `ansible_collections.labops.dlstack` importable for `pytest tests/unit` from the repo root.

ansible-test units runs the tests from a checkout under .../ansible_collections/labops/dlstack and
sets the import path itself; a plain `pytest tests/unit` does not. In that case this file builds a
throw-away collection root (a temp dir holding ansible_collections/labops/dlstack -> the repo root),
puts it first on sys.path and installs ansible-core's collection finder on it, as ansible-test does.
"""

from __future__ import annotations

import atexit
import csv
import os
import shutil
import sys
import tempfile

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FIXTURES = os.path.join(REPO_ROOT, 'tests', 'unit', 'fixtures', 'gpu')

# What `conda info --json` of the fixtures/conda captures says (conda-info-miniforge.json, and
# conda-info-with-warning.txt: the same after a WARNING line), as _conda.parse_conda_info returns it.
CONDA_INFO_MINIFORGE = {
    'conda_version': '26.3.2',
    'python_version': '3.13.5',
    'root_prefix': '/home/alice/miniforge3',
    'platform': 'linux-64',
    'channels': ['https://conda.anaconda.org/conda-forge/linux-64', 'https://conda.anaconda.org/conda-forge/noarch'],
    'envs': ['/home/alice/miniforge3'],
    'stand_in': False,
}


def _already_importable():
    try:
        import ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


def _install_collection_root():
    parent = os.path.dirname(REPO_ROOT)
    if os.path.basename(parent) == 'labops' and os.path.basename(os.path.dirname(parent)) == 'ansible_collections':
        root = os.path.dirname(os.path.dirname(parent))
    else:
        root = tempfile.mkdtemp(prefix='dlstack-collroot-')
        atexit.register(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, 'ansible_collections', 'labops'))
        os.symlink(REPO_ROOT, os.path.join(root, 'ansible_collections', 'labops', 'dlstack'))
    if root not in sys.path:
        sys.path.insert(0, root)
    try:  # ansible-core's public entry point (2.15+): installs its collection finder for these paths
        from ansible.plugins.loader import init_plugin_loader
    except ImportError:  # ansible-core not installed: plain namespace-package imports still work
        return
    init_plugin_loader([root])


if not _already_importable():
    _install_collection_root()


@pytest.fixture
def fixtures_dir():
    """tests/unit/fixtures/gpu: the copied real captures (see PROVENANCE.md there)."""
    return FIXTURES


# ------------------------------------------------------------------------------------------------
# recorded hosts: fake sysfs/procfs/dev trees and an nvidia-smi that replays captures
# ------------------------------------------------------------------------------------------------

sys.path.insert(0, os.path.join(REPO_ROOT, 'tests', 'unit', 'tools'))
from gpu_tree import HostTree, ReplayNvidiaSmi, help_query_fields  # noqa: E402  pylint: disable=wrong-import-position,unused-import


@pytest.fixture
def host_tree(tmp_path):
    return HostTree(tmp_path / 'host')


@pytest.fixture
def fixture_text():
    def _read(*parts):
        with open(os.path.join(FIXTURES, *parts), encoding='utf-8') as handle:
            return handle.read()
    return _read


@pytest.fixture
def h200_record(fixture_text):
    """The H200's --query-gpu values, every field: header of query_gpu_all.csv + values of query_gpu_all_nounits.csv."""
    from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import header_fields
    fields = header_fields(fixture_text('h200-driver580', 'query_gpu_all.csv').splitlines()[0])
    values = next(csv.reader(fixture_text('h200-driver580', 'query_gpu_all_nounits.csv').splitlines(), skipinitialspace=True))
    assert len(fields) == len(values)
    return dict(zip(fields, values))


@pytest.fixture
def h200_host(host_tree, fixture_text, h200_record):
    """The H200 machine B: PCI devices, nvidia module, /proc version, /dev nodes, and its nvidia-smi."""
    misc = fixture_text('h200-driver580', 'misc.txt')
    host_tree.add_pci_capture(fixture_text('h200-driver580', 'sysfs_pci_10de.txt'))
    proc_version = misc.split('################ /proc/driver/nvidia/version\n', 1)[1].split('\n\n', 1)[0] + '\n'
    sys_version = misc.split('################ /sys/module/nvidia/version\n', 1)[1].split('\n', 1)[0]
    host_tree.load_module('nvidia', sys_version, proc_version)
    host_tree.dev_nodes('nvidiactl', 'nvidia0', 'nvidia-uvm', 'nvidia-uvm-tools')
    version_text = misc.split('################ nvidia-smi --version\n', 1)[1].split('\n\n', 1)[0] + '\n'
    smi = ReplayNvidiaSmi(gpus=[h200_record], valid_fields=help_query_fields(fixture_text('h200-driver580', 'help-query-gpu.txt')),
                          version={'rc': 0, 'stdout': version_text})
    return host_tree, smi


def run_main(capsys, main, args):
    """Run a module's main() with args as its module arguments: (exit code, the JSON result it printed)."""
    import json
    from ansible.module_utils.testing import patch_module_args
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the fault and bad-input tests (helpers in dlstack_faults.py, which says how to run them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlstack_faults import IMAGE, PROFILES, REPO, WORK, docker, remove_all_containers


@pytest.fixture(scope='session')
def lab():
    """Preconditions (`make setup`), the recorded GPU hosts, no leftover containers; cleanup at the end."""
    if shutil.which('docker') is None or docker('info', check=False).returncode != 0:
        pytest.fail('no Docker engine answers: run `make setup` first')
    if docker('image', 'inspect', IMAGE, check=False).returncode != 0:
        pytest.fail('image %s missing: run `make images`' % IMAGE)
    wheelhouse = Path(os.environ.get('DLSTACK_WHEELHOUSE') or REPO / '.cache' / 'wheelhouse')
    if not list(wheelhouse.glob('torch-*.whl')):
        pytest.fail('no torch wheel in %s: run `make wheelhouse`' % wheelhouse)
    if not (REPO / '.cache' / 'collections' / 'ansible_collections' / 'labops' / 'dlstack').exists():
        pytest.fail('collection path missing: run `make collection`')
    remove_all_containers()
    (WORK / 'profiles').mkdir(parents=True, exist_ok=True)
    for profile in PROFILES:
        dest = WORK / 'profiles' / profile
        subprocess.run([sys.executable, str(REPO / 'tests' / 'unit' / 'tools' / 'gpu_profile.py'), profile, str(dest)],
                       check=True, capture_output=True, text=True)
    yield WORK
    remove_all_containers()


@pytest.fixture
def reports(tmp_path):
    path = tmp_path / 'reports'
    path.mkdir()
    return path


def pytest_terminal_summary(terminalreporter):
    tried = passed = 0
    for key in ('passed', 'failed', 'error', 'skipped'):
        for report in terminalreporter.stats.get(key, []):
            if getattr(report, 'when', 'call') != 'call' and key != 'error':
                continue
            if 'tests/integration' not in report.nodeid:
                continue
            tried += 1
            passed += key == 'passed'
    if tried:
        terminalreporter.write_line('labops.dlstack fault/bad-input cases: %d tried, %d passed' % (tried, passed))

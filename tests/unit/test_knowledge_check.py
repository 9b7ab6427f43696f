# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make knowledge-check (tests/harness/knowledge_check.py), replayed on what PyPI said on 2026-12-01.

The recording (tests/unit/fixtures/knowledge/pypi-observed-2026-12-01.json, see the README there) is the
tool's own --save-observed output of a real run against pypi.org; these tests need no network.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os

import pytest

HERE = os.path.dirname(__file__)
OBSERVED = os.path.join(HERE, 'fixtures', 'knowledge', 'pypi-observed-2026-12-01.json')

_spec = importlib.util.spec_from_file_location('knowledge_check', os.path.join(HERE, '..', 'harness', 'knowledge_check.py'))
kc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kc)


@pytest.fixture
def observed():
    with open(OBSERVED, encoding='utf-8') as handle:
        return json.load(handle)


@pytest.fixture
def tables():
    return copy.deepcopy(kc.tables())


def test_the_tables_match_pypi_today(tables, observed):
    assert kc.compare(tables, observed) == []


def test_the_recording_is_what_the_issue_audit_says(observed):
    # issue #19 row 6: "PyPI 2.15.0: Requires-Python >=3.11, built +cu132 by default, arch flags sm_75 ...
    # sm_120 with no PTX"; row 7: "cu130 for 2.12-2.14 [...] ship no PTX"; "no cp315 wheel for 2.13/2.14"
    assert observed['torch']['2.15.0']['python']['x86_64'] == '3.11-3.15'
    assert observed['torch']['2.15.0']['wheel']['x86_64'] == {
        'version': '2.15.0+cu132', 'cuda': '13.2',
        'arch_flags': ['sm_75', 'sm_80', 'sm_86', 'sm_90', 'sm_100', 'sm_120']}
    for version in ('2.12.0', '2.12.1', '2.13.0', '2.14.0', '2.14.1'):
        assert not [a for a in observed['torch'][version]['wheel']['x86_64']['arch_flags'] if a.startswith('compute_')]
    assert observed['torch']['2.13.0']['python']['x86_64'] == '3.10-3.14'
    assert observed['torch']['2.14.1']['python']['x86_64'] == '3.10-3.14'
    # "torchvision 0.29.0 requires torch ==2.14.0"
    assert observed['torchvision']['0.29.0']['requires_torch'] == 'torch (==2.14.0)'


def test_a_table_with_a_release_removed_fails(tables, observed):
    del tables['torch_releases']['2.15']
    assert kc.compare(tables, observed) == [
        'torch 2.15 is on PyPI (2.15.0, uploaded 2026-10-28) but not in TORCH_RELEASES']


def test_a_missing_patch_release_and_its_domain_row_fail(tables, observed):
    tables['torch_releases']['2.14']['patches'] = ('2.14.0',)
    del tables['domain_libraries']['2.14.1']
    assert kc.compare(tables, observed) == [
        'torch 2.14: PyPI has the patch releases 2.14.0, 2.14.1, TORCH_RELEASES lists 2.14.0',
        'torch 2.14.1 is on PyPI but has no DOMAIN_LIBRARIES row (torchvision / torchaudio)']


@pytest.mark.parametrize('edit, line', [
    (lambda t: t['torch_releases']['2.13'].update(python='3.10-3.15'),
     'torch 2.13: PyPI has x86_64 wheels for Python 3.10-3.14, TORCH_RELEASES says 3.10-3.15 (python)'),
    (lambda t: t['torch_releases']['2.13']['variants']['cu130'].update(ptx='12.0'),
     'torch 2.13.0 x86_64 cu130: the wheel carries sm_75 sm_80 sm_86 sm_90 sm_100 sm_120, TORCH_RELEASES says '
     'sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 + PTX compute_120'),
    (lambda t: t['torch_releases']['2.15'].update(default='cu130'),
     'torch 2.15.0: the PyPI x86_64 wheel is cu132 (2.15.0+cu132), TORCH_RELEASES default is cu130'),
    (lambda t: t['torch_releases']['2.14']['variants']['cu130'].update(archs_aarch64=('8.0', '9.0')),
     'torch 2.14.1 aarch64 cu130: the wheel carries sm_80 sm_90 sm_100 sm_110 sm_120, TORCH_RELEASES says '
     'sm_80 sm_90 (no PTX)'),
    (lambda t: t['domain_libraries'].update({'2.14.0': ('0.28.0', '2.11.0', 'x')}),
     'DOMAIN_LIBRARIES 2.14.0: torchvision is 0.28.0, PyPI says 0.29.0 (torch (==2.14.0))'),
    (lambda t: t['domain_libraries'].pop('2.15.0'),
     'torch 2.15.0 is on PyPI but has no DOMAIN_LIBRARIES row (torchvision / torchaudio)'),
])
def test_each_kind_of_difference_is_named(tables, observed, edit, line):
    edit(tables)
    assert line in kc.compare(tables, observed)


def test_newer_libraries_than_any_row_are_reported(tables, observed):
    observed['torchvision']['0.30.0'] = {'uploaded': '2027-01-20', 'requires_torch': 'torch (==2.16.0)', 'python': '3.11-3.15'}
    assert kc.compare(tables, observed) == [
        'torchvision 0.30.0 is on PyPI (uploaded 2027-01-20, torch (==2.16.0)) and newer than any DOMAIN_LIBRARIES row']


@pytest.mark.parametrize('spec, version, ok', [
    ('torch (==2.4.1)', '2.4.1', True), ('torch ==2.4.0', '2.4.1', False), ('torch==2.6.0', '2.6.0', True),
    ('torch (>=2.14.0)', '2.15.0', True), ('torch>=2.11', '2.10.0', False), ('torch>=2.11', '2.11.0', True),
    ('torch (>=2.0,<3)', '2.15.0', True), ('torch (==2.5.*)', '2.5.1', True), ('torch !=2.5.0', '2.5.0', False),
])
def test_spec_admits(spec, version, ok):
    assert kc.spec_admits(spec, version) is ok


def test_expected_library_follows_pins_then_upload_dates(observed):
    vision, audio = observed['torchvision'], observed['torchaudio']
    assert kc.expected_library(vision, '2.14.0', '2026-09-02') == '0.29.0'   # pins ==2.14.0
    assert kc.expected_library(vision, '2.14.1', '2026-09-30') == '0.29.1'   # >=2.14.0, same day
    assert kc.expected_library(vision, '2.15.0', '2026-10-28') == '0.29.2'   # >=2.14.0, same day
    assert kc.expected_library(audio, '2.13.0', '2026-07-08') == '2.11.0'    # no pin; 2.11.1 came later
    assert kc.expected_library(audio, '2.15.0', '2026-10-28') == '2.11.1'


def test_helpers():
    assert kc.python_range({'cp310', 'cp311', 'cp314', 'cp314t', 'abi3'}) == '3.10-3.14'
    assert kc.variant_of({'version': '2.5.1', 'cuda': None}) == 'cpu'
    assert kc.variant_of({'version': '2.11.0+cu130', 'cuda': '13.0'}) == 'cu130'
    assert kc.arch_split(['sm_75', 'sm_120', 'compute_120']) == (('7.5', '12.0'), '12.0')
    assert kc.vkey('2.15.0rc1') is None


def test_the_pci_table_is_current_with_its_generator():
    differences, notes = kc.pci_differences()
    assert differences == []
    assert notes and notes[0].startswith('PCI TSV')


def test_main_replays_a_recording_and_fails_on_a_stale_table(observed, tmp_path, capsys, monkeypatch):
    path = tmp_path / 'observed.json'
    path.write_text(json.dumps(observed), encoding='utf-8')
    assert kc.main(['--observed', str(path)]) == 0
    assert 'knowledge-check: the tables match' in capsys.readouterr().out
    stale = copy.deepcopy(kc.tables())
    del stale['torch_releases']['2.15']
    monkeypatch.setattr(kc, 'tables', lambda: stale)
    assert kc.main(['--observed', str(path)]) == 1
    assert '  - torch 2.15 is on PyPI (2.15.0, uploaded 2026-10-28) but not in TORCH_RELEASES' in capsys.readouterr().out
    assert kc.main(['--observed', str(path), '--warn']) == 0
    assert 'WARNING: knowledge-check: 1 difference(s)' in capsys.readouterr().out


def test_pypi_not_answering_is_said_and_skipped_in_warn_mode(monkeypatch, capsys):
    def unreachable(*_args, **_kwargs):
        raise kc.Unreachable('https://pypi.org/simple/torch/: <urlopen error [Errno -3] Temporary failure in name resolution>')
    monkeypatch.setattr(kc, 'observe', unreachable)
    assert kc.main(['--warn']) == 0
    assert capsys.readouterr().out.startswith('knowledge-check: PyPI does not answer (https://pypi.org/simple/torch/')
    assert kc.main([]) == 2

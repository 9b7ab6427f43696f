# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""converged main(): check, record, check again, drift; check mode writes nothing."""

from __future__ import annotations

import os
import shutil

import pytest

from conftest import run_main

from ansible_collections.labops.dlstack.plugins.modules import converged


def args(tmp_path, **extra):
    base = {'name': 'pytorch_env', 'fingerprint': 'f1', 'state_dir': str(tmp_path / 'state'),
            'files': [str(tmp_path / 'pip.conf')], 'trees': [str(tmp_path / 'layer')]}
    base.update(extra)
    return base


@pytest.fixture
def host(tmp_path):
    (tmp_path / 'layer' / 'torch').mkdir(parents=True)
    (tmp_path / 'layer' / 'torch' / '__init__.py').write_text('x = 1\n')
    (tmp_path / 'pip.conf').write_text('[global]\n')
    return tmp_path


def test_record_then_converged_then_drift(capsys, host):
    rc, out = run_main(capsys, converged.main, args(host))
    assert rc == 0 and out['converged'] is False and out['changed'] is False
    assert out['drift'] == ['no record of an earlier converge of this role on this host']

    rc, out = run_main(capsys, converged.main, args(host, record=True))
    assert rc == 0 and out['changed'] is True
    assert os.path.isfile(out['path'])
    rc, out = run_main(capsys, converged.main, args(host, record=True))
    assert out['changed'] is False  # the same host records the same

    rc, out = run_main(capsys, converged.main, args(host))
    assert out['converged'] is True and out['drift'] == [] and out['drifted_trees'] == []

    os.remove(str(host / 'layer' / 'torch' / '__init__.py'))
    rc, out = run_main(capsys, converged.main, args(host))
    assert out['converged'] is False
    assert out['drifted_trees'] == [str(host / 'layer')]

    rc, out = run_main(capsys, converged.main, args(host, fingerprint='f2'))
    assert out['drift'] == ["the role's input or code changed since its last converge here"]


def test_record_in_check_mode_writes_nothing(capsys, host):
    rc, out = run_main(capsys, converged.main, args(host, record=True, _ansible_check_mode=True))
    assert rc == 0 and out['changed'] is True
    assert not os.path.exists(out['path'])


def test_exists_is_read_live(capsys, host):
    run_main(capsys, converged.main, args(host, record=True))
    rc, out = run_main(capsys, converged.main, args(host, exists=[str(host / 'home' / '.condarc')]))
    assert out['drift'] == ['%s is missing' % (host / 'home' / '.condarc')]


@pytest.mark.skipif(shutil.which('dpkg-query') is None, reason='needs dpkg (a Debian or Ubuntu host)')
def test_packages_from_the_real_dpkg(capsys, host):
    run_main(capsys, converged.main, args(host, record=True))
    rc, out = run_main(capsys, converged.main, args(host, packages=['dpkg', 'labops-no-such-package'], held=['dpkg']))
    assert rc == 0
    assert out['drift'] == ['package labops-no-such-package is not installed', 'package dpkg is not held']


def test_a_name_that_is_not_a_file_name_fails(capsys, host):
    rc, out = run_main(capsys, converged.main, args(host, name='../etc/passwd'))
    assert rc == 1 and 'not a plain file name' in out['msg']


@pytest.mark.skipif(shutil.which('dpkg-query') is None, reason='needs dpkg (a Debian or Ubuntu host)')
def test_recorded_packages_are_checked_again(capsys, host):
    """A role that decides its package set late (after asking apt) records it; a later check names none."""
    run_main(capsys, converged.main, args(host, record=True, packages=['dpkg', 'labops-no-such-package']))
    rc, out = run_main(capsys, converged.main, args(host))
    assert out['drift'] == ['package labops-no-such-package is not installed']


@pytest.mark.skipif(shutil.which('dpkg-query') is None, reason='needs dpkg (a Debian or Ubuntu host)')
def test_installed_lists_every_package_with_the_check_in_one_dpkg_query(capsys, host, monkeypatch):
    """nvidia_driver's preflight: the listing its plan reads (the dpkg_installed filter) and the check, from one
    dpkg-query of the real dpkg."""
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.labops.dlstack.plugins.filter.nvidia_driver import FilterModule
    calls = []
    real = AnsibleModule.run_command

    def counting(self, args, *rest, **kwargs):
        calls.append(args)
        return real(self, args, *rest, **kwargs)
    monkeypatch.setattr(AnsibleModule, 'run_command', counting)
    run_main(capsys, converged.main, args(host, record=True, packages=['dpkg'], held=['dpkg']))
    calls.clear()
    rc, out = run_main(capsys, converged.main, args(host, installed=True))
    assert rc == 0 and len(calls) == 1  # one dpkg-query for the listing and the recorded packages
    assert out['drift'] == ['package dpkg is not held']  # dpkg is installed, and nobody holds it here
    installed = FilterModule().filters()['dpkg_installed'](out['dpkg_stdout'])
    assert 'dpkg' in installed and installed['dpkg'][0].isdigit()
    assert all(line.count('\t') == 2 for line in out['dpkg_stdout'].splitlines())


def test_installed_and_record_exclude_each_other(capsys, host):
    rc, out = run_main(capsys, converged.main, args(host, record=True, installed=True))
    assert rc == 1 and 'mutually exclusive' in out['msg']

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A long step killed mid-way (controller and remote process, SIGKILL): the next run converges, no manual cleanup.

1. conda: the installer (the stand-in of molecule/conda, with one line added that sleeps while a flag
   file exists, after it has made the prefix and its Python but before conda itself) is killed half-way;
2. pytorch_env: the shared layer's `uv pip install` of torch from the offline wheelhouse is killed while
   it unpacks.
In both, the ansible-playbook process group is killed first (the controller dies), then the remote
process group inside the container (the host loses the process too); the test checks the host really was
left half-done, then reruns the same command and checks the result as the user.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import pytest

from dlstack_faults import (STANDIN, USERS, ansible_env, dexec, lab_vars, playbook_argv, run_playbook, sha256_file,
                            start_container, wait_for, write_inventory)

SLOW_FLAG = '/tmp/dlstack-faults-slow-installer'


def _pids(container, pattern):
    proc = dexec(container, 'pgrep', '-f', pattern, check=False)
    return [int(p) for p in proc.stdout.split()]


def _kill_remote(container, pattern):
    """SIGKILL the process groups of the processes matching pattern in the container (by pid)."""
    for pid in _pids(container, pattern):
        pgid = dexec(container, 'ps', '-o', 'pgid=', '-p', str(pid), check=False).stdout.strip()
        if pgid:
            dexec(container, 'kill', '-KILL', '--', '-' + pgid, check=False)
    assert wait_for(lambda: not _pids(container, pattern), 30), 'remote %s still running' % pattern


@contextlib.contextmanager
def _started(tmp_path, name, inventory, tags):
    """ansible-playbook running in the background, its output in tmp_path/NAME.log: (proc, log). Leaving the
    block kills its process group if it still runs and closes the log."""
    log = open(tmp_path / (name + '.log'), 'w')
    proc = subprocess.Popen(playbook_argv(inventory, tags=tags), stdout=log, stderr=subprocess.STDOUT,
                            env=ansible_env('default'), cwd=str(tmp_path), start_new_session=True)
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _kill_controller(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope='module')
def interrupted_host(lab, tmp_path_factory):
    base = tmp_path_factory.mktemp('interrupt')
    container = start_container('interrupt')
    # the installer: the stand-in plus a pause after the prefix and its Python exist, before conda itself
    text = STANDIN.read_text()
    marker = '\nmkdir -p "$PREFIX/conda-meta"'
    assert marker in text
    installer = base / 'Miniforge3-slowstandin-Linux-x86_64.sh'
    installer.write_text(text.replace(marker, '\nif [ -e %s ]; then sleep 600; fi%s' % (SLOW_FLAG, marker), 1))
    reports = base / 'reports'
    reports.mkdir()
    variables = dict(lab_vars(reports), conda_installer_src=str(installer), conda_installer_sha256=sha256_file(installer))
    inventory = write_inventory(base / 'inventory.yml', {'ws-int': (container, {})}, variables)
    return container, inventory, base


def test_conda_installer_killed_midway_then_rerun_converges(interrupted_host):
    container, inventory, base = interrupted_host
    prefix = '/home/alice/miniforge3'
    dexec(container, 'touch', SLOW_FLAG)
    with _started(base, 'conda-killed', inventory, 'conda') as (proc, log):
        found = wait_for(lambda: _pids(container, 'sleep 600'), 240)
        assert found, 'the installer never reached its pause; see %s' % log.name
        _kill_controller(proc)
    _kill_remote(container, 'Miniforge3-slowstandin')
    _kill_remote(container, 'sleep 600')
    # really half-done: a prefix with a Python but no conda, the role's in-progress mark, no completion record
    assert dexec(container, 'test', '-x', prefix + '/bin/python', check=False).returncode == 0
    assert dexec(container, 'test', '-e', prefix + '/bin/conda', check=False).returncode != 0
    assert dexec(container, 'test', '-e', prefix + '.labops-dlstack-incomplete', check=False).returncode == 0
    assert dexec(container, 'test', '-e', prefix + '/.labops-dlstack-installer.json', check=False).returncode != 0

    dexec(container, 'rm', '-f', SLOW_FLAG)
    run = run_playbook(base / 'conda-rerun.log', inventory, tags='conda')
    assert run.rc == 0 and run.stats['ws-int']['failures'] == 0, run.summary('ws-int')
    for user in USERS:
        home = '/home/%s/miniforge3' % user
        out = dexec(container, home + '/bin/conda', '--version', user=user, check=False)
        assert (out.returncode, out.stdout.strip()) == (0, 'conda 26.3.2'), out
        assert dexec(container, 'find', home, '!', '-user', user).stdout == ''
        assert dexec(container, 'test', '-e', home + '.labops-dlstack-incomplete', check=False).returncode != 0
        assert dexec(container, 'test', '-s', home + '/.labops-dlstack-installer.json', check=False).returncode == 0


def test_torch_layer_install_killed_midway_then_rerun_converges(interrupted_host):
    container, inventory, base = interrupted_host
    with _started(base, 'pytorch-killed', inventory, 'pytorch') as (proc, log):
        found = wait_for(lambda: _pids(container, 'uv pip install'), 420)
        assert found, 'the layer install never started; see %s' % log.name
        # let it unpack part of torch
        wait_for(lambda: dexec(container, 'sh', '-c', 'ls -d /opt/labops-dlstack/pytorch/layers/*/lib/python3.11/site-packages/torch',
                               check=False).returncode == 0, 120)
        _kill_controller(proc)
    _kill_remote(container, 'uv pip install')
    layers = dexec(container, 'sh', '-c', 'ls -d /opt/labops-dlstack/pytorch/layers/*/').stdout.split()
    assert len(layers) == 1, layers
    # really half-done: the layer exists, is not marked complete, and no user has an environment yet
    assert dexec(container, 'test', '-e', layers[0] + 'labops-dlstack-layer.json', check=False).returncode != 0, layers
    assert dexec(container, 'test', '-e', '/home/alice/.venvs/torch/bin/python', check=False).returncode != 0

    run = run_playbook(base / 'pytorch-rerun.log', inventory, tags='pytorch')
    assert run.rc == 0 and run.stats['ws-int']['failures'] == 0, run.summary('ws-int')
    for user in USERS:
        out = dexec(container, '/home/%s/.venvs/torch/bin/python' % user, '-c',
                    'import torch; print(torch.__version__, torch.ones(2, 2).sum().item())', user=user, check=False)
        assert (out.returncode, out.stdout.strip()) == (0, '2.13.0+cpu 4.0'), out
        assert dexec(container, 'find', '/home/%s/.venvs' % user, '!', '-user', user).stdout == ''

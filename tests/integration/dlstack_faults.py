# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the fault and bad-input tests of labops.dlstack: real containers, the real site playbook.

Run from the repository root (after `make setup`, which builds the venv, the test image, the offline
wheelhouse and the collection path):

    ANSIBLE_COLLECTIONS_PATH=$PWD/.cache/collections DLSTACK_WHEELHOUSE=$PWD/.cache/wheelhouse \\
        .venv/bin/python -m pytest tests/integration

Every container is named dlstack-faults-*, started from labops-dlstack/debian:12 with `sleep infinity`
and removed at the end of the session, also when a test fails or the run is interrupted (leftovers of
an earlier killed session are removed at the start). The simulated GPU hosts are recorded captures
(tests/unit/tools/gpu_profile.py) mounted read-only at /opt/labops-faults/gpu/<profile>; the offline
wheelhouse is mounted read-only at /opt/labops-faults/wheelhouse, as demo/lab.yml does.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get('DLSTACK_FAULTS_IMAGE', 'labops-dlstack/debian:12')
PREFIX = 'dlstack-faults-'
LABEL = 'org.labops.dlstack.faults=true'
WORK = REPO / '.cache' / 'faults'
PROFILES = ('rtx3090-nouveau', 'rtx4090-r535', 'blackwell-nodriver', 'h200', 't4-busy', 't4-idle')
GPU_MOUNT = '/opt/labops-faults/gpu'
WHEEL_MOUNT = '/opt/labops-faults/wheelhouse'
STANDIN = REPO / 'molecule' / 'conda' / 'files' / 'Miniforge3-standin-Linux-x86_64.sh'
USERS = ('alice', 'bob')

_STARTED = set()


# ------------------------------------------------------------------------------------------------
# docker
# ------------------------------------------------------------------------------------------------

def docker(*args, check=True, timeout=120, input_text=None):
    proc = subprocess.run(['docker'] + list(args), capture_output=True, text=True, timeout=timeout, input=input_text,
                          check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('docker %s: rc=%s\n%s%s' % (' '.join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def dexec(container, *argv, user=None, check=True, timeout=120, input_text=None):
    """Run argv in the container (as root unless user), return the CompletedProcess."""
    args = ['exec', '-i'] + (['-u', user] if user else []) + [container] + list(argv)
    return docker(*args, check=check, timeout=timeout, input_text=input_text)


def remove_container(name):
    docker('rm', '-f', '-v', name, check=False, timeout=120)
    _STARTED.discard(name)


def remove_all_containers():
    listed = docker('ps', '-aq', '--filter', 'label=' + LABEL, '--filter', 'name=' + PREFIX, check=False)
    ids = listed.stdout.split()
    if ids:
        docker('rm', '-f', '-v', *ids, check=False, timeout=300)
    _STARTED.clear()


atexit.register(remove_all_containers)


def start_container(suffix, users=USERS):
    """A fresh container dlstack-faults-<suffix> with the lab users (a real lab has them already)."""
    name = PREFIX + suffix
    remove_container(name)
    mounts = ['--mount', 'type=bind,source=%s,target=%s,readonly' % (WORK / 'profiles', GPU_MOUNT)]
    wheelhouse = os.environ.get('DLSTACK_WHEELHOUSE') or str(REPO / '.cache' / 'wheelhouse')
    mounts += ['--mount', 'type=bind,source=%s,target=%s,readonly' % (os.path.realpath(wheelhouse), WHEEL_MOUNT)]
    docker('run', '-d', '--name', name, '--hostname', name, '--label', LABEL, *mounts, IMAGE, 'sleep', 'infinity')
    _STARTED.add(name)
    for user in users:
        dexec(name, 'useradd', '--create-home', '--shell', '/bin/bash', user)
    return name


# ------------------------------------------------------------------------------------------------
# state snapshots: what a run changed in the container
# ------------------------------------------------------------------------------------------------

# Walks the container's root filesystem (-xdev: not the bind mounts, /proc, /sys), skipping what any
# run touches without changing the host's state: ansible's own temp and cache files, logs, apt's
# downloaded lists and cache. Directories are recorded without mtime/size (their entries are
# recorded); files with mode, owner, size, mtime and, under /etc, /home, /opt, /usr/local, /var/lib/dpkg,
# a sha256 of the content. dpkg's view (versions, status, holds) is recorded too.
_SNAPSHOT = r'''
import hashlib, json, os, stat, subprocess, sys
SKIP = ('/proc', '/sys', '/dev', '/tmp', '/root/.ansible', '/var/log', '/var/cache/apt', '/var/lib/apt/lists',
        '/opt/labops-faults')
HASHED = ('/etc/', '/home/', '/opt/', '/usr/local/', '/var/lib/dpkg/', '/root/')
root_dev = os.lstat('/').st_dev
def root_fs_stat(p):
    # lstat of p, or None when it is gone or on another filesystem than / (-xdev)
    try:
        st = os.lstat(p)
    except OSError:
        return None
    return st if st.st_dev == root_dev else None
files = {}
for top, dirs, names in os.walk('/'):
    keep = []
    for d in dirs:
        p = os.path.join(top, d)
        st = None if p in SKIP else root_fs_stat(p)
        if st is None:
            continue
        files[p] = ['d', oct(st.st_mode), st.st_uid, st.st_gid]
        keep.append(d)
    dirs[:] = keep
    for n in names:
        p = os.path.join(top, n)
        st = root_fs_stat(p)
        if st is None:
            continue
        entry = ['f', oct(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns]
        if stat.S_ISLNK(st.st_mode):
            entry = ['l', os.readlink(p), st.st_uid, st.st_gid]
        elif stat.S_ISREG(st.st_mode) and p.startswith(HASHED) and st.st_size < 4 << 20:
            with open(p, 'rb') as h:
                entry.append(hashlib.sha256(h.read()).hexdigest())
        files[p] = entry
dpkg = subprocess.run(['dpkg-query', '-W', '-f', '${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n'],
                      capture_output=True, text=True).stdout.splitlines()
holds = subprocess.run(['apt-mark', 'showhold'], capture_output=True, text=True).stdout.split()
json.dump({'files': files, 'dpkg': sorted(dpkg), 'holds': sorted(holds)}, sys.stdout)
'''


def snapshot(container):
    return json.loads(dexec(container, 'python3', '-', input_text=_SNAPSHOT, timeout=300).stdout)


def snapshot_diff(before, after, limit=25):
    """Human-readable differences between two snapshots ([] = unchanged)."""
    lines = []
    bf, af = before['files'], after['files']
    for path in sorted(set(bf) | set(af)):
        if path not in af:
            lines.append('removed  %s' % path)
        elif path not in bf:
            lines.append('added    %s' % path)
        elif bf[path] != af[path]:
            lines.append('changed  %s: %s -> %s' % (path, bf[path], af[path]))
    for key in ('dpkg', 'holds'):
        gone = sorted(set(before[key]) - set(after[key]))
        new = sorted(set(after[key]) - set(before[key]))
        lines += ['%s -%s' % (key, x) for x in gone] + ['%s +%s' % (key, x) for x in new]
    if len(lines) > limit:
        lines = lines[:limit] + ['... %d more' % (len(lines) - limit)]
    return lines


def package_health(container):
    """(dpkg --audit output, apt-get check rc + output, dpkg -l lines not 'ii')."""
    audit = dexec(container, 'dpkg', '--audit', check=False)
    check = dexec(container, 'apt-get', 'check', '-q', check=False)
    listing = dexec(container, 'dpkg', '-l').stdout.splitlines()
    # the header: 'Desired=...', '| Status=...', '|/ Err?=...', '||/ Name ...', '+++-...'
    not_ii = [line for line in listing if line.strip() and not line.startswith(('ii ', 'Desired=', '| ', '|/', '||/', '+++'))]
    return audit.stdout + audit.stderr, (check.returncode, check.stdout + check.stderr), not_ii


# ------------------------------------------------------------------------------------------------
# ansible-playbook
# ------------------------------------------------------------------------------------------------

def sha256_file(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def lab_vars(reports):
    """The inventory variables of a realistic lab, like demo/inventory.yml (two users, offline torch, conda)."""
    return {
        'ansible_connection': 'community.docker.docker',
        'ansible_python_interpreter': '/usr/bin/python3',
        'dlstack_serial': '100%',
        'dlstack_torch_version': '2.13',
        'ca_trust_certificates': [{'name': 'faults-controller-ca',
                                   'src': os.environ.get('DLSTACK_CA_BUNDLE') or '/etc/ssl/certs/ca-certificates.crt'}],
        'conda_users': list(USERS),
        'conda_installer_src': str(STANDIN),
        'conda_installer_sha256': sha256_file(STANDIN),
        'pytorch_env_users': [{'user': u, 'envs': [{'name': 'torch'}]} for u in USERS],
        'pytorch_env_torch_version': '2.13.0',
        'pytorch_env_variant': 'cpu',
        'pytorch_env_find_links': [WHEEL_MOUNT],
        'pytorch_env_offline': True,
        'pytorch_env_index_url_template': '',
        'dlstack_cuda_toolkit': False,
        'fleet_report_dir': str(reports),
        'pytorch_env_report_dir': str(reports / 'pytorch_env'),
    }


def gpu_vars(profile):
    """Point labops.dlstack.gpu_facts at a recorded GPU host (None: the container as it is, no GPU)."""
    if not profile:
        return {}
    base = '%s/%s' % (GPU_MOUNT, profile)
    return {'dlstack_gpu_probe_sysfs_root': base + '/sys', 'dlstack_gpu_probe_procfs_root': base + '/proc',
            'dlstack_gpu_probe_nvidia_smi': base + '/bin/nvidia-smi'}


def write_inventory(path, hosts, common):
    """hosts: inventory name -> (container, host vars). JSON is YAML: the yaml inventory plugin reads it."""
    inventory = {'all': {'vars': common, 'hosts': {
        name: dict(vars_, ansible_host=container) for name, (container, vars_) in hosts.items()}}}
    path.write_text(json.dumps(inventory, indent=1))
    return path


def ansible_env(callback='ansible.posix.json'):
    env = dict(os.environ)
    env.update({
        'PATH': '%s:%s' % (REPO / '.venv' / 'bin', env.get('PATH', '')),
        'ANSIBLE_COLLECTIONS_PATH': env.get('ANSIBLE_COLLECTIONS_PATH') or str(REPO / '.cache' / 'collections'),
        'ANSIBLE_INJECT_FACT_VARS': 'false',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        'ANSIBLE_FORCE_COLOR': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        # fewer docker exec round trips per task: the only non-default setting, for speed on 2 cores
        'ANSIBLE_PIPELINING': 'true',
        'ANSIBLE_STDOUT_CALLBACK': callback,
    })
    return env


def playbook_argv(inventory, tags=None, check=False, extra=None, limit=None, playbook='labops.dlstack.site'):
    argv = [str(REPO / '.venv' / 'bin' / 'ansible-playbook'), '-i', str(inventory), playbook]
    if tags:
        argv += ['--tags', tags]
    if check:
        argv.append('--check')
    if limit:
        argv += ['--limit', limit]
    for item in extra or ():
        argv += ['-e', json.dumps(item)]
    return argv


class Run(object):
    """One ansible-playbook run with the json callback: rc, per-host stats, failures and changes."""

    def __init__(self, proc, log):
        self.rc = proc.returncode
        self.log = log
        self.stderr = proc.stderr
        text = proc.stdout
        try:
            self.data = json.loads(text[text.index('{'):])
        except ValueError:
            self.data = {'plays': [], 'stats': {}}
        self.stats = self.data.get('stats', {})

    def results(self, host):
        """(task name, result) of every task result of host, in order."""
        for play in self.data.get('plays', []):
            for task in play.get('tasks', []):
                result = task.get('hosts', {}).get(host)
                if result is not None:
                    yield task['task']['name'], result

    def failures(self, host):
        out = []
        for name, result in self.results(host):
            items = result.get('results') if isinstance(result.get('results'), list) else []
            if result.get('failed') or result.get('unreachable'):
                msgs = [result.get('msg', '')] + [i.get('msg', '') for i in items if isinstance(i, dict) and i.get('failed')]
                out.append((name, ' '.join(str(m) for m in msgs if m)))
        return out

    def changed_tasks(self, host):
        return [name for name, result in self.results(host) if result.get('changed')]

    def summary(self, host):
        return 'rc=%s stats=%s failures=%s log=%s' % (self.rc, self.stats.get(host), self.failures(host), self.log)


def run_playbook(log, inventory, tags=None, check=False, extra=None, limit=None, timeout=900, playbook='labops.dlstack.site'):
    argv = playbook_argv(inventory, tags=tags, check=check, extra=extra, limit=limit, playbook=playbook)
    proc = subprocess.run(argv, capture_output=True, text=True, env=ansible_env(), cwd=str(REPO), timeout=timeout,
                          check=False)
    log.write_text('$ %s\n\n%s\n--- stderr\n%s' % (' '.join(argv), proc.stdout, proc.stderr))
    return Run(proc, log)


def wait_for(predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None

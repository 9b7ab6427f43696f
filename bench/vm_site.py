# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""labops.dlstack.site on a VM of the VM lab (molecule/vm) against the same play on a container.

    make vm-images                                   # the disk images (once; cached by recipe)
    .venv/bin/python bench/vm_site.py [--release 12] [--json bench/results/vm_site-12.json]

One run, in this order, each timed from start to exit:
  1. container: a fresh labops-dlstack/debian:12 (or :13) container with alice and bob (as demo/lab.yml
     adds them), the same inventory variables as molecule/vm, labops.dlstack.site: converge, then a re-run;
  2. VM: `molecule create` (run disk, golden-image step in a chroot, QEMU boot: timed, not compared),
     `prepare`, `converge` (site.yml over SSH, the driver role's decided reboot included), `idempotence`
     (the re-run, which must report changed=0), `verify` (testinfra), `destroy`.
The ratios VM / container of converge and re-run are the figures: the two runs differ in more than the
machine (the container gets the driver userspace only, container mode; the VM the host path with its
initramfs rebuild and reboot), which is what the VM lab adds. Absolute seconds depend on the load of the
shared machine (recorded before and after each step) and on KVM or TCG (recorded). Writes JSON and keeps
each step's output in bench/results/vm_site-logs/. The container is dlstack-bench-vmref (removed at the end).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
CONTAINER = 'dlstack-bench-vmref'
USERS = ['alice', 'bob']
STANDIN = os.path.join(ROOT, 'molecule', 'conda', 'files', 'Miniforge3-standin-Linux-x86_64.sh')
TIMER = re.compile(r'Playbook run took (\d+) days, (\d+) hours, (\d+) minutes, (\d+) seconds')


def env_for_tools():
    env = dict(os.environ)
    env.update({'PATH': os.path.join(ROOT, '.venv', 'bin') + os.pathsep + env.get('PATH', ''),
                'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.cache', 'collections'),
                'ANSIBLE_INJECT_FACT_VARS': 'false', 'ANSIBLE_HOST_KEY_CHECKING': 'false',
                'ANSIBLE_FORCE_COLOR': 'false', 'PY_COLORS': '0',
                'DLSTACK_WHEELHOUSE': env.get('DLSTACK_WHEELHOUSE', os.path.join(ROOT, '.cache', 'wheelhouse')),
                'DLSTACK_CA_BUNDLE': env.get('DLSTACK_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt')})
    return env


def step(results, logdir, key, argv, env, timeout):
    log = os.path.join(logdir, '%02d-%s.log' % (len(results) + 1, key))
    load_before = os.getloadavg()[0]
    sys.stdout.write('%-28s ... ' % key)
    sys.stdout.flush()
    start = time.monotonic()
    with open(log, 'w', encoding='utf-8') as out:
        try:
            rc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, timeout=timeout,
                                check=False).returncode
        except subprocess.TimeoutExpired:
            rc = 'timeout after %ds' % timeout
    seconds = round(time.monotonic() - start, 1)
    with open(log, encoding='utf-8', errors='replace') as handle:
        text = handle.read()
    changed = [int(m) for m in re.findall(r'^\S+\s*:\s*ok=\d+\s+changed=(\d+)', text, re.M)]
    row = {'step': key, 'seconds': seconds, 'rc': rc, 'load_before': round(load_before, 2),
           'load_after': round(os.getloadavg()[0], 2), 'changed_per_recap': changed, 'log': os.path.relpath(log, ROOT)}
    results.append(row)
    print('%7.1f s  rc=%s  changed=%s' % (seconds, rc, changed))
    if rc != 0:
        raise SystemExit('%s failed (rc %s): see %s' % (key, rc, log))
    return row


def container_inventory(path, release, workdir):
    with open(STANDIN, 'rb') as handle:
        sha = hashlib.sha256(handle.read()).hexdigest()
    host = {'12': {'nvidia_driver_branch': '535', 'pytorch_env_torch_version': '2.13.0',
                   'pytorch_env_find_links': ['/opt/wheelhouse'], 'pytorch_env_offline': True,
                   'pytorch_env_index_url_template': ''},
            '13': {'nvidia_driver_branch': '550', 'pytorch_env_torch_version': '2.6.0',
                   'pytorch_env_system_site_packages_from': '/usr/lib/python3/dist-packages'}}[release]
    variables = dict(host, **{
        'ansible_connection': 'community.docker.docker', 'ansible_python_interpreter': '/usr/bin/python3',
        'dlstack_serial': '100%', 'dlstack_cuda_toolkit': False,
        'nvidia_driver_install_without_gpu': True, 'nvidia_driver_flavour': 'proprietary',
        'ca_trust_certificates': [{'name': 'test-host-ca',
                                   'src': os.environ.get('DLSTACK_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt')}],
        'conda_users': USERS, 'conda_version': '26.3.2-3', 'conda_installer_src': STANDIN, 'conda_installer_sha256': sha,
        'pytorch_env_users': [{'user': u, 'envs': [{'name': 'torch'}]} for u in USERS], 'pytorch_env_variant': 'auto',
        'pytorch_env_report_dir': os.path.join(workdir, 'reports', 'pytorch_env'),
        'fleet_report_dir': os.path.join(workdir, 'reports')})
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump({'all': {'vars': variables, 'hosts': {CONTAINER: {}}}}, handle, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--release', default='12', choices=['12', '13'])
    parser.add_argument('--json', default=None)
    parser.add_argument('--timeout', type=int, default=3600, help='seconds per step')
    args = parser.parse_args(argv)
    out = args.json or os.path.join(ROOT, 'bench', 'results', 'vm_site-%s.json' % args.release)
    logdir = os.path.join(ROOT, 'bench', 'results', 'vm_site-logs', args.release)
    os.makedirs(logdir, exist_ok=True)
    env = env_for_tools()
    results = []
    workdir = tempfile.mkdtemp(prefix='dlstack-bench-vm-')
    inventory = os.path.join(workdir, 'inventory.json')
    container_inventory(inventory, args.release, workdir)
    site = [os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', inventory, 'labops.dlstack.site']
    subprocess.run(['docker', 'rm', '-f', CONTAINER], capture_output=True, check=False)
    try:
        run = ['docker', 'run', '-d', '--name', CONTAINER, '--hostname', CONTAINER]
        if args.release == '12':
            run += ['--mount', 'type=bind,source=%s,target=/opt/wheelhouse,readonly' % env['DLSTACK_WHEELHOUSE']]
        subprocess.run(run + ['labops-dlstack/debian:%s' % args.release, 'sleep', 'infinity'], check=True,
                       capture_output=True)
        for user in USERS:
            subprocess.run(['docker', 'exec', CONTAINER, 'useradd', '--create-home', '--shell', '/bin/bash', user],
                           check=True, capture_output=True)
        if args.release == '13':  # what molecule/default's prepare gives Debian 13 (the VM's golden step too)
            subprocess.run(['docker', 'exec', CONTAINER, 'sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive '
                            'apt-get install -y -qq --no-install-recommends python3-torch >/dev/null'], check=True)
        step(results, logdir, 'container-converge', site, env, args.timeout)
        step(results, logdir, 'container-rerun', site, env, args.timeout)
    finally:
        subprocess.run(['docker', 'rm', '-f', CONTAINER], capture_output=True, check=False)
    vm_env = dict(env, DLSTACK_VM_RELEASE=args.release)
    molecule = [os.path.join(ROOT, '.venv', 'bin', 'molecule')]
    try:
        step(results, logdir, 'vm-destroy-before', molecule + ['destroy', '-s', 'vm'], vm_env, args.timeout)
        step(results, logdir, 'vm-create', molecule + ['create', '-s', 'vm'], vm_env, args.timeout)
        step(results, logdir, 'vm-prepare', molecule + ['prepare', '-s', 'vm'], vm_env, args.timeout)
        step(results, logdir, 'vm-converge', molecule + ['converge', '-s', 'vm'], vm_env, args.timeout)
        step(results, logdir, 'vm-rerun', molecule + ['idempotence', '-s', 'vm'], vm_env, args.timeout)
        step(results, logdir, 'vm-verify', molecule + ['verify', '-s', 'vm'], vm_env, args.timeout)
    finally:
        subprocess.run(molecule + ['destroy', '-s', 'vm'], env=vm_env, cwd=ROOT, capture_output=True, check=False)
    by = dict((r['step'], r) for r in results)
    verdict = os.path.join(ROOT, '.cache', 'vm', 'accel.verdict')
    accel = open(verdict, encoding='utf-8').read().split()[-1] if os.path.exists(verdict) else 'unknown'
    summary = {
        'release': args.release, 'accel': accel, 'host_cpus': os.cpu_count(),
        'converge_ratio_vm_over_container': round(by['vm-converge']['seconds'] / by['container-converge']['seconds'], 2),
        'rerun_ratio_vm_over_container': round(by['vm-rerun']['seconds'] / by['container-rerun']['seconds'], 2),
        'vm_create_seconds': by['vm-create']['seconds'],
    }
    with open(out, 'w', encoding='utf-8') as handle:
        json.dump({'summary': summary, 'steps': results}, handle, indent=2)
    print('\nDebian %s, %s: converge VM/container %.2f, re-run VM/container %.2f (-> %s)'
          % (args.release, accel, summary['converge_ratio_vm_over_container'], summary['rerun_ratio_vm_over_container'],
             os.path.relpath(out, ROOT)))
    return 0


if __name__ == '__main__':
    sys.exit(main())

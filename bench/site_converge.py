# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long labops.dlstack.site takes to converge a fleet, and what the Ansible settings change.

    make setup     # venv, test image, offline wheelhouse, collection path (once)
    .venv/bin/python bench/site_converge.py [--json bench/results/site_converge.json] [--gpu-profile h200]

One run, on throwaway containers of labops-dlstack/debian:12 (dlstack-bench-one, dlstack-bench-fleet1..3,
removed at the end, also on failure or Ctrl-C), each with the lab users alice and bob (created like
demo/lab.yml does) and an inventory like demo/inventory.yml:
  - pytorch_env: torch 2.13.0+cpu for alice and bob, offline from the wheelhouse (.cache/wheelhouse,
    `make wheelhouse`) mounted read-only; its check runs torch as each user;
  - conda: alice and bob, from the STAND-IN installer molecule/conda/files/Miniforge3-standin-Linux-x86_64.sh
    (conda_installer_src; not conda: see molecule/conda/README.md);
  - CUDA toolkit stage OFF (dlstack_cuda_toolkit: false; about 1.7 GB of packages per host);
  - no GPU (gpu_facts says no_gpu), unless --gpu-profile PROFILE mounts a recorded GPU host
    (tests/unit/tools/gpu_profile.py) on every host, as the demo does on two of its hosts;
  - dlstack_serial "100%" (like the demo: containers never reboot; the default 25% would run the driver
    play one host at a time on a 3-host fleet).

Measured, in this order (every run is ansible-playbook labops.dlstack.site, wall time from start to exit):
  1. converge from fresh containers on 1 host (dlstack-bench-one), then on 3 fresh hosts (the fleet):
     the 3-host / 1-host ratio;
  2. idempotent re-runs (goal: changed=0 on every host): 1 host, and 3 hosts with Ansible's defaults
     (forks 5, no pipelining, gather_subset all, no fact cache) and with one setting changed each:
     forks=1 (ANSIBLE_FORKS), pipelining (ANSIBLE_PIPELINING=true), gather_subset=min (a copy of
     site.yml with `gather_subset: [min]` on its fact-gathering play: ansible-core 2.19 no longer has
     DEFAULT_GATHER_SUBSET / ANSIBLE_GATHER_SUBSET), fact cache (ANSIBLE_GATHERING=smart +
     ANSIBLE_CACHE_PLUGIN=jsonfile: a first run fills the cache, the second run is the one compared),
     pipelining + fact cache together; the default re-run is measured first and again last, and each
     setting is compared with the mean of the two (their ratio says how much the load drifted).
Absolute seconds depend on the machine and its load (the load average is recorded before and after
each run): compare ratios within one run. Prints a table and writes JSON; each run's output is kept
in bench/results/site_converge-logs/ (--reparse recomputes the JSON from them). Cost: 11 playbook runs,
38 minutes on the project's shared 2-core machine at load 3-8 (--no-settings: 5 runs). Figures and
what they mean: bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
IMAGE = 'labops-dlstack/debian:12'
ONE = 'dlstack-bench-one'
FLEET = ['dlstack-bench-fleet1', 'dlstack-bench-fleet2', 'dlstack-bench-fleet3']
USERS = ['alice', 'bob']
WHEELS_IN_CONTAINER = '/opt/labops-bench/wheelhouse'
GPU_IN_CONTAINER = '/opt/labops-bench/gpu'
STANDIN = os.path.join(ROOT, 'molecule', 'conda', 'files', 'Miniforge3-standin-Linux-x86_64.sh')
STANDIN_VERSION = '26.3.2-3'
RECAP = re.compile(r'^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)'
                   r'\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)')
TASK = re.compile(r'^(?:TASK|RUNNING HANDLER) \[(.*)\]')
CHANGED = re.compile(r'^changed: \[([^\]\s]+)(?: -> ([^\]]+))?\]')


def sh(argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True).stdout


def remove_containers():
    for name in [ONE] + FLEET:
        subprocess.run(['docker', 'rm', '-f', name], capture_output=True, check=False)


def start_containers(wheelhouse, profile_dir):
    for name in [ONE] + FLEET:
        argv = ['docker', 'run', '-d', '--name', name, '--hostname', name,
                '--label', 'org.labops.dlstack.bench=true',
                '--mount', 'type=bind,source=%s,target=%s,readonly' % (wheelhouse, WHEELS_IN_CONTAINER)]
        if profile_dir:
            argv += ['--mount', 'type=bind,source=%s,target=%s,readonly' % (profile_dir, GPU_IN_CONTAINER)]
        sh(argv + [IMAGE, 'sleep', 'infinity'])
        for user in USERS:  # the lab's users, as demo/lab.yml adds them
            sh(['docker', 'exec', name, 'sh', '-c',
                'id %s >/dev/null 2>&1 || useradd --create-home --shell /bin/bash %s' % (user, user)])


def write_inventory(path, hosts, workdir, profile):
    with open(STANDIN, 'rb') as handle:
        standin_sha256 = hashlib.sha256(handle.read()).hexdigest()
    variables = {
        'ansible_connection': 'community.docker.docker',
        'ansible_python_interpreter': '/usr/bin/python3',
        'dlstack_serial': '100%',
        'dlstack_torch_version': '2.13',
        'dlstack_cuda_toolkit': False,
        'ca_trust_certificates': [{'name': 'bench-controller-ca',
                                   'src': os.environ.get('DLSTACK_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt')}],
        'pytorch_env_users': [{'user': user, 'envs': [{'name': 'torch'}]} for user in USERS],
        'pytorch_env_torch_version': '2.13.0',
        'pytorch_env_variant': 'cpu',
        'pytorch_env_find_links': [WHEELS_IN_CONTAINER],
        'pytorch_env_offline': True,
        'pytorch_env_index_url_template': '',
        'pytorch_env_report_dir': os.path.join(workdir, 'reports', 'pytorch_env'),
        'conda_users': list(USERS),
        'conda_version': STANDIN_VERSION,
        'conda_installer_src': STANDIN,
        'conda_installer_sha256': standin_sha256,
        'fleet_report_dir': os.path.join(workdir, 'reports'),
    }
    if profile:
        variables.update({'dlstack_gpu_probe_sysfs_root': GPU_IN_CONTAINER + '/sys',
                          'dlstack_gpu_probe_procfs_root': GPU_IN_CONTAINER + '/proc',
                          'dlstack_gpu_probe_nvidia_smi': GPU_IN_CONTAINER + '/bin/nvidia-smi'})
    with open(path, 'w', encoding='utf-8') as handle:  # JSON is YAML
        json.dump({'all': {'vars': variables, 'hosts': dict((host, {}) for host in hosts)}}, handle, indent=2)


def subset_min_playbook(workdir):
    """site.yml with gather_subset: [min] on its one fact-gathering play (the only change)."""
    with open(os.path.join(ROOT, 'playbooks', 'site.yml'), encoding='utf-8') as handle:
        text = handle.read()
    marker = '  gather_facts: true\n'
    if text.count(marker) != 1:
        raise SystemExit('site.yml no longer has exactly one "gather_facts: true" play: update bench/site_converge.py')
    path = os.path.join(workdir, 'site_gather_subset_min.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text.replace(marker, marker + '  gather_subset: [min]\n'))
    return path


def base_env(workdir):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))  # defaults only
    cfg = os.path.join(workdir, 'ansible.cfg')
    open(cfg, 'w', encoding='utf-8').close()  # no ansible.cfg from the user's home or cwd
    env.update({
        'PATH': os.path.join(ROOT, '.venv', 'bin') + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_CONFIG': cfg,
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.cache', 'collections'),
        'ANSIBLE_INJECT_FACT_VARS': 'false',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_FORCE_COLOR': 'false',
        'ANSIBLE_NOCOLOR': 'true',
    })
    return env


def parse_output(text):
    recap, changed_tasks, task = {}, [], None
    for line in text.splitlines():
        match = TASK.match(line)
        if match:
            task = match.group(1)
            continue
        match = CHANGED.match(line)
        if match and (match.group(1), task, match.group(2)) not in changed_tasks:
            changed_tasks.append((match.group(1), task, match.group(2)))
            continue
        match = RECAP.match(line)
        if match:
            keys = ('ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored')
            recap[match.group(1)] = dict(zip(keys, (int(g) for g in match.groups()[1:])))
    return recap, [{'host': h, 'task': t, 'delegated_to': d} for h, t, d in changed_tasks]


def changed_split(row):
    """Changed tasks per host: on the host itself, and on the controller (tasks delegated to localhost)."""
    out = {}
    for host, counts in row['recap'].items():
        controller = sum(1 for c in row['changed_tasks'] if c['host'] == host and c['delegated_to'] == 'localhost')
        out[host] = {'on_host': counts['changed'] - controller, 'on_controller': controller}
    return out


class Bench(object):
    def __init__(self, env, logdir, timeout):
        self.env, self.logdir, self.timeout, self.runs = env, logdir, timeout, []

    def run(self, key, label, inventory, hosts, playbook='labops.dlstack.site', env=None, cold=False):
        full_env = dict(self.env, **(env or {}))
        argv = [os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', inventory, playbook]
        log = os.path.join(self.logdir, '%02d-%s.log' % (len(self.runs) + 1, key))
        load_before = os.getloadavg()
        sys.stdout.write('%-34s ... ' % label)
        sys.stdout.flush()
        start = time.monotonic()
        with open(log, 'w', encoding='utf-8') as out:
            try:
                proc = subprocess.run(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                      timeout=self.timeout, check=False)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                rc = 'timeout after %ds' % self.timeout
        seconds = time.monotonic() - start
        with open(log, encoding='utf-8') as handle:
            recap, changed_tasks = parse_output(handle.read())
        row = {
            'key': key, 'label': label, 'hosts': len(hosts), 'cold': cold,
            'settings': dict((k, v) for k, v in (env or {}).items() if not k.endswith('_CONNECTION')),
            'playbook': playbook if playbook == 'labops.dlstack.site' else os.path.basename(playbook),
            'seconds': round(seconds, 1), 'rc': rc,
            'load_avg_before': [round(x, 2) for x in load_before],
            'load_avg_after': [round(x, 2) for x in os.getloadavg()],
            'recap': recap, 'changed_tasks': [] if cold else changed_tasks,
            'log': os.path.relpath(log, ROOT),
        }
        self.runs.append(row)
        changed = ' '.join(str(recap.get(h, {}).get('changed', '?')) for h in hosts)
        print('%7.1f s  rc=%s  changed per host: %s' % (seconds, rc, changed))
        if rc != 0 or any(recap.get(h, {}).get('failed', 1) or recap.get(h, {}).get('unreachable', 1) for h in hosts):
            raise RuntimeError('%s failed (rc=%s): see %s' % (label, rc, log))
        return row


def machine():
    mem_kib = 0
    with open('/proc/meminfo', encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('MemTotal:'):
                mem_kib = int(line.split()[1])
    try:
        core = sh([os.path.join(ROOT, '.venv', 'bin', 'python'), '-c',
                   'import ansible.release; print(ansible.release.__version__)']).strip()
    except (OSError, subprocess.CalledProcessError):
        core = 'unknown'
    return {'nproc': os.cpu_count(), 'mem_total_gib': round(mem_kib / 1048576.0, 1),
            'platform': platform.platform(), 'python': platform.python_version(), 'ansible_core': core,
            'docker': sh(['docker', 'version', '--format', '{{.Server.Version}}'], check=False).strip()}


def ratios(runs):
    by_key = dict((r['key'], r) for r in runs)
    out = {}

    def put(name, num, den):
        if num in by_key and den in by_key:
            out[name] = round(by_key[num]['seconds'] / by_key[den]['seconds'], 2)
    put('converge_3_hosts_over_1_host', 'cold-3', 'cold-1')
    put('rerun_3_hosts_over_1_host', 'rerun-3-default', 'rerun-1-default')
    put('rerun_over_converge_3_hosts', 'rerun-3-default', 'cold-3')
    put('default_last_over_default_first (load drift)', 'rerun-3-default-again', 'rerun-3-default')
    defaults = [by_key[k]['seconds'] for k in ('rerun-3-default', 'rerun-3-default-again') if k in by_key]
    if defaults:
        base = sum(defaults) / len(defaults)
        out['rerun_3_default_mean_seconds'] = round(base, 1)
        for key in ('rerun-3-forks1', 'rerun-3-pipelining', 'rerun-3-subset-min', 'rerun-3-factcache-fill',
                    'rerun-3-factcache', 'rerun-3-pipelining-factcache'):
            if key in by_key:
                out['%s_over_default' % key.replace('rerun-3-', '')] = round(by_key[key]['seconds'] / base, 2)
    return out


def print_table(result):
    print()
    print('%-34s %5s %9s  %-26s %s' % ('run (labops.dlstack.site)', 'hosts', 'seconds',
                                       'changed per host', 'load avg (1 min) before'))
    for row in result['runs']:
        if row['cold']:
            changed = ' '.join(str(v['changed']) for _h, v in sorted(row['recap'].items()))
        else:  # on the host + on the controller (report files written by tasks delegated to localhost)
            changed = ' '.join('%d+%d' % (v['on_host'], v['on_controller']) for _h, v in sorted(changed_split(row).items()))
        print('%-34s %5d %9.1f  %-26s %.2f' % (row['label'], row['hosts'], row['seconds'], changed, row['load_avg_before'][0]))
    print('(re-runs: changed on the host + changed on the controller)')
    print()
    for name, value in result['ratios'].items():
        print('%-52s %s' % (name, value))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--json', default=os.path.join(ROOT, 'bench', 'results', 'site_converge.json'))
    parser.add_argument('--gpu-profile', default='', help='a recorded GPU host for every container '
                        '(h200, rtx3090-nouveau, ... see tests/unit/tools/gpu_profile.py); default none (no_gpu)')
    parser.add_argument('--timeout', type=int, default=900, help='seconds allowed per ansible-playbook run')
    parser.add_argument('--no-settings', action='store_true', help='converge and default re-runs only')
    parser.add_argument('--reparse', action='store_true', help='no new runs: recompute --json from the logs it names')
    args = parser.parse_args()
    if args.reparse:
        return reparse(args.json)

    wheelhouse = prerequisites()
    workdir, logdir = workspace(args.json, 'site')
    gpu = ('none (gpu_facts: no_gpu; nvidia_driver installs only the driver userspace a GPU-less container gets: '
           'Debian\'s branch 535 nvidia-smi, libcuda1, libnvidia-ml1, held)')
    if args.gpu_profile:
        gpu = 'recorded profile %s on every host (SIMULATED)' % args.gpu_profile
    result = {
        'date': time.strftime('%Y-%m-%d'), 'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        'machine': machine(), 'load_avg_start': [round(x, 2) for x in os.getloadavg()],
        'setup': {
            'image': IMAGE, 'single_host': ONE, 'fleet': FLEET, 'users_per_host': USERS,
            'pytorch_env': 'torch 2.13.0+cpu per user (alice, bob), offline from the read-only wheelhouse',
            'conda': 'alice and bob, STAND-IN installer %s (conda_installer_src; not real conda)'
                     % os.path.relpath(STANDIN, ROOT),
            'cuda_toolkit_stage': 'off (dlstack_cuda_toolkit: false)',
            'gpu': gpu,
            'dlstack_serial': '100%',
        },
        'runs': [],
    }
    start = time.monotonic()
    error = None
    try:
        profile_dir = ''
        if args.gpu_profile:
            profile_dir = os.path.join(workdir, 'profile')
            sh([sys.executable, os.path.join(ROOT, 'tests', 'unit', 'tools', 'gpu_profile.py'), args.gpu_profile, profile_dir])
        remove_containers()
        print('starting %s and %s from %s' % (ONE, ', '.join(FLEET), IMAGE))
        start_containers(wheelhouse, profile_dir)
        inv1, inv3 = os.path.join(workdir, 'one.yml'), os.path.join(workdir, 'fleet.yml')
        write_inventory(inv1, [ONE], workdir, args.gpu_profile)
        write_inventory(inv3, FLEET, workdir, args.gpu_profile)
        bench = Bench(base_env(workdir), logdir, args.timeout)
        result['runs'] = bench.runs
        cache = {'ANSIBLE_GATHERING': 'smart', 'ANSIBLE_CACHE_PLUGIN': 'jsonfile',
                 'ANSIBLE_CACHE_PLUGIN_CONNECTION': os.path.join(workdir, 'factcache'),
                 'ANSIBLE_CACHE_PLUGIN_TIMEOUT': '86400'}
        bench.run('cold-1', 'converge, 1 fresh host', inv1, [ONE], cold=True)
        bench.run('cold-3', 'converge, 3 fresh hosts', inv3, FLEET, cold=True)
        bench.run('rerun-1-default', 're-run, 1 host, defaults', inv1, [ONE])
        bench.run('rerun-3-default', 're-run, 3 hosts, defaults', inv3, FLEET)
        if not args.no_settings:
            bench.run('rerun-3-forks1', 're-run, forks=1', inv3, FLEET, env={'ANSIBLE_FORKS': '1'})
            bench.run('rerun-3-pipelining', 're-run, pipelining', inv3, FLEET, env={'ANSIBLE_PIPELINING': 'true'})
            bench.run('rerun-3-subset-min', 're-run, gather_subset=min', inv3, FLEET, playbook=subset_min_playbook(workdir))
            bench.run('rerun-3-factcache-fill', 're-run, fact cache (filling it)', inv3, FLEET, env=cache)
            bench.run('rerun-3-factcache', 're-run, fact cache (2nd run)', inv3, FLEET, env=cache)
            bench.run('rerun-3-pipelining-factcache', 're-run, pipelining + fact cache', inv3, FLEET,
                      env=dict(cache, ANSIBLE_PIPELINING='true'))
        bench.run('rerun-3-default-again', 're-run, 3 hosts, defaults again', inv3, FLEET)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        error = failure(exc)
    finally:
        remove_containers()
        shutil.rmtree(workdir, ignore_errors=True)
    end(result, start, error)
    finish(result, args.json)
    return 1 if error else 0


def prerequisites():
    """What make setup builds, checked before anything starts; returns the wheelhouse."""
    wheelhouse = os.environ.get('DLSTACK_WHEELHOUSE', os.path.join(ROOT, '.cache', 'wheelhouse'))
    for needed, hint in ((os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), 'make setup'),
                         (os.path.join(ROOT, '.cache', 'collections', 'ansible_collections', 'labops', 'dlstack'), 'make setup'),
                         (wheelhouse, 'make wheelhouse'), (STANDIN, 'a checkout with molecule/conda')):
        if not os.path.exists(needed):
            raise SystemExit('missing %s: run `%s` first' % (needed, hint))
    if subprocess.run(['docker', 'image', 'inspect', IMAGE], capture_output=True, check=False).returncode:
        raise SystemExit('missing image %s: run `make setup` first' % IMAGE)
    return wheelhouse


def workspace(json_path, name):
    """A scratch directory and an emptied log directory beside the JSON (<name of the JSON>-logs); SIGTERM
    (timeout, CI cancel) then takes the same way out as Ctrl-C, through the caller's finally."""
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))
    workdir = tempfile.mkdtemp(prefix='dlstack-bench-%s-' % name)
    logdir = os.path.join(os.path.dirname(os.path.abspath(json_path)),
                          os.path.splitext(os.path.basename(json_path))[0] + '-logs')
    shutil.rmtree(logdir, ignore_errors=True)
    os.makedirs(logdir)
    return workdir, logdir


def failure(exc):
    """The line a failed bench ends with (printed, and kept in the JSON)."""
    error = '%s: %s' % (' '.join(exc.cmd), (exc.stderr or '').strip()) \
        if isinstance(exc, subprocess.CalledProcessError) else str(exc)
    print('\nERROR: %s' % error)
    return error


def end(result, start, error):
    """Total seconds, the load at the end and the error (if any) into the result."""
    result['total_seconds'] = round(time.monotonic() - start, 1)
    result['load_avg_end'] = [round(x, 2) for x in os.getloadavg()]
    if error:
        result['error'] = error


def finish(result, path):
    """Ratios, idempotence verdict, table, JSON (also for --reparse of a run's kept logs)."""
    result['ratios'] = ratios(result['runs'])
    per_run = dict((r['key'], changed_split(r)) for r in result['runs'] if not r['cold'])
    result['idempotence'] = {
        'goal': 'changed=0 on every managed host in every re-run',
        'met_on_hosts': bool(per_run) and all(c['on_host'] == 0 for per in per_run.values() for c in per.values()),
        'controller_tasks_changed': sorted(set(c['task'] for r in result['runs'] if not r['cold']
                                               for c in r['changed_tasks'] if c['delegated_to'] == 'localhost')),
        'changed_per_run': per_run,
    }
    print_table(result)
    idem = result['idempotence']
    print('idempotence: changed=0 on every managed host in every re-run: %s' % idem['met_on_hosts'])
    if idem['controller_tasks_changed']:
        print('  changed on the controller in some re-run (report files; counted on one host in the recap): %s'
              % '; '.join(idem['controller_tasks_changed']))
    print('total %.0f s; load average start %s, end %s' % (result['total_seconds'], result['load_avg_start'], result['load_avg_end']))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=2)
    print('written: %s (logs: %s)' % (path, os.path.join(os.path.dirname(path), 'site_converge-logs')))


def reparse(path):
    """Recompute recaps, changed tasks, ratios and the verdict of a recorded run from its kept logs."""
    with open(path, encoding='utf-8') as handle:
        result = json.load(handle)
    for row in result['runs']:
        with open(os.path.join(ROOT, row['log']), encoding='utf-8') as handle:
            recap, changed_tasks = parse_output(handle.read())
        row['recap'], row['changed_tasks'] = recap, [] if row['cold'] else changed_tasks
    finish(result, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())

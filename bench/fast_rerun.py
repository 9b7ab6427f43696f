# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fast re-runs of labops.dlstack.site: what an unchanged fleet costs to re-check, and that drift is still repaired.

    make setup     # venv, test image, offline wheelhouse, collection path (once)
    .venv/bin/python bench/fast_rerun.py [--json bench/results/fast_rerun.json] [--no-ssh]

One run, on throwaway containers of labops-dlstack/debian:12 set up like bench/site_converge.py's (alice and bob,
torch 2.13.0+cpu offline, the conda STAND-IN installer, CUDA toolkit stage off, no GPU, dlstack_serial 100%),
named dlstack-bench-h1..h6 and dlstack-bench-ssh1 (removed at the end, also on failure, Ctrl-C or SIGTERM).
Every run is ansible-playbook labops.dlstack.site with the same settings: by default (--settings shipped) those of
the example inventory's ansible.cfg (inventories/example/ansible.cfg: forks 20, pipelining, gathering smart with a
jsonfile fact cache, here in the run's scratch directory), with --settings defaults Ansible's defaults (no
ansible.cfg, forks 5, no pipelining, facts gathered every run); in this order:
  1. converge fresh hosts: h1 (1 host), h2-h4 (3 hosts), h5-h6 (the rest of the 6-host fleet);
  2. re-run with nothing to change: h1, h2-h4, h1-h6; the proof alone (bench/proof_only.yml: the GPU probe and
     each user's torch check, what every re-run must repeat per host) on h1 and on h1-h6: the part of a re-run no
     change to the roles can take out; with --mitogen the re-run of h1 and of h1-h6 over mitogen's docker
     connection; and h1 again (its ratio to the first says how much the machine's load drifted during the bench);
  3. drift: on h1 three things are broken by hand (a held driver package unheld, a file removed from the
     shared torch layer, alice's environment deleted), h1 is re-run, each is checked repaired (the hold back,
     the file back, the environment there and alice's dlstack-check passing as alice), and h1 is re-run once
     more (changed=0);
  4. over SSH (--no-ssh leaves it out): ssh1 runs sshd (Debian's openssh-server, installed at start), reached on
     its bridge address with a key made for the run; converge, re-run, re-run with pipelining switched the other
     way (off under the shipped settings, on under the defaults), with --mitogen a
     re-run with mitogen's mitogen_linear strategy (mitogen from PyPI into .cache/mitogen, not the venv), and the
     plain re-run again (load drift).
For each run: wall seconds, controller CPU seconds (user+sys of ansible-playbook and all its children, from
getrusage), the whole machine's busy CPU seconds (/proc/stat: the controller, the containers, which share its cores,
and the docker engine; divided by the wall time, the cores busy), the seconds the hypervisor stole (steal), per
host the tasks that ran (the recap's ok: every task not skipped, included files counted; the first host also carries
the fleet report's run-once tasks, which run on the controller) and changed tasks on the host.
The goals of issue #17 are judged in the output (met or not, with the figures).
Compare ratios within one run: absolute times follow the load of the shared machine. Writes JSON and keeps each
run's log in bench/results/fast_rerun-logs/. Cost: 16 playbook runs (20 with --mitogen), about 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_converge as sc  # noqa: E402  pylint: disable=wrong-import-position

HOSTS = ['dlstack-bench-h%d' % i for i in range(1, 7)]
SSH_HOST = 'dlstack-bench-ssh1'
MITOGEN = 'mitogen==0.3.54'  # the newest on PyPI on 2026-12-01; its strategy plugins load on ansible-core 2.19
EXAMPLE_CFG = os.path.join(sc.ROOT, 'inventories', 'example', 'ansible.cfg')
PROOF_ONLY = os.path.join(sc.ROOT, 'bench', 'proof_only.yml')
SETTINGS = {
    'shipped': "the example inventory's ansible.cfg (forks 20, pipelining, gathering smart, jsonfile fact cache)",
    'defaults': "Ansible's defaults (no ansible.cfg)",
}
# the runs whose machine CPU and cores busy the verdict reports
REPORTED = ('rerun-1', 'rerun-3', 'rerun-6', 'proof-1', 'proof-6', 'rerun-1-mitogen', 'rerun-6-mitogen')
GOALS = {
    'rerun_over_converge_1': 0.25, 'rerun_over_converge_3': 0.25, 'tasks_per_host': 40, 'wall_6_over_1': 2.5,
}


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_fields():
    # /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice (proc(5)); guest
    # time is already in user, so only the first eight are summed
    with open('/proc/stat', encoding='ascii') as handle:
        return [int(x) for x in handle.readline().split()[1:9]]


def machine_cpu_seconds():
    """CPU seconds the whole machine spent busy (all cores; /proc/stat, idle, iowait and steal left out): the
    controller, the containers (the hosts share these cores) and the docker engine together."""
    fields = _cpu_fields()
    return (sum(fields) - fields[3] - fields[4] - fields[7]) / os.sysconf('SC_CLK_TCK')


def steal_seconds():
    """CPU seconds the hypervisor gave to someone else while this machine wanted them (steal): what makes the same
    work take longer from one run to the next on a shared VM."""
    return _cpu_fields()[7] / os.sysconf('SC_CLK_TCK')


class Bench(sc.Bench):
    def run(self, key, label, inventory, hosts, playbook='labops.dlstack.site', env=None, cold=False):
        before, machine_before, steal_before = cpu_seconds(), machine_cpu_seconds(), steal_seconds()
        row = super().run(key, label, inventory, hosts, playbook=playbook, env=env, cold=cold)
        row['cpu_seconds'] = round(cpu_seconds() - before, 1)
        row['machine_cpu_seconds'] = round(machine_cpu_seconds() - machine_before, 1)
        row['steal_seconds'] = round(steal_seconds() - steal_before, 1)
        # cores busy on average: near the machine's core count, the run waited for CPU, not for the hosts
        row['cores_busy'] = round(row['machine_cpu_seconds'] / row['seconds'], 2) if row['seconds'] else None
        row['tasks_per_host'] = dict((h, row['recap'][h]['ok']) for h in hosts)
        row['changed_on_host'] = dict((h, c['on_host']) for h, c in sc.changed_split(row).items())
        return row


def dexec(name, script, check=True):
    return subprocess.run(['docker', 'exec', name, 'sh', '-c', script], check=check, capture_output=True, text=True)


def start_hosts(names, wheelhouse):
    for name in names:
        sc.sh(['docker', 'run', '-d', '--name', name, '--hostname', name, '--label', 'org.labops.dlstack.bench=true',
               '--mount', 'type=bind,source=%s,target=%s,readonly' % (wheelhouse, sc.WHEELS_IN_CONTAINER),
               sc.IMAGE, 'sleep', 'infinity'])
        for user in sc.USERS:
            dexec(name, 'id %s >/dev/null 2>&1 || useradd --create-home --shell /bin/bash %s' % (user, user))


def start_sshd(name, workdir):
    """Debian's openssh-server in the container, root reached with a key made for this run; returns the address."""
    key = os.path.join(workdir, 'id_ed25519')
    if not os.path.exists(key):
        sc.sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'dlstack-bench', '-f', key])
    dexec(name, 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null')
    with open(key + '.pub', encoding='utf-8') as handle:
        pub = handle.read().strip()
    dexec(name, 'mkdir -p /root/.ssh /run/sshd && chmod 700 /root/.ssh && echo "%s" > /root/.ssh/authorized_keys '
                '&& chmod 600 /root/.ssh/authorized_keys && /usr/sbin/sshd' % pub)
    return sc.sh(['docker', 'inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name]).strip(), key


def write_inventory(path, hosts, workdir, ssh=None, connection=None):
    sc.write_inventory(path, hosts, workdir, '')
    if connection:  # mitogen takes over the connections it knows by their short names (docker, ssh)
        with open(path, encoding='utf-8') as handle:
            inventory = json.load(handle)
        inventory['all']['vars']['ansible_connection'] = connection
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(inventory, handle, indent=2)
    if ssh:
        address, key = ssh
        with open(path, encoding='utf-8') as handle:
            inventory = json.load(handle)
        for host in hosts:
            inventory['all']['hosts'][host] = {
                'ansible_connection': 'ssh', 'ansible_host': address, 'ansible_user': 'root',
                'ansible_ssh_private_key_file': key,
                'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
            }
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(inventory, handle, indent=2)


def mitogen_env():
    path = mitogen_path()
    return {'PYTHONPATH': path, 'ANSIBLE_STRATEGY': 'mitogen_linear',
            'ANSIBLE_STRATEGY_PLUGINS': os.path.join(path, 'ansible_mitogen', 'plugins', 'strategy')}


def mitogen_path():
    """mitogen (PyPI, pinned) in .cache/mitogen, outside the project's venv: a trial, not a dependency."""
    path = os.path.join(sc.ROOT, '.cache', 'mitogen')
    if not os.path.isdir(os.path.join(path, 'ansible_mitogen')):
        sc.sh([os.path.join(sc.ROOT, '.venv', 'bin', 'python'), '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
               '--target', path, MITOGEN])
    return path


def remove_hosts():
    for name in HOSTS + [SSH_HOST]:
        subprocess.run(['docker', 'rm', '-f', name], capture_output=True, check=False)


def break_three_things(host):
    """A held package unheld, a file removed from the torch layer, alice's environment deleted: what was done."""
    held = dexec(host, 'apt-mark showhold').stdout.split()
    if not held:
        raise RuntimeError('%s holds no package after converging: nothing to unhold' % host)
    dexec(host, 'apt-mark unhold %s >/dev/null' % held[0])
    layer_file = dexec(host, 'find /opt/labops-dlstack/pytorch/layers -path "*/torch/version.py"').stdout.split()
    if not layer_file:
        raise RuntimeError('%s: no torch/version.py in the layers' % host)
    dexec(host, 'rm -f %s' % layer_file[0])
    dexec(host, 'test -x /home/alice/.venvs/torch/bin/python && rm -rf /home/alice/.venvs/torch')
    return {'unheld': held[0], 'layer_file_removed': layer_file[0], 'env_deleted': '/home/alice/.venvs/torch'}


def repaired(host, broken):
    checks = {
        'hold back': broken['unheld'] in dexec(host, 'apt-mark showhold').stdout.split(),
        'layer file back': dexec(host, 'test -f %s' % broken['layer_file_removed'], check=False).returncode == 0,
        'environment back': dexec(host, 'test -x %s/bin/python' % broken['env_deleted'], check=False).returncode == 0,
        "alice's dlstack-check passes as alice": dexec(
            host, "su - alice -c '%s/bin/dlstack-check' >/dev/null 2>&1" % broken['env_deleted'], check=False).returncode == 0,
    }
    return checks


def judge(runs, settings='shipped'):
    by = dict((r['key'], r) for r in runs)
    pipelined = 'ssh-rerun-1' if settings == 'shipped' else 'ssh-rerun-1-pipelining-on'
    unpipelined = 'ssh-rerun-1-pipelining-off' if settings == 'shipped' else 'ssh-rerun-1'

    def ratio(num, den):
        if num in by and den in by and by[den]['seconds']:
            return round(by[num]['seconds'] / by[den]['seconds'], 3)
        return None

    out = {
        'rerun_over_converge_1': ratio('rerun-1', 'cold-1'),
        'rerun_over_converge_3': ratio('rerun-3', 'cold-3'),
        'wall_6_over_1': ratio('rerun-6', 'rerun-1'),
        # the proof alone (probe and torch checks), which no change to the roles can take out of a re-run: its share
        # of the re-run, and its own 6/1 (its fixed part is small, so it scales by the CPU it needs: about 3 on 2 cores)
        'proof_wall_6_over_1': ratio('proof-6', 'proof-1'),
        'proof_share_of_rerun': dict((n, ratio('proof-' + n, 'rerun-' + n)) for n in ('1', '6')),
        'mitogen_wall_6_over_1': ratio('rerun-6-mitogen', 'rerun-1-mitogen'),
        'mitogen_over_plain': dict((n, ratio('rerun-%s-mitogen' % n, 'rerun-' + n)) for n in ('1', '6')),
        'load_drift_rerun_1_again_over_rerun_1': ratio('rerun-1-again', 'rerun-1'),
        'ssh_rerun_over_converge_1': ratio('ssh-rerun-1', 'ssh-cold-1'),
        'ssh_pipelining_over_no_pipelining': ratio(pipelined, unpipelined),
        'ssh_mitogen_over_pipelining': ratio('ssh-rerun-1-mitogen', pipelined),
        'ssh_load_drift_again_over_first': ratio('ssh-rerun-1-again', 'ssh-rerun-1'),
        'tasks_per_host': max([n for r in runs if r['key'].startswith('rerun-') for n in r['tasks_per_host'].values()] or [0]),
        # the hosts that do not carry the fleet report's run-once tasks (those run on the controller)
        'tasks_per_host_without_run_once': min([n for r in runs if r['key'].startswith('rerun-')
                                                for n in r['tasks_per_host'].values()] or [0]),
        'cpu_seconds_per_host': dict((k, round(by[k]['cpu_seconds'] / by[k]['hosts'], 1))
                                     for k in ('rerun-1', 'rerun-3', 'rerun-6') if k in by),
        # the whole machine's (controller, hosts and docker): what bounds the 6-host run on a machine whose
        # cores also run the hosts
        'machine_cpu_seconds_per_host': dict((k, round(by[k]['machine_cpu_seconds'] / by[k]['hosts'], 1))
                                             for k in REPORTED if k in by),
        'cores_busy': dict((k, by[k].get('cores_busy')) for k in REPORTED if k in by),
        'cores': os.cpu_count(),
        'changed_on_hosts_in_reruns': sum(n for r in runs if 'rerun' in r['key'] for n in r['changed_on_host'].values()),
    }
    out['goals'] = dict((name, {'goal': '<= %s' % limit, 'value': out[name],
                                'met': out[name] is not None and out[name] <= limit}) for name, limit in GOALS.items())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--json', default=os.path.join(sc.ROOT, 'bench', 'results', 'fast_rerun.json'))
    parser.add_argument('--timeout', type=int, default=1200, help='seconds allowed per ansible-playbook run')
    parser.add_argument('--no-ssh', action='store_true', help='leave out the SSH runs')
    parser.add_argument('--settings', choices=('shipped', 'defaults'), default='shipped',
                        help="shipped: the example inventory's ansible.cfg (default); defaults: Ansible's defaults")
    parser.add_argument('--mitogen', action='store_true', help='also re-run over SSH with the mitogen_linear strategy '
                        '(%s from PyPI into .cache/mitogen)' % MITOGEN)
    args = parser.parse_args()
    wheelhouse = sc.prerequisites()
    workdir, logdir = sc.workspace(args.json, 'rerun')
    result = {'date': time.strftime('%Y-%m-%d'), 'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
              'machine': sc.machine(), 'load_avg_start': [round(x, 2) for x in os.getloadavg()],
              'setup': 'like bench/site_converge.py: alice and bob, torch 2.13.0+cpu offline, conda STAND-IN '
                       'installer (not real conda), CUDA toolkit stage off, no GPU, dlstack_serial 100%%; %s; '
                       'docker exec unless the key says ssh' % SETTINGS[args.settings],
              'settings': args.settings,
              'runs': []}
    start, error = time.monotonic(), None
    try:
        remove_hosts()
        print('starting %s from %s' % (', '.join(HOSTS), sc.IMAGE))
        start_hosts(HOSTS, wheelhouse)
        inv = {}
        for key, hosts in (('1', HOSTS[:1]), ('3', HOSTS[1:4]), ('rest', HOSTS[4:]), ('6', HOSTS)):
            inv[key] = os.path.join(workdir, 'hosts-%s.json' % key)
            write_inventory(inv[key], hosts, workdir)
            if key in ('1', '6'):
                inv[key + '-mitogen'] = os.path.join(workdir, 'hosts-%s-mitogen.json' % key)
                write_inventory(inv[key + '-mitogen'], hosts, workdir, connection='docker')
        env = sc.base_env(workdir)
        if args.settings == 'shipped':  # its relative fact cache path lands in the scratch directory
            shutil.copyfile(EXAMPLE_CFG, env['ANSIBLE_CONFIG'])
        bench = Bench(env, logdir, args.timeout)
        result['runs'] = bench.runs
        bench.run('cold-1', 'converge, 1 fresh host', inv['1'], HOSTS[:1], cold=True)
        bench.run('cold-3', 'converge, 3 fresh hosts', inv['3'], HOSTS[1:4], cold=True)
        bench.run('cold-rest', 'converge, 2 more fresh hosts', inv['rest'], HOSTS[4:], cold=True)
        bench.run('rerun-1', 're-run, 1 host', inv['1'], HOSTS[:1])
        bench.run('rerun-3', 're-run, 3 hosts', inv['3'], HOSTS[1:4])
        bench.run('rerun-6', 're-run, 6 hosts', inv['6'], HOSTS)
        bench.run('proof-1', 'the proof alone, 1 host', inv['1'], HOSTS[:1], playbook=PROOF_ONLY)
        bench.run('proof-6', 'the proof alone, 6 hosts', inv['6'], HOSTS, playbook=PROOF_ONLY)
        if args.mitogen:
            bench.run('rerun-1-mitogen', 're-run, 1 host, mitogen_linear', inv['1-mitogen'], HOSTS[:1], env=mitogen_env())
            bench.run('rerun-6-mitogen', 're-run, 6 hosts, mitogen_linear', inv['6-mitogen'], HOSTS, env=mitogen_env())
        bench.run('rerun-1-again', 're-run, 1 host again', inv['1'], HOSTS[:1])
        broken = break_three_things(HOSTS[0])
        row = bench.run('drift-1', 'drift: 3 things broken, re-run', inv['1'], HOSTS[:1])
        checks = repaired(HOSTS[0], broken)
        row['drift'] = {'broken': broken, 'repaired': checks}
        print('  repaired: %s' % ', '.join('%s %s' % (k, 'yes' if v else 'NO') for k, v in checks.items()))
        if not all(checks.values()):
            raise RuntimeError('drift not repaired: %s' % checks)
        bench.run('rerun-1-after-drift', 're-run after the repair', inv['1'], HOSTS[:1])
        if not args.no_ssh:
            sc.sh(['docker', 'run', '-d', '--name', SSH_HOST, '--hostname', SSH_HOST,
                   '--label', 'org.labops.dlstack.bench=true',
                   '--mount', 'type=bind,source=%s,target=%s,readonly' % (wheelhouse, sc.WHEELS_IN_CONTAINER),
                   sc.IMAGE, 'sleep', 'infinity'])
            for user in sc.USERS:
                dexec(SSH_HOST, 'useradd --create-home --shell /bin/bash %s' % user)
            inv['ssh'] = os.path.join(workdir, 'hosts-ssh.json')
            write_inventory(inv['ssh'], [SSH_HOST], workdir, ssh=start_sshd(SSH_HOST, workdir))
            bench.run('ssh-cold-1', 'SSH: converge, 1 fresh host', inv['ssh'], [SSH_HOST], cold=True)
            bench.run('ssh-rerun-1', 'SSH: re-run', inv['ssh'], [SSH_HOST])
            other = 'false' if args.settings == 'shipped' else 'true'
            bench.run('ssh-rerun-1-pipelining-' + ('off' if other == 'false' else 'on'),
                      'SSH: re-run, pipelining ' + ('off' if other == 'false' else 'on'), inv['ssh'], [SSH_HOST],
                      env={'ANSIBLE_PIPELINING': other})
            if args.mitogen:
                bench.run('ssh-rerun-1-mitogen', 'SSH: re-run, mitogen_linear', inv['ssh'], [SSH_HOST], env=mitogen_env())
            bench.run('ssh-rerun-1-again', 'SSH: re-run again', inv['ssh'], [SSH_HOST])
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        error = sc.failure(exc)
    finally:
        remove_hosts()
        shutil.rmtree(workdir, ignore_errors=True)
    sc.end(result, start, error)
    result['verdict'] = judge(result['runs'], args.settings)
    print_table(result)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=2)
    print('written: %s (logs: %s)' % (args.json, logdir))
    return 1 if error or not all(g['met'] for g in result['verdict']['goals'].values()) else 0


def print_table(result):
    print('\n| run | hosts | seconds | controller CPU s | machine CPU s | steal s | tasks per host | changed on host |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |')
    for row in result['runs']:
        print('| %s | %d | %.1f | %s | %s | %s | %s | %s |' % (
            row['label'], row['hosts'], row['seconds'], row.get('cpu_seconds', '?'), row.get('machine_cpu_seconds', '?'),
            row.get('steal_seconds', '?'),
            ', '.join(str(n) for n in row.get('tasks_per_host', {}).values()),
            ', '.join(str(n) for n in row.get('changed_on_host', {}).values())))
    verdict = result['verdict']
    for name, goal in verdict['goals'].items():
        print('%-24s %-8s %-8s %s' % (name, goal['value'], goal['goal'], 'met' if goal['met'] else 'NOT MET'))
    for name in ('proof_wall_6_over_1', 'proof_share_of_rerun', 'mitogen_wall_6_over_1', 'mitogen_over_plain',
                 'tasks_per_host_without_run_once', 'cpu_seconds_per_host', 'machine_cpu_seconds_per_host', 'cores_busy',
                 'cores', 'load_drift_rerun_1_again_over_rerun_1',
                 'ssh_rerun_over_converge_1', 'ssh_pipelining_over_no_pipelining', 'ssh_mitogen_over_pipelining',
                 'ssh_load_drift_again_over_first', 'changed_on_hosts_in_reruns'):
        print('%s: %s' % (name, verdict[name]))
    print('total %.0f s; load average start %s, end %s'
          % (result['total_seconds'], result['load_avg_start'], result['load_avg_end']))


if __name__ == '__main__':
    sys.exit(main())

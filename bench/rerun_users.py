# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a no-change re-run of labops.dlstack.site costs on one host with many lab users, this checkout against another.

    make setup
    git worktree add --detach /tmp/dlstack-baseline <rev>      # the code to compare with
    mkdir -p /tmp/dlstack-baseline/.cache/collections/ansible_collections/labops
    ln -s /tmp/dlstack-baseline /tmp/dlstack-baseline/.cache/collections/ansible_collections/labops/dlstack
    .venv/bin/python bench/rerun_users.py --baseline /tmp/dlstack-baseline [--users 6]

One container of labops-dlstack/debian:12 (dlstack-bench-h1, removed at the end) set up like bench/fast_rerun.py's
hosts, but with --users lab users (alice, bob, carol, ...), each with a conda (STAND-IN installer) and a torch
environment; the example ansible.cfg; this checkout's .venv runs both codes. In order, alternating so that the
machine's drift shows: the baseline converges and re-runs twice, this checkout takes over (its first run takes the
full path once: another release changes the fast path's fingerprint) and re-runs twice, the baseline takes back
and re-runs once more. For each run: wall seconds, controller CPU (getrusage of ansible-playbook and its children),
the host's CPU (the container's cgroup, cgroup v1 cpuacct), the whole machine's busy CPU (/proc/stat), the recap's
ok and changed. Prints one JSON line per run and the ratios new / baseline of the re-runs' means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import site_converge as sc  # noqa: E402  pylint: disable=wrong-import-position
import fast_rerun as fr  # noqa: E402  pylint: disable=wrong-import-position

NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallet', 'niaj']
HOST = fr.HOSTS[0]


def host_cpu(cid):
    with open('/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage' % cid, encoding='ascii') as handle:
        return int(handle.read()) / 1e9


def run(label, tree, env, inventory, workdir, cid):
    run_env = dict(env, ANSIBLE_COLLECTIONS_PATH=os.path.join(tree, '.cache', 'collections'))
    log = os.path.join(workdir, label + '.log')
    c0, m0 = host_cpu(cid), fr.machine_cpu_seconds()
    r0, t0 = fr.cpu_seconds(), time.monotonic()
    with open(log, 'w', encoding='utf-8') as out:
        proc = subprocess.run([os.path.join(sc.ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', inventory,
                               'labops.dlstack.site'], env=run_env, cwd=tree, stdout=out, stderr=subprocess.STDOUT,
                              check=False)
    seconds = time.monotonic() - t0
    with open(log, encoding='utf-8') as handle:
        recap = sc.parse_output(handle.read())[0].get(HOST, {})
    row = {'label': label, 'rc': proc.returncode, 'seconds': round(seconds, 1),
           'controller_cpu_seconds': round(fr.cpu_seconds() - r0, 1), 'host_cpu_seconds': round(host_cpu(cid) - c0, 1),
           'machine_cpu_seconds': round(fr.machine_cpu_seconds() - m0, 1),
           'ok': recap.get('ok'), 'changed': recap.get('changed'), 'log': log}
    print(json.dumps(row), flush=True)
    if proc.returncode != 0:
        raise RuntimeError('%s failed: see %s' % (label, log))
    return row


def mean(rows, key):
    return sum(r[key] for r in rows) / len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--baseline', required=True, help='another checkout of the collection, its collection path set up')
    parser.add_argument('--users', type=int, default=6, help='lab users on the host (2 to %d)' % len(NAMES))
    parser.add_argument('--json', default=os.path.join(sc.ROOT, 'bench', 'results', 'rerun_users.json'))
    args = parser.parse_args()
    if not 2 <= args.users <= len(NAMES):
        parser.error('--users: 2 to %d' % len(NAMES))
    baseline = os.path.abspath(args.baseline)
    sc.USERS[:] = NAMES[:args.users]  # start_hosts and write_inventory read them
    wheelhouse = sc.prerequisites()
    workdir = os.path.join(os.path.dirname(os.path.abspath(args.json)), 'rerun_users-logs')
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    inventory = os.path.join(workdir, 'hosts.json')
    rows = []
    try:
        fr.remove_hosts()
        fr.start_hosts([HOST], wheelhouse)
        fr.write_inventory(inventory, [HOST], workdir)
        env = sc.base_env(workdir)
        shutil.copyfile(fr.EXAMPLE_CFG, env['ANSIBLE_CONFIG'])
        cid = sc.sh(['docker', 'inspect', '-f', '{{.Id}}', HOST]).strip()
        for label, tree in (('baseline-converge', baseline), ('baseline-rerun-1', baseline), ('baseline-rerun-2', baseline),
                            ('new-first-run', sc.ROOT), ('new-rerun-1', sc.ROOT), ('new-rerun-2', sc.ROOT),
                            ('baseline-first-run-again', baseline), ('baseline-rerun-3', baseline)):
            rows.append(run(label, tree, env, inventory, workdir, cid))
    finally:
        fr.remove_hosts()
    old = [r for r in rows if r['label'].startswith('baseline-rerun')]
    new = [r for r in rows if r['label'].startswith('new-rerun')]
    ratios = dict(('%s_new_over_baseline' % key, round(mean(new, key) / mean(old, key), 2))
                  for key in ('seconds', 'controller_cpu_seconds', 'host_cpu_seconds', 'machine_cpu_seconds'))
    print(json.dumps(ratios))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w', encoding='utf-8') as handle:
        json.dump({'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'users': sc.USERS, 'baseline': baseline,
                   'machine': sc.machine(), 'runs': rows, 'ratios': ratios}, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())

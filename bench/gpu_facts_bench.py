# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long the GPU probe takes, as ratios measured in one run.

    .venv/bin/python bench/gpu_facts_bench.py [--runs N] [--json bench/results/gpu_facts.json]

Rows:
  probe()      the module's Python decision path on this host's live /sys and /proc
  probe(H200)  the same on a recorded H200 host whose nvidia-smi is a replay script (a subprocess
               per call, like the real nvidia-smi; the real one's NVML start-up is not in it)
  probe(T4 busy)  a recorded Tesla T4 running a job (telegraf tesla-t4.xml): the processes and their
               owners too
  probe(nouveau)  a recorded RTX 3090 owned by nouveau with a broken nvidia-smi: no loaded driver, so
               no process lookup may cost it anything (one nvidia-smi call, the failing --query-gpu)
  module       `ansible localhost -m labops.dlstack.gpu_facts` end to end (AnsiballZ, fork, JSON)
  ping         `ansible localhost -m ansible.builtin.ping`, the floor any module pays
The ratio column divides by ping: what probing costs on top of running any module at all.
On a GPU host, run it there too: the live row then includes the real nvidia-smi.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'tools'))


def _collection_path():
    path = os.path.join(ROOT, '.cache', 'collections')
    link = os.path.join(path, 'ansible_collections', 'labops', 'dlstack')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    sys.path.insert(0, path)
    return path


def timed(fn, runs):
    samples = []
    for _run in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]  # median


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--json', default=os.path.join(ROOT, 'bench', 'results', 'gpu_facts.json'))
    args = parser.parse_args()

    colls = _collection_path()
    from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import probe  # noqa: E402
    import gpu_profile  # noqa: E402

    tmp = tempfile.mkdtemp(prefix='dlstack-bench-')
    try:
        rows = _measure(args, colls, probe, gpu_profile, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t_ping = rows[-1][1]
    print('%-48s %10s %8s %16s' % ('what (median of runs)', 'seconds', 'x ping', 'nvidia-smi calls'))
    for name, secs, calls in rows:
        print('%-48s %10.4f %8.2f %16s' % (name, secs, secs / t_ping, '-' if calls is None else calls))
    result = {
        'date': time.strftime('%Y-%m-%d'), 'machine': '%s, %d cores, Python %s' % (platform.platform(), os.cpu_count(), platform.python_version()),
        'load_avg': [round(x, 2) for x in os.getloadavg()],
        'runs': args.runs,
        'rows': [{'what': n, 'seconds': round(s, 4), 'ratio_to_ping': round(s / t_ping, 3), 'nvidia_smi_calls': c} for n, s, c in rows],
    }
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=2)
    print('written: %s' % args.json)


def _measure(args, colls, probe, gpu_profile, tmp):
    def run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def recorded(profile, broken_smi=None):
        tree = os.path.join(tmp, profile)
        gpu_profile.main(['gpu_profile.py', profile, tree])
        smi = os.path.join(tree, 'bin', 'nvidia-smi')
        if broken_smi:
            with open(smi, 'w', encoding='utf-8') as handle:
                handle.write('#!/bin/sh\necho "%s"\nexit 9\n' % broken_smi)
            os.chmod(smi, 0o755)
        calls = []

        def counted(argv):
            calls.append(argv)
            return run(argv)

        def once():
            return probe(run=counted, nvidia_smi=smi, sysfs_root=tree + '/sys', procfs_root=tree + '/proc', root=tree,
                         dev_root=tree + '/dev')
        once()
        per_probe = len(calls)
        return once, per_probe

    live = probe(run=run, nvidia_smi=None, sysfs_root='/sys', procfs_root='/proc', root='/', dev_root='/dev')
    t_live = timed(lambda: probe(run=run, nvidia_smi=None, sysfs_root='/sys', procfs_root='/proc', root='/', dev_root='/dev'), args.runs)
    h200, h200_calls = recorded('h200')
    t4, t4_calls = recorded('t4-busy')
    # the text of errors/no_communication.txt (tests/unit/fixtures/gpu): nvidia-smi without a loaded driver
    nouveau, nouveau_calls = recorded('rtx3090-nouveau', broken_smi="NVIDIA-SMI has failed because it couldn't communicate with "
                                      "the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.")
    t_h200 = timed(h200, args.runs)
    t_t4 = timed(t4, args.runs)
    t_nouveau = timed(nouveau, args.runs)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=colls, ANSIBLE_LOCALHOST_WARNING='false')
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')

    def adhoc(module):
        return lambda: subprocess.run([ansible, 'localhost', '-m', module], env=env, capture_output=True, check=True)
    t_module = timed(adhoc('labops.dlstack.gpu_facts'), max(3, args.runs // 2))
    t_ping = timed(adhoc('ansible.builtin.ping'), max(3, args.runs // 2))
    rows = [
        ('probe() live, %s' % live['status'], t_live, 0),
        ('probe() recorded H200 + replayed nvidia-smi', t_h200, h200_calls),
        ('probe() recorded T4 busy (1 job) + replayed', t_t4, t4_calls),
        ('probe() recorded nouveau host, no loaded driver', t_nouveau, nouveau_calls),
        ('ansible -m labops.dlstack.gpu_facts', t_module, None),
        ('ansible -m ansible.builtin.ping', t_ping, None),
    ]
    return rows


if __name__ == '__main__':
    main()

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long the GPU probe takes, as ratios measured in one run.

    .venv/bin/python bench/gpu_facts_bench.py [--runs N] [--json bench/results/gpu_facts.json]

Rows:
  probe()      the module's Python decision path on this host's live /sys and /proc
  probe(H200)  the same on a recorded H200 host whose nvidia-smi is a replay script (a subprocess
               per call, like the real nvidia-smi; the real one's NVML start-up is not in it)
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
    print('%-48s %10s %8s' % ('what (median of runs)', 'seconds', 'x ping'))
    for name, secs in rows:
        print('%-48s %10.4f %8.2f' % (name, secs, secs / t_ping))
    result = {
        'date': time.strftime('%Y-%m-%d'), 'machine': '%s, %d cores, Python %s' % (platform.platform(), os.cpu_count(), platform.python_version()),
        'load_avg': [round(x, 2) for x in os.getloadavg()],
        'runs': args.runs, 'rows': [{'what': n, 'seconds': round(s, 4), 'ratio_to_ping': round(s / t_ping, 3)} for n, s in rows],
    }
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=2)
    print('written: %s' % args.json)


def _measure(args, colls, probe, gpu_profile, tmp):
    def run(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    h200 = os.path.join(tmp, 'h200')
    gpu_profile.main(['gpu_profile.py', 'h200', h200])
    smi = os.path.join(h200, 'bin', 'nvidia-smi')

    live = probe(run=run, nvidia_smi=None, sysfs_root='/sys', procfs_root='/proc', root='/', dev_root='/dev')
    rows = []
    t_live = timed(lambda: probe(run=run, nvidia_smi=None, sysfs_root='/sys', procfs_root='/proc', root='/', dev_root='/dev'), args.runs)
    t_h200 = timed(lambda: probe(run=run, nvidia_smi=smi, sysfs_root=h200 + '/sys', procfs_root=h200 + '/proc', root=h200,
                                 dev_root=h200 + '/dev'), args.runs)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=colls, ANSIBLE_LOCALHOST_WARNING='false')
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')

    def adhoc(module):
        return lambda: subprocess.run([ansible, 'localhost', '-m', module], env=env, capture_output=True, check=True)
    t_module = timed(adhoc('labops.dlstack.gpu_facts'), max(3, args.runs // 2))
    t_ping = timed(adhoc('ansible.builtin.ping'), max(3, args.runs // 2))
    rows = [
        ('probe() live, %s' % live['status'], t_live),
        ('probe() recorded H200 + replayed nvidia-smi', t_h200),
        ('ansible -m labops.dlstack.gpu_facts', t_module),
        ('ansible -m ansible.builtin.ping', t_ping),
    ]
    return rows


if __name__ == '__main__':
    main()

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bytes downloaded and disk used by labops.dlstack.pytorch_env for 1 user, then 3 users, on one host.

Runs the real role (ca_trust + pytorch_env, venv backend, cpu torch from the offline wheelhouse) with
ansible-playbook against a throwaway container of labops-dlstack/debian:12, first with one user, then
with three, and measures after each run:
- network bytes: the container's rx bytes (/proc/net/dev of its own network namespace), i.e. what came
  from PyPI through the proxy (torch's pure-Python dependencies, uv itself, apt lists and packages);
- wheelhouse bytes: the wheels read from the mounted wheelhouse (size of the wheels the uv cache holds);
- disk: du -skx over /opt/labops-dlstack, /var/cache/labops-dlstack and /home together (a hardlinked
  file counts once), plus each user's own environment alone.
A baseline "one private venv per user" (what K users cost without the shared layer: uv with a
user-owned cache into a user-owned venv, same wheelhouse) is measured once for one user.

Run from the checkout:  PATH=$PWD/.venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$PWD/.cache/collections \
    python bench/pytorch_env_users.py        (make test's setup must have built the image)
Prints a table and writes bench/results/pytorch_env_users-<date>.json.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE = 'labops-dlstack/debian:12'
NAME = 'dlstack-bench-pytorch_env'
WHEELHOUSE = os.environ.get('DLSTACK_WHEELHOUSE', '/opt/wheels')
CA = os.environ.get('DLSTACK_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt')
USERS = ['u1', 'u2', 'u3']


def sh(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def dexec(cmd):
    return sh(['docker', 'exec', NAME, 'bash', '-c', cmd])


def rx_bytes():
    total = 0
    for line in dexec('cat /proc/net/dev').splitlines()[2:]:
        iface, data = line.split(':', 1)
        if iface.strip() != 'lo':
            total += int(data.split()[0])
    return total


def disk_kib(paths):
    out = dexec('du -skxc %s 2>/dev/null | tail -1' % ' '.join(paths))
    return int(out.split()[0])


def wheel_kib():
    out = dexec("find /var/cache/labops-dlstack/uv -name '*.whl' -o -name '*.http' 2>/dev/null | xargs -r du -skc | tail -1")
    return int(out.split()[0]) if out.strip() else 0


def run_role(users, workdir):
    inventory = os.path.join(workdir, 'inventory.yml')
    with open(inventory, 'w', encoding='utf-8') as handle:
        json.dump({'all': {'hosts': {NAME: {'ansible_connection': 'community.docker.docker'}}, 'vars': {
            'ca_trust_certificates': [{'name': 'bench-ca', 'src': CA}],
            'pytorch_env_users': [{'user': u, 'envs': [{'name': 'torch'}]} for u in users],
            'pytorch_env_torch_version': '2.13.0', 'pytorch_env_index_url_template': '',
            'pytorch_env_find_links': ['/opt/wheels'], 'pytorch_env_report_dir': os.path.join(workdir, 'reports'),
        }}}, handle)
    playbook = os.path.join(workdir, 'play.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        handle.write('- hosts: all\n  roles: [labops.dlstack.ca_trust, labops.dlstack.pytorch_env]\n')
    env = dict(os.environ, ANSIBLE_INJECT_FACT_VARS='false', ANSIBLE_PYTHON_INTERPRETER='auto_silent')
    start = time.monotonic()
    subprocess.run(['ansible-playbook', '-i', inventory, playbook], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def measure(label, seconds, rx0, users):
    return {
        'step': label, 'users': len(users), 'seconds': round(seconds, 1),
        'network_mib': round((rx_bytes() - rx0) / 1048576.0, 1),
        'wheelhouse_and_cache_wheels_mib': round(wheel_kib() / 1024.0, 1),
        'disk_total_mib': round(disk_kib(['/opt/labops-dlstack', '/var/cache/labops-dlstack', '/home']) / 1024.0, 1),
        'disk_per_user_env_mib': dict((u, round(disk_kib(['/home/%s/.venvs/torch' % u]) / 1024.0, 2)) for u in users),
    }


def baseline_private_venv():
    """One user without the shared layer: own uv cache, own venv (what each of K users would cost)."""
    dexec('useradd -m solo')
    rx0 = rx_bytes()
    start = time.monotonic()
    dexec("sudo -u solo -H env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt bash -c '"
          "/opt/labops-dlstack/tools/bin/uv venv -q --python /usr/bin/python3.11 ~/solo && "
          "/opt/labops-dlstack/tools/bin/uv pip install -q --python ~/solo/bin/python --find-links /opt/wheels "
          "torch==2.13.0+cpu pip'")
    return {'step': 'baseline: one private venv + private uv cache', 'users': 1,
            'seconds': round(time.monotonic() - start, 1),
            'network_mib': round((rx_bytes() - rx0) / 1048576.0, 1),
            'disk_total_mib': round(disk_kib(['/home/solo']) / 1024.0, 1)}


def main():
    subprocess.run(['docker', 'rm', '-f', NAME], capture_output=True, check=False)
    sh(['docker', 'run', '-d', '--name', NAME, '-v', '%s:/opt/wheels:ro' % WHEELHOUSE, IMAGE,
        'bash', '-c', 'while true; do sleep 10000; done'])
    rows = []
    try:
        for user in USERS:
            dexec('useradd -m %s' % user)
        with tempfile.TemporaryDirectory() as workdir:
            rx0 = rx_bytes()
            seconds = run_role(USERS[:1], workdir)
            rows.append(measure('1 user (first run: tools, layer)', seconds, rx0, USERS[:1]))
            rx0 = rx_bytes()
            seconds = run_role(USERS, workdir)
            rows.append(measure('3 users (2 more added)', seconds, rx0, USERS))
        rows.append(baseline_private_venv())
    finally:
        subprocess.run(['docker', 'rm', '-f', NAME], capture_output=True, check=False)
    print('%-46s %5s %8s %12s %10s  %s' % ('step', 'users', 'seconds', 'network MiB', 'disk MiB', 'per-user env MiB'))
    for row in rows:
        cells = (row['step'], row['users'], row['seconds'], row['network_mib'], row['disk_total_mib'],
                 row.get('disk_per_user_env_mib', ''))
        print('%-46s %5d %8.1f %12.1f %10.1f  %s' % cells)
    result = {
        'date': datetime.date.today().isoformat(),
        'machine': '%s, %d CPUs, %s' % (platform.node(), os.cpu_count() or 0, platform.platform()),
        'image': IMAGE, 'wheelhouse': WHEELHOUSE, 'rows': rows,
    }
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    out = os.path.join(HERE, 'results', 'pytorch_env_users-%s.json' % result['date'])
    with open(out, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=2)
    print('written', out)
    return 0


if __name__ == '__main__':
    sys.exit(main())

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to labops.dlstack. Runs on managed hosts: pure Python >= 3.9, stdlib only.

"""Who is using a host's GPUs: compute processes and interactive sessions (part of the GPU probe).

- gpu_processes(): the processes with a context on each GPU, from `nvidia-smi --query-compute-apps`
  (or the <processes> of `nvidia-smi -q -x` when that was read anyway), each mapped to its user and
  elapsed time through procfs. When the nvidia kernel module is loaded but nvidia-smi cannot list
  processes (a driver/library mismatch, no nvidia-smi), the processes holding /dev/nvidia<N> open
  are read from procfs instead.
- interactive_sessions(): logged-in users, from utmp and systemd-logind's session files, without
  the session this probe runs in (Ansible's own connection).

Like _gpu_probe, everything is a function of file trees (procfs_root, root) and of a
`run(argv) -> (rc, stdout, stderr)` callable, so tests feed it recorded hosts.
"""

from __future__ import annotations

import os
import re
import struct

# Fields of --query-compute-apps (`nvidia-smi --help-query-compute-apps`, 590.48.01, in
# tests/unit/fixtures/gpu/nvidia_gpu_exporter/). process_name comes last: names can hold commas
# (Chromium's command line in telegraf/gt-1030.xml), so a row splits into len(fields) columns from
# the left and the name keeps the rest.
COMPUTE_APPS_FIELDS = ('gpu_bus_id', 'pid', 'used_memory', 'process_name')

# NVIDIA's own daemons keep /dev/nvidia* open on an idle host: nvidia-persistenced (driver README,
# "Using the nvidia-persistenced Utility"), Fabric Manager (nv-fabricmanager), DCGM's nv-hostengine,
# the GPU power daemon nvidia-powerd, and nvidia-smi itself. /proc/<pid>/comm holds 15 characters.
NVIDIA_DAEMONS = ('nvidia-persistenced', 'nv-fabricmanager', 'nv-hostengine', 'nvidia-powerd', 'nvidia-smi')

# glibc's struct utmp on x86_64 and aarch64 (bits/utmp.h; 384 bytes): ut_type, pad, ut_pid,
# ut_line[32], ut_id[4], ut_user[32], ut_host[256], ut_exit (2 x short), ut_session, ut_tv (2 x int32),
# ut_addr_v6[4], unused[20]. `utmpdump` reads the fixture written in this layout
# (tests/unit/fixtures/gpu/sessions/).
UTMP_RECORD = struct.Struct('<hxxi32s4s32s256shhiii16s20s')
UTMP_USER_PROCESS = 7
UTMP_PATHS = ('run/utmp', 'var/run/utmp')
LOGIND_SESSIONS = 'run/systemd/sessions'


def _read(path, limit=1024 * 1024):
    try:
        with open(path, 'rb') as handle:
            return handle.read(limit)
    except (IOError, OSError):
        return None


def _text(path, limit=1024 * 1024):
    data = _read(path, limit)
    return data.decode('utf-8', 'replace') if data is not None else None


def _none_if_na(value):
    text = (value or '').strip()
    if not text or text.lower() in ('n/a', '[n/a]', '[not supported]', '[insufficient permissions]') or \
            (text.startswith('[') and text.endswith(']')):
        return None
    return text


def _mib(value):
    """'1005 MiB', '1005', '[N/A]' -> 1005 / None."""
    match = re.match(r'^\s*(\d+)\s*(MiB)?\s*$', value or '')
    return int(match.group(1)) if match else None


def _bus_id(value):
    """'00000000:00:1E.0' -> '0000:00:1e.0' (the form of the probe's gpus)."""
    match = re.match(r'^(?:([0-9a-fA-F]+):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$', (value or '').strip())
    if not match:
        return (value or '').strip().lower() or None
    return '%04x:%02x:%02x.%s' % (int(match.group(1) or '0', 16), int(match.group(2), 16), int(match.group(3), 16), match.group(4))


# ------------------------------------------------------------------------------------------------
# nvidia-smi
# ------------------------------------------------------------------------------------------------

def compute_apps_args(fields=COMPUTE_APPS_FIELDS):
    return ['--query-compute-apps=' + ','.join(fields), '--format=csv,noheader,nounits']


def parse_compute_apps(text, fields=COMPUTE_APPS_FIELDS):
    """--query-compute-apps CSV (noheader or with the header line) -> [{gpu_bus_id, pid, memory_mib, name}].

    Works for any field order; a field named process_name/name is best last (see COMPUTE_APPS_FIELDS).
    """
    fields = list(fields)
    rows = []
    for line in (text or '').splitlines():
        if not line.strip():
            continue
        values = [v.strip() for v in line.split(',', len(fields) - 1)]
        if len(values) != len(fields):
            continue
        row = dict(zip(fields, values))
        if row.get('pid', '').lower() == 'pid':  # the header of --format=csv
            continue
        pid = row.get('pid', '')
        if not pid.isdigit():
            continue
        name = row.get('process_name', row.get('name'))
        memory = row.get('used_memory', row.get('used_gpu_memory'))
        rows.append({'gpu_bus_id': _bus_id(row.get('gpu_bus_id')), 'pid': int(pid), 'type': 'C',
                     'memory_mib': _mib(_none_if_na(memory)), 'name': _none_if_na(name)})
    return rows


def query_compute_apps(run, nvidia_smi):
    """Run --query-compute-apps: (ok, rows)."""
    rc, out, _err = run([nvidia_smi] + compute_apps_args())
    if rc != 0:
        return False, []
    return True, parse_compute_apps(out)


def parse_xml_processes(gpu_elem):
    """The <processes> of one <gpu> of `nvidia-smi -q -x` -> [{pid, type, name, memory_mib, gpu_instance_id, compute_instance_id}]."""
    out = []
    for proc in gpu_elem.findall('processes/process_info'):
        pid = (proc.findtext('pid') or '').strip()
        if not pid.isdigit():
            continue
        gi = _none_if_na(proc.findtext('gpu_instance_id'))
        ci = _none_if_na(proc.findtext('compute_instance_id'))
        out.append({
            'pid': int(pid),
            'type': _none_if_na(proc.findtext('type')),
            'name': _none_if_na(proc.findtext('process_name')),
            'memory_mib': _mib(_none_if_na(proc.findtext('used_memory'))),
            'gpu_instance_id': int(gi) if gi and gi.isdigit() else None,
            'compute_instance_id': int(ci) if ci and ci.isdigit() else None,
        })
    return out


# ------------------------------------------------------------------------------------------------
# procfs: who runs a pid, for how long; who holds the device nodes
# ------------------------------------------------------------------------------------------------

def read_uptime(procfs_root):
    text = _text(os.path.join(procfs_root, 'uptime'))
    try:
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def process_uid(procfs_root, pid):
    """Real uid of pid from /proc/<pid>/status ('Uid:\\t1000\\t1000\\t1000\\t1000'), None when unknown."""
    text = _text(os.path.join(procfs_root, str(pid), 'status'), 65536)
    for line in (text or '').splitlines():
        if line.startswith('Uid:'):
            parts = line.split()
            if len(parts) > 1 and parts[1].isdigit():
                return int(parts[1])
    return None


def process_start_ticks(procfs_root, pid):
    """Field 22 of /proc/<pid>/stat (starttime, clock ticks after boot). comm (field 2) may hold spaces
    and parentheses, so the fields are counted after its last ')'."""
    text = _text(os.path.join(procfs_root, str(pid), 'stat'), 65536)
    if not text or ')' not in text:
        return None
    rest = text.rsplit(')', 1)[1].split()
    # rest[0] is field 3 (state): field 22 is rest[19]
    return int(rest[19]) if len(rest) > 19 and rest[19].isdigit() else None


def clock_ticks():
    try:
        return os.sysconf('SC_CLK_TCK')
    except (ValueError, OSError, AttributeError):
        return 100


class UserNames(object):
    """uid -> user name: the live host's user database (LDAP/SSSD users included), or <root>/etc/passwd of a
    recorded tree."""

    def __init__(self, root='/'):
        self.root = root
        self._cache = {}
        self._passwd = None

    def _recorded(self):
        if self._passwd is None:
            self._passwd = {}
            for line in (_text(os.path.join(self.root, 'etc', 'passwd')) or '').splitlines():
                parts = line.split(':')
                if len(parts) > 2 and parts[2].isdigit():
                    self._passwd.setdefault(int(parts[2]), parts[0])
        return self._passwd

    def __call__(self, uid):
        if uid is None:
            return None
        if uid not in self._cache:
            name = None
            if os.path.normpath(self.root) == '/':
                try:
                    import pwd  # pylint: disable=import-outside-toplevel
                    name = pwd.getpwuid(uid).pw_name
                except (ImportError, KeyError):
                    name = None
            else:
                name = self._recorded().get(uid)
            self._cache[uid] = name if name is not None else str(uid)
        return self._cache[uid]


def describe_process(procfs_root, pid, users, uptime=None, ticks=None):
    """{'user', 'elapsed_s'} of pid from procfs (None each when the pid is not visible here)."""
    uid = process_uid(procfs_root, pid)
    start = process_start_ticks(procfs_root, pid)
    elapsed = None
    if start is not None and uptime is not None:
        elapsed = max(0, int(uptime - float(start) / (ticks or clock_ticks())))
    return {'user': users(uid) if uid is not None else None, 'elapsed_s': elapsed}


_DEV_NVIDIA_RE = re.compile(r'^/dev/nvidia(\d+)$')


def device_holders(procfs_root):
    """Processes with /dev/nvidia<N> open, from /proc/<pid>/fd (needs root to see other users'):
    [{'minor': N, 'pid': pid, 'name': comm}], NVIDIA's own daemons left out. None when procfs cannot be read."""
    try:
        pids = [entry for entry in os.listdir(procfs_root) if entry.isdigit()]
    except OSError:
        return None
    out = []
    for pid in sorted(pids, key=int):
        fd_dir = os.path.join(procfs_root, pid, 'fd')
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        minors = set()
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            match = _DEV_NVIDIA_RE.match(target)
            if match:
                minors.add(int(match.group(1)))
        if not minors:
            continue
        comm = (_text(os.path.join(procfs_root, pid, 'comm'), 256) or '').strip()
        if any(comm == daemon[:15] for daemon in NVIDIA_DAEMONS):
            continue
        for minor in sorted(minors):
            out.append({'minor': minor, 'pid': int(pid), 'name': comm or None})
    return out


# ------------------------------------------------------------------------------------------------
# putting the processes together
# ------------------------------------------------------------------------------------------------

def gpu_processes(run, nvidia_smi, smi_ok, kernel_module_loaded, gpus, procfs_root='/proc', root='/', xml_processes=None):
    """(processes, source) for the probe's facts.

    processes: [{gpu, pid, user, name, memory_mib, elapsed_s, type}], sorted by GPU and pid; a process on
    two GPUs is listed on each. source: 'nvidia-smi' (--query-compute-apps), 'nvidia-smi -q -x' (the XML
    <processes>, when the probe read the XML anyway), 'procfs' (/dev/nvidia<N> holders: nvidia-smi could
    not list them), or None when no NVIDIA kernel module is loaded (nothing can run on the GPUs: no
    nvidia-smi call is spent).

    gpus: the probe's gpu facts (index, pci_bus_id). xml_processes: {pci_bus_id: [parse_xml_processes()]}.
    """
    if not kernel_module_loaded and not smi_ok:
        return [], None
    index_of = dict((g.get('pci_bus_id'), g.get('index')) for g in gpus if g.get('pci_bus_id'))
    found = []
    source = None
    if smi_ok and nvidia_smi and run is not None:
        ok, rows = query_compute_apps(run, nvidia_smi)
        if ok:
            source = 'nvidia-smi'
            found = [dict(row, gpu=index_of.get(row['gpu_bus_id'])) for row in rows]
    if xml_processes:
        by_key = dict(((p['gpu'], p['pid']), p) for p in found)
        for bus_id, procs in sorted(xml_processes.items()):
            for proc in procs:
                key = (index_of.get(bus_id), proc['pid'])
                if key in by_key:
                    by_key[key]['type'] = proc['type'] or by_key[key]['type']
                    continue
                if source is None or proc['type'] in (None, 'G'):
                    entry = dict(proc, gpu=key[0])
                    found.append(entry)
                    by_key[key] = entry
        if source is None:
            source = 'nvidia-smi -q -x'
    if source is None:
        holders = device_holders(procfs_root)
        if holders is None:
            return [], None
        source = 'procfs'
        found = [{'gpu': h['minor'], 'pid': h['pid'], 'name': h['name'], 'memory_mib': None, 'type': None}
                 for h in holders]
    users = UserNames(root)
    uptime = read_uptime(procfs_root)
    ticks = clock_ticks()
    out = []
    for proc in found:
        who = describe_process(procfs_root, proc['pid'], users, uptime, ticks)
        out.append({'gpu': proc.get('gpu'), 'pid': proc['pid'], 'user': who['user'], 'name': proc.get('name'),
                    'memory_mib': proc.get('memory_mib'), 'elapsed_s': who['elapsed_s'], 'type': proc.get('type')})
    out.sort(key=lambda p: (p['gpu'] is None, p['gpu'] if p['gpu'] is not None else 0, p['pid']))
    return out, source


# ------------------------------------------------------------------------------------------------
# interactive sessions
# ------------------------------------------------------------------------------------------------

def _cstr(raw):
    return raw.split(b'\0', 1)[0].decode('utf-8', 'replace')


def parse_utmp(data):
    """utmp records (bytes) -> [{type, pid, tty, id, user, host, session, time}]."""
    out = []
    size = UTMP_RECORD.size
    for offset in range(0, len(data or b'') - size + 1, size):
        fields = UTMP_RECORD.unpack_from(data, offset)
        ut_type, pid, line, ut_id, user, host, _term, _exit, session, tv_sec, _tv_usec, _addr, _unused = fields
        out.append({'type': ut_type, 'pid': pid, 'tty': _cstr(line), 'id': _cstr(ut_id), 'user': _cstr(user),
                    'host': _cstr(host), 'session': session, 'time': tv_sec})
    return out


def parse_logind_session(text):
    """A systemd-logind session file (/run/systemd/sessions/<id>, KEY=value lines) -> dict."""
    out = {}
    for line in (text or '').splitlines():
        if '=' in line and not line.startswith('#'):
            key, value = line.split('=', 1)
            out[key.strip()] = value.strip()
    return out


def own_ancestors(procfs_root='/proc', pid=None):
    """This process and its ancestors (from /proc/<pid>/status PPid), for leaving out our own session."""
    pid = pid or os.getpid()
    seen = []
    while pid and pid not in seen and len(seen) < 64:
        seen.append(pid)
        ppid = None
        for line in (_text(os.path.join(procfs_root, str(pid), 'status'), 65536) or '').splitlines():
            if line.startswith('PPid:'):
                value = line.split(':', 1)[1].strip()
                ppid = int(value) if value.isdigit() else None
                break
        pid = ppid
    return set(seen)


def interactive_sessions(root='/', procfs_root='/proc', exclude_pids=()):
    """Logged-in users: [{user, tty, remote_host, pid, since, source}], sorted by user and tty.

    From utmp (USER_PROCESS records whose process is alive) and systemd-logind's session files (class
    user: not greeters, lock screens or background services), one entry per user and tty. Sessions led by
    a pid in exclude_pids (the probe's own ancestors: Ansible's connection) are left out.
    """
    exclude = set(exclude_pids or ())
    sessions = {}
    for rel in UTMP_PATHS:
        data = _read(os.path.join(root, rel), 4 << 20)
        if data is None:
            continue
        for rec in parse_utmp(data):
            if rec['type'] != UTMP_USER_PROCESS or not rec['user'] or rec['pid'] in exclude:
                continue
            if rec['pid'] > 0 and not os.path.isdir(os.path.join(procfs_root, str(rec['pid']))):
                continue  # a stale record: the login process is gone
            key = (rec['user'], rec['tty'])
            sessions.setdefault(key, {'user': rec['user'], 'tty': rec['tty'] or None, 'remote_host': rec['host'] or None,
                                      'pid': rec['pid'], 'since': rec['time'] or None, 'source': 'utmp'})
        break  # /var/run is /run on every supported distribution: read one
    try:
        names = sorted(os.listdir(os.path.join(root, LOGIND_SESSIONS)))
    except OSError:
        names = []
    for name in names:
        if name.endswith('.ref'):
            continue
        info = parse_logind_session(_text(os.path.join(root, LOGIND_SESSIONS, name), 65536))
        if info.get('CLASS', 'user') != 'user' or info.get('STATE') == 'closing' or not info.get('USER'):
            continue
        leader = int(info['LEADER']) if info.get('LEADER', '').isdigit() else None
        if leader in exclude:
            continue
        tty = info.get('TTY') or info.get('DISPLAY') or None
        key = (info['USER'], tty)
        if key in sessions or any(s['pid'] == leader and leader for s in sessions.values()):
            continue
        since = info.get('REALTIME', '')
        sessions[key] = {'user': info['USER'], 'tty': tty, 'remote_host': info.get('REMOTE_HOST') or None, 'pid': leader,
                         'since': int(since) // 1000000 if since.isdigit() else None, 'source': 'logind'}
    return [sessions[k] for k in sorted(sessions, key=lambda k: (k[0], k[1] or ''))]

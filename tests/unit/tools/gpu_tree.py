# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recorded hosts as files: a sysfs/procfs/dev tree and an nvidia-smi that replays captures.

Used by the unit tests (tests/unit/conftest.py) and by gpu_profile.py, which builds the simulated GPU
hosts of the demo lab from the same real captures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(TOOLS, '..', '..', '..'))

_spec = importlib.util.spec_from_file_location('replay_nvidia_smi', os.path.join(TOOLS, 'replay_nvidia_smi.py'))
replay_nvidia_smi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(replay_nvidia_smi)


class HostTree(object):
    """A host as files: <base>/sys, <base>/proc, <base>/dev (+ /.dockerenv ...), built from captures."""

    def __init__(self, base):
        self.root = str(base)
        self.sysfs = os.path.join(self.root, 'sys')
        self.procfs = os.path.join(self.root, 'proc')
        self.dev = os.path.join(self.root, 'dev')
        for path in (os.path.join(self.sysfs, 'bus', 'pci', 'devices'), os.path.join(self.sysfs, 'module'),
                     os.path.join(self.sysfs, 'firmware'), os.path.join(self.procfs, '1'), self.dev):
            os.makedirs(path, exist_ok=True)

    @staticmethod
    def _write(path, content, mode='w'):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as handle:
            handle.write(content)

    def add_pci(self, bus_id, vendor, device, pci_class, driver=None, subsystem_vendor=None, subsystem_device=None, numa=None):
        path = os.path.join(self.sysfs, 'bus', 'pci', 'devices', bus_id)
        os.makedirs(path, exist_ok=True)
        for name, value in (('vendor', vendor), ('device', device), ('class', pci_class), ('subsystem_vendor', subsystem_vendor),
                            ('subsystem_device', subsystem_device), ('numa_node', numa)):
            if value is not None:
                self._write(os.path.join(path, name), '%s\n' % value)
        if driver:
            os.makedirs(os.path.join(self.sysfs, 'bus', 'pci', 'drivers', driver), exist_ok=True)
            os.symlink(os.path.join('..', '..', 'drivers', driver), os.path.join(path, 'driver'))
        return path

    def add_pci_capture(self, line):
        """A line of h200-driver580/sysfs_pci_10de.txt: '<bdf> vendor=0x10de device=0x2335 class=... driver=nvidia ...'."""
        bus_id, rest = line.strip().split(' ', 1)
        attrs = dict(item.split('=', 1) for item in rest.split())
        return self.add_pci(bus_id, attrs['vendor'], attrs['device'], attrs['class'], attrs.get('driver') or None,
                            attrs.get('subsys_vendor'), attrs.get('subsys_device'), attrs.get('numa'))

    def add_pci_listing(self, text):
        """The `for d in /sys/bus/pci/devices/*` listing in h200-driver580/gpu-probe.txt."""
        count = 0
        for line in text.splitlines():
            match = re.match(r'^/sys/bus/pci/devices/(\S+) (0x\w+) (0x\w+) (0x\w+) (0x\w+)\s+drv=(\S*)$', line)
            if match:
                bus_id, vendor, device, pci_class, subsys, driver = match.groups()
                self.add_pci(bus_id, vendor, device, pci_class, driver or None, subsystem_device=subsys)
                count += 1
        return count

    def load_module(self, name, version=None, proc_version=None, taint=None):
        module = os.path.join(self.sysfs, 'module', name)
        os.makedirs(module, exist_ok=True)
        if version:
            self._write(os.path.join(module, 'version'), version + '\n')
        if taint is not None:
            self._write(os.path.join(module, 'taint'), taint + '\n')
        if proc_version:
            self._write(os.path.join(self.procfs, 'driver', name, 'version'), proc_version)
        self._write(os.path.join(self.procfs, 'modules'), '%s 14299136 - - Live 0xffffffffc0400000 (O)\n' % name, 'a')

    def efi(self, secure_boot=None):
        efivars = os.path.join(self.sysfs, 'firmware', 'efi', 'efivars')
        os.makedirs(efivars, exist_ok=True)
        if secure_boot is not None:
            # efivarfs: 4 bytes of attributes (NV+BS+RT = 0x06) then the one-byte value
            self._write(os.path.join(efivars, 'SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c'),
                        b'\x06\x00\x00\x00' + bytes([1 if secure_boot else 0]), 'wb')

    def dev_nodes(self, *names):
        for name in names:
            self._write(os.path.join(self.dev, name), '')

    def dockerenv(self):
        self._write(os.path.join(self.root, '.dockerenv'), '')

    def containerenv(self):
        self._write(os.path.join(self.root, 'run', '.containerenv'), '')

    def uptime(self, seconds):
        """/proc/uptime: seconds since boot (and idle seconds, not read)."""
        self._write(os.path.join(self.procfs, 'uptime'), '%.2f %.2f\n' % (seconds, seconds * 1.5))

    def add_process(self, pid, comm, uid, start_ticks, devices=(), ppid=1):
        """/proc/<pid>/{status,stat,comm,fd}: owner uid, start time (clock ticks after boot, field 22 of stat)
        and file descriptors open on /dev/<device> (e.g. 'nvidia0'), in the kernel's formats (proc(5))."""
        base = os.path.join(self.procfs, str(pid))
        self._write(os.path.join(base, 'comm'), comm[:15] + '\n')
        self._write(os.path.join(base, 'status'), 'Name:\t%s\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\n'
                    'Uid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n' % ((comm[:15], pid, pid, ppid) + (uid,) * 8))
        # fields 1-52; 22 is starttime
        fields = [str(pid), '(%s)' % comm[:15], 'S', str(ppid), str(pid), str(pid), '0', '-1', '4194560'] + ['0'] * 12 + \
            [str(start_ticks)] + ['0'] * 30
        self._write(os.path.join(base, 'stat'), ' '.join(fields) + '\n')
        os.makedirs(os.path.join(base, 'fd'), exist_ok=True)
        for number, device in enumerate(devices, start=3):
            os.symlink('/dev/%s' % device, os.path.join(base, 'fd', str(number)))
        return base

    def passwd(self, *users):
        """<root>/etc/passwd lines for (name, uid) pairs."""
        lines = ['%s:x:%d:%d:%s:/home/%s:/bin/bash' % (name, uid, uid, name, name) for name, uid in users]
        self._write(os.path.join(self.root, 'etc', 'passwd'), '\n'.join(lines) + '\n')

    def utmp(self, data):
        self._write(os.path.join(self.root, 'run', 'utmp'), data, 'wb')

    def logind_session(self, session_id, **keys):
        """/run/systemd/sessions/<id> (KEY=value, as systemd-logind writes it)."""
        text = '# This is private data. Do not parse.\n' + ''.join('%s=%s\n' % kv for kv in keys.items())
        self._write(os.path.join(self.root, 'run', 'systemd', 'sessions', str(session_id)), text)

    def proc1(self, cgroup=None, environ=None):
        if cgroup is not None:
            self._write(os.path.join(self.procfs, '1', 'cgroup'), cgroup)
        if environ is not None:
            self._write(os.path.join(self.procfs, '1', 'environ'), environ, 'wb')


class ReplayNvidiaSmi(object):
    """nvidia-smi that answers from recorded output (see tests/unit/tools/replay_nvidia_smi.py)."""

    def __init__(self, gpus=None, valid_fields=None, version=None, failure=None, xml=None, compute_apps=None,
                 compute_apps_fields=None, call_log=None):
        self.spec = {'gpus': gpus or [], 'valid_fields': valid_fields, 'version': version, 'failure': failure, 'xml': xml,
                     'compute_apps': compute_apps, 'compute_apps_fields': compute_apps_fields, 'call_log': call_log}
        self.calls = []

    def run(self, argv):
        self.calls.append(list(argv[1:]))
        return replay_nvidia_smi.respond(self.spec, list(argv[1:]))

    def script(self, directory, portable=False):
        """Write an executable nvidia-smi into directory; returns its path.

        portable: copy the replayer next to it and call it through `python3` relative to the script,
        so the directory still works when copied to another machine (the demo lab's containers).
        """
        spec_path = os.path.join(str(directory), 'nvidia-smi.json')
        with open(spec_path, 'w', encoding='utf-8') as handle:
            json.dump(self.spec, handle)
        path = os.path.join(str(directory), 'nvidia-smi')
        tool = os.path.join(TOOLS, 'replay_nvidia_smi.py')
        if portable:
            with open(tool, encoding='utf-8') as src, open(os.path.join(str(directory), 'replay_nvidia_smi.py'), 'w', encoding='utf-8') as dst:
                dst.write(src.read())
            text = '#!/bin/sh\nd=$(dirname "$0")\nexec python3 "$d/replay_nvidia_smi.py" "$d/nvidia-smi.json" "$@"\n'
        else:
            text = '#!/bin/sh\nexec "%s" "%s" "%s" "$@"\n' % (sys.executable, tool, spec_path)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path


def help_query_fields(text):
    """Field names of a recorded `nvidia-smi --help-query-gpu` (each quoted name at a line start, aliases too)."""
    fields = []
    for line in text.splitlines():
        if line.startswith('"'):
            fields.extend(re.findall(r'"([^"]+)"', line))
    return fields

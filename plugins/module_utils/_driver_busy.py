# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to labops.dlstack (leading underscore). Pure Python >= 3.9, no third-party imports.

"""Never break a running job: whether a driver change may go ahead on a host whose GPUs are in use.

Decisions of the role nvidia_driver, from the probe's facts (ansible_facts['dlstack_gpu']: processes,
processes_source, sessions, driver) and the role's plan (_nvidia_driver.plan()):

- change_effects(): what the planned package change does to the driver that is loaded now (installing
  or removing the packages of a running driver, and the reboot that follows on a host); nothing when no
  NVIDIA kernel module is loaded, or when every planned package is already installed;
- reboot_effects(): the same for the reboot the role is about to do;
- work_processes(): the GPU processes a change would break (compute contexts; not the desktop's
  display server and compositor, whose users count as logged-in sessions);
- busy_decision(): go, wait, defer or proceed, with the sentence the role reports
  ("deferred: 1 process on GPU 0 (alice python 71h) ...").

What "disturb" means here: on a host, replacing the driver packages under a loaded module leaves the
userspace and the module at different versions until the reboot that the role then does, which kills
every GPU process (and logs every user out); removing modules or packages breaks them the same way. In a
container the role installs only the driver userspace while the GPUs run the loaded (host's) driver:
CUDA programs started after that load the new libraries against the old module, so the same rule holds
there, without the reboot. Work that such a change cannot disturb (a CUDA toolkit, a conda, a PyTorch
environment) never asks this module.
"""

from __future__ import annotations

import re

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge import version_string
from ansible_collections.labops.dlstack.plugins.module_utils._nvidia_driver import installed_versions

POLICIES = ('defer', 'wait', 'proceed')
STAGES = ('change', 'reboot')

# Display servers and compositors: a desktop, not a job. nvidia-smi lists some of them with a compute
# context (kwin_wayland is C+G in the RTX 4080 SUPER capture, fixtures/gpu/nvidia_gpu_exporter/); the
# others appear as G in the telegraf/netdata XML captures (Xorg, gnome-shell, cosmic-comp, kwin_x11,
# plasmashell, Xwayland). Their users are logged in, which counts before a reboot (sessions).
DESKTOP_PROCESSES = frozenset(('Xorg', 'X', 'Xwayland', 'kwin_wayland', 'kwin_x11', 'gnome-shell', 'mutter', 'cosmic-comp',
                               'plasmashell', 'sway', 'weston', 'gamescope', 'sddm-greeter', 'gdm-x-session',
                               'gdm-wayland-session'))
# Packages whose installation touches no driver library or module.
HARMLESS_PACKAGE_PREFIXES = ('linux-headers-',)


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------

def _version(value):
    """Driver version inside a package version: '1:580.95.05-0ubuntu1' -> '580.95.05' (epoch dropped)."""
    return version_string(re.sub(r'^\d+:', '', str(value))) if value else None


def short_name(name):
    """'/root/src/llama.cpp/build/bin/llama-server' -> 'llama-server'; 'C:\\\\Windows\\\\explorer.exe' -> 'explorer.exe';
    '/usr/lib/chromium/chromium --type=gpu-process ...' -> 'chromium'; None/'' -> '?'."""
    text = (name or '').strip()
    if not text:
        return '?'
    if re.match(r'^[A-Za-z]:\\', text):  # a Windows path, spaces and all
        return text.split('\\')[-1]
    first = text.split()[0]
    return first.split('/')[-1] or first


def format_elapsed(seconds):
    """45 -> '45s', 720 -> '12m', 255600 -> '71h', 432000 -> '5d' (hours up to 99h, then days)."""
    if seconds is None:
        return None
    seconds = int(seconds)
    if seconds < 60:
        return '%ds' % seconds
    if seconds < 3600:
        return '%dm' % (seconds // 60)
    if seconds < 100 * 3600:
        return '%dh' % (seconds // 3600)
    return '%dd' % (seconds // 86400)


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 'es' if word.endswith('s') else 's')


# --------------------------------------------------------------------------------------------------
# who is using the GPUs
# --------------------------------------------------------------------------------------------------

def is_desktop(process):
    return short_name(process.get('name')) in DESKTOP_PROCESSES


def work_processes(gpu):
    """The probe's processes a driver change would break: every process with a compute context (type C,
    C+G, or unknown), less the desktop's display server and compositor; graphics-only (G) processes are
    the desktop's too."""
    out = []
    for proc in (gpu or {}).get('processes') or []:
        if proc.get('type') == 'G' or is_desktop(proc):
            continue
        out.append(proc)
    return out


def describe_process(proc):
    """'alice python 71h' ('pid 5762 python' when the owner is not known here)."""
    parts = [proc.get('user') or 'pid %s' % proc.get('pid'), short_name(proc.get('name'))]
    elapsed = format_elapsed(proc.get('elapsed_s'))
    if elapsed:
        parts.append(elapsed)
    return ' '.join(parts)


def describe_session(session):
    """'bob pts/0 from 10.0.0.7'."""
    text = '%s %s' % (session.get('user'), session.get('tty') or '?')
    if session.get('remote_host'):
        text += ' from %s' % session['remote_host']
    return text


def busy_summary(work, sessions=(), unknown=None):
    """'2 processes on GPU 0 (alice python 71h, bob python 2h); 1 interactive session (carol pts/0)'."""
    parts = []
    by_gpu = {}
    for proc in work:
        by_gpu.setdefault(proc.get('gpu'), []).append(proc)
    for gpu_index in sorted(by_gpu, key=lambda g: (g is None, g if g is not None else 0)):
        procs = by_gpu[gpu_index]
        where = 'GPU %s' % gpu_index if gpu_index is not None else 'a GPU'
        parts.append('%s on %s (%s)' % (_plural(len(procs), 'process'), where, ', '.join(describe_process(p) for p in procs)))
    if sessions:
        parts.append('%s (%s)' % (_plural(len(sessions), 'interactive session'), ', '.join(describe_session(s) for s in sessions)))
    if unknown:
        parts.append(unknown)
    return '; '.join(parts)


# --------------------------------------------------------------------------------------------------
# what the change does to the loaded driver
# --------------------------------------------------------------------------------------------------

def loaded_driver(gpu):
    driver = (gpu or {}).get('driver') or {}
    return version_string(driver.get('version')) if driver.get('loaded') else None


def change_effects(gpu, plan, installed=None, reboot_policy='auto', connection='ssh'):
    """What the plan would do to the loaded driver: {'loaded_version', 'effects': [sentences], 'reboot': bool}.

    No effects when no NVIDIA kernel module is loaded, when the plan installs nothing (satisfied, skip,
    deferred, fail), or when every planned package is installed already (apt leaves them as they are)
    and no reboot is due. installed: package_facts['packages'] before the change.
    """
    gpu = gpu if isinstance(gpu, dict) else {}
    plan = plan if isinstance(plan, dict) else {}
    loaded = loaded_driver(gpu)
    result = {'loaded_version': loaded, 'effects': [], 'reboot': False}
    effects = result['effects']
    if not loaded:
        return result
    action = plan.get('action')
    remove = list(plan.get('remove') or [])
    if action == 'remove':
        if remove:
            effects.append('remove the driver packages (%s) of the loaded driver %s' % (', '.join(remove), loaded))
        return result
    if action != 'install':
        return result
    versions = installed_versions(installed)
    if remove:
        effects.append('remove %s (another branch, flavour or source) from under the loaded driver %s' % (', '.join(remove), loaded))
    missing = [p for p in plan.get('packages') or [] if p not in versions and not p.startswith(HARMLESS_PACKAGE_PREFIXES)]
    branch = plan.get('branch')
    if missing and plan.get('mode') == 'container':
        effects.append('install the userspace of driver branch %s (%s) into this container, whose GPUs run the loaded driver %s '
                       '(CUDA programs started afterwards would load the new libraries)' % (branch, ', '.join(missing), loaded))
    elif missing:
        effects.append('install driver branch %s (%s, %s kernel module) over the loaded driver %s'
                       % (branch, ', '.join(missing), plan.get('flavour') or 'matching', loaded))
    if plan.get('mode') == 'host':
        now = _version(versions.get(plan.get('version_package')))
        due = bool(missing or remove) or bool(now and now != loaded) or bool(gpu.get('nouveau_loaded')) \
            or gpu.get('status') == 'driver_library_mismatch'
        if due and reboot_policy == 'auto' and connection != 'local':
            result['reboot'] = True
            effects.append('reboot to load the new kernel module')
    return result


def reboot_effects(gpu, reboot):
    """The reboot the role is about to do (reboot: _nvidia_driver.reboot_decision()): same shape as change_effects()."""
    gpu = gpu if isinstance(gpu, dict) else {}
    reboot = reboot if isinstance(reboot, dict) else {}
    loaded = loaded_driver(gpu)
    result = {'loaded_version': loaded, 'effects': [], 'reboot': False}
    if loaded and reboot.get('reboot'):
        result['reboot'] = True
        result['effects'].append('reboot to load driver %s (the loaded kernel module is %s)'
                                 % (reboot.get('installed_version') or 'the installed driver', loaded))
    return result


# --------------------------------------------------------------------------------------------------
# the decision
# --------------------------------------------------------------------------------------------------

def busy_decision(gpu, plan=None, installed=None, stage='change', reboot=None, policy='defer', sessions=True,
                  reboot_policy='auto', connection='ssh', waited_s=None, wait_timeout=None, check_mode=False):
    """go, wait, defer or proceed for one stage of the role.

    gpu: ansible_facts['dlstack_gpu'] (the newest probe). stage: 'change' (before the package change, with
    plan and installed) or 'reboot' (before the reboot, with reboot = the reboot decision). policy:
    nvidia_driver_busy_policy. sessions: count logged-in users before a reboot. waited_s: seconds already
    spent waiting (after the role's wait loop; a decision with waited_s never says wait again).

    Returns {'decision', 'stage', 'policy', 'effects', 'reboot', 'busy', 'work', 'sessions', 'summary',
    'message', 'waited_s', 'errors'}: message is the sentence for the result and the reports (None when
    there is nothing to say).
    """
    gpu = gpu if isinstance(gpu, dict) else {}
    errors = []
    if policy not in POLICIES:
        errors.append("nvidia_driver_busy_policy: '%s' is not one of %s" % (policy, ', '.join(POLICIES)))
    if stage not in STAGES:
        errors.append("stage: '%s' is not one of %s" % (stage, ', '.join(STAGES)))
    result = {'decision': 'go', 'stage': stage, 'policy': policy, 'effects': [], 'reboot': False, 'busy': False,
              'work': [], 'sessions': [], 'summary': '', 'message': None, 'waited_s': waited_s, 'errors': errors}
    if errors:
        result['decision'] = None
        return result

    effects = (reboot_effects(gpu, reboot) if stage == 'reboot'
               else change_effects(gpu, plan, installed, reboot_policy=reboot_policy, connection=connection))
    result['effects'] = effects['effects']
    result['reboot'] = effects['reboot']

    work = work_processes(gpu)
    unknown = None
    if effects['loaded_version'] and ('processes' not in gpu or gpu.get('processes_source') is None):
        unknown = 'GPU processes unknown (neither nvidia-smi nor /proc could list them)'
    logged_in = list(gpu.get('sessions') or []) if sessions and effects['reboot'] else []
    result['work'] = work
    result['sessions'] = logged_in
    result['busy'] = bool(work or logged_in or unknown)
    result['summary'] = busy_summary(work, logged_in, unknown)
    what = ', then '.join(effects['effects'])

    if not effects['effects']:
        if work:
            result['message'] = ('%s; nothing this run does can disturb the loaded driver %s'
                                 % (busy_summary(work), effects['loaded_version']))
        return result
    if not result['busy']:
        if waited_s:
            result['message'] = 'the GPUs went idle after %d s of waiting' % waited_s
        return result
    if policy == 'proceed':
        result['decision'] = 'proceed'
        result['message'] = ('proceeding although %s: this run will %s (nvidia_driver_busy_policy: proceed)'
                             % (result['summary'], what))
        return result
    if policy == 'wait' and waited_s is None and not check_mode:
        result['decision'] = 'wait'
        result['message'] = ('waiting up to %s s for the GPUs to go idle (%s): this run would %s'
                             % (wait_timeout, result['summary'], what))
        return result
    result['decision'] = 'defer'
    if waited_s is not None:
        how = ' (still busy after %d s of waiting)' % waited_s
    elif policy == 'wait':
        how = ' (check mode: a run would first wait up to %s s)' % wait_timeout
    else:
        how = ''
    what_stage = 'the reboot' if stage == 'reboot' else 'the driver change'
    result['message'] = ('deferred: %s%s. This run would %s; %s waits and nothing was changed for it. A later run '
                         'goes ahead once the GPUs are idle (nvidia_driver_busy_policy: wait waits for that, proceed '
                         'does it anyway).' % (result['summary'], how, what, what_stage))
    return result

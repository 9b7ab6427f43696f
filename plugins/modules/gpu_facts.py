#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_facts
short_description: Probe NVIDIA GPUs, driver, kernel module and the matching PyTorch wheel
version_added: 1.0.0
description:
  - Returns C(ansible_facts['dlstack_gpu']), the one description of a host's NVIDIA GPUs that every
    role of labops.dlstack decides from.
  - Works before any driver exists. It reads, in this order, the PCI devices in sysfs (vendor 0x10de,
    class 0x0300xx/0x0302xx, device id, bound kernel driver), C(/sys/module/nvidia/version) and
    C(/proc/driver/nvidia/version) (open or proprietary kernel module), whether nouveau is loaded, Secure
    Boot from the EFI variables, whether it runs in a container, and then
    C(nvidia-smi --query-gpu=... --format=csv,noheader,nounits).
  - Who uses the GPUs - where nvidia-smi answered (a loaded driver), one more call,
    C(nvidia-smi --query-compute-apps=gpu_bus_id,pid,used_memory,process_name), lists the processes with a
    context on each GPU, mapped to their user and elapsed time through procfs (the C(<processes>) of
    C(nvidia-smi -q -x) add graphics processes where the XML is read anyway, for MIG). Where the nvidia
    kernel module is loaded but nvidia-smi cannot list them (driver/library mismatch), the processes holding
    C(/dev/nvidia<N>) come from procfs. A host without a loaded driver pays for none of this.
  - Logged-in users come from utmp and systemd-logind's session files, less the session the probe runs in.
  - Fields an older nvidia-smi does not know are dropped one by one (R470 has no C(compute_cap)); the
    compute capability then comes from the PCI device id table.
  - Classifies the state in RV(ansible_facts.dlstack_gpu.status) (C(ok), C(no_gpu), C(driver_not_installed), C(driver_not_loaded),
    C(nouveau_bound), C(driver_library_mismatch), C(gpu_unsupported_by_driver), C(no_device_access)) with
    a message that says what it means and what to do.
  - Never changes anything and never reports C(changed).
author:
  - labops.dlstack maintainers (@labops)
extends_documentation_fragment:
  - labops.dlstack.attributes
  - labops.dlstack.attributes.info_module
  - labops.dlstack.attributes.facts
attributes:
  facts:
    support: full
options:
  nvidia_smi_path:
    description:
      - Path of C(nvidia-smi).
      - Default is C(nvidia-smi) found on E(PATH), C(/usr/bin) or C(/usr/local/nvidia/bin).
      - When it does not exist or does not run, the facts still come from sysfs and procfs.
      - May point at a script that replays recorded output, for tests and what-if planning.
    type: path
  sysfs_root:
    description:
      - Where sysfs is mounted. Point it at a recorded tree to probe recorded data.
      - When O(sysfs_root) and O(procfs_root) are C(<tree>/sys) and C(<tree>/proc) of one tree, the device
        nodes (C(<tree>/dev/nvidia*)) and the container marks (C(<tree>/.dockerenv),
        C(<tree>/run/.containerenv)) are read from that tree too.
    type: path
    default: /sys
  procfs_root:
    description:
      - Where procfs is mounted. See O(sysfs_root).
    type: path
    default: /proc
  torch_version:
    description:
      - PyTorch release to choose the wheel variant for, for example V(2.11) (V(2.11.0+cu130) is accepted).
      - Default is the newest release the collection's tables know.
    type: str
  timeout:
    description:
      - Seconds each C(nvidia-smi) call may take; a hung call counts as failed.
      - Needs C(timeout) from coreutils on the host; without it calls are not limited.
    type: int
    default: 30
notes:
  - Reads only. Run it without privilege escalation on hosts whose device nodes are world readable;
    reading the Secure Boot EFI variable needs no privilege either.
seealso:
  - name: PyTorch wheel index
    description: Where the O(torch_version) variants are published.
    link: https://download.pytorch.org/whl/
"""

EXAMPLES = r"""
- name: Probe the GPUs
  labops.dlstack.gpu_facts:
    torch_version: "2.11"

- name: Say what to do when the GPU is not usable
  ansible.builtin.debug:
    msg: "{{ ansible_facts['dlstack_gpu']['message'] }}"
  when: ansible_facts['dlstack_gpu']['status'] != 'ok'

- name: Install the wheel variant the probe recommends
  ansible.builtin.pip:
    name: torch
    extra_args: "--index-url {{ ansible_facts['dlstack_gpu']['torch']['index_url'] }}"
  when: ansible_facts['dlstack_gpu']['torch']['recommended_variant'] != 'cpu'

- name: Probe a recorded host (sys/ and proc/ copied from a real machine)
  labops.dlstack.gpu_facts:
    sysfs_root: /srv/captures/h200/sys
    procfs_root: /srv/captures/h200/proc
    nvidia_smi_path: /srv/captures/h200/replay-nvidia-smi
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: dict
  contains:
    dlstack_gpu:
      description: The GPU probe's result.
      returned: always
      type: dict
      contains:
        status:
          description:
            - V(ok), V(no_gpu), V(driver_not_installed), V(driver_not_loaded), V(nouveau_bound),
              V(driver_library_mismatch), V(gpu_unsupported_by_driver) or V(no_device_access).
          returned: always
          type: str
          sample: ok
        message:
          description: What the status means and what to do.
          returned: always
          type: str
          sample: "The NVIDIA driver runs 1 GPU(s) (NVIDIA H200 [Hopper]); driver 580.159.04 (open kernel module), CUDA 13.0."
        source:
          description:
            - V(live) when the probe read this host's own /sys and /proc; V(recorded) when O(sysfs_root) or
              O(procfs_root) point at a recorded tree (what-if planning, the demo lab). Reports label
              recorded hosts as simulated.
          returned: always
          type: str
          sample: live
        gpu_count:
          description: NVIDIA GPUs of this host (GPUs bound to vfio-pci for virtual machines are not counted).
          returned: always
          type: int
          sample: 1
        gpus:
          description: One entry per NVIDIA GPU, those the driver runs first (by index), then the others.
          returned: always
          type: list
          elements: dict
          contains:
            index:
              description: nvidia-smi index; null when the driver does not run this GPU.
              type: int
              returned: always
              sample: 0
            name:
              description: Product name from nvidia-smi, or the pci.ids name when the driver does not run it.
              type: str
              returned: always
              sample: NVIDIA H200
            pci_bus_id:
              description: PCI address, sysfs form (4-digit domain, lower case).
              type: str
              returned: always
              sample: "0000:00:06.0"
            pci_device_id:
              description: PCI device id (vendor 0x10de).
              type: str
              returned: always
              sample: "0x2335"
            uuid:
              description: GPU UUID; null when the driver does not run this GPU.
              type: str
              returned: always
              sample: GPU-19bcf0bb-def5-ad97-5081-496820ff8ff3
            memory_total_mib:
              description: Total memory in MiB; null when unknown.
              type: int
              returned: always
              sample: 143771
            compute_capability:
              description: CUDA compute capability, from nvidia-smi or else the PCI id table.
              type: str
              returned: always
              sample: "9.0"
            architecture:
              description: Maxwell, Pascal, Volta, Turing, Ampere, Ada, Hopper or Blackwell (older ones too); null when unknown.
              type: str
              returned: always
              sample: Hopper
            chip:
              description: Chip code name from pci.ids.
              type: str
              returned: always
              sample: GH100
            mig_mode:
              description: V(enabled), V(disabled), or null when the GPU has no MIG.
              type: str
              returned: always
              sample: disabled
            mig_devices:
              description: MIG instances (read from C(nvidia-smi -q -x) when MIG is enabled).
              type: list
              elements: dict
              returned: always
              sample: []
            bound_driver:
              description: Kernel driver bound to the PCI function (V(nvidia), V(nouveau), V(vfio-pci), V(none)).
              type: str
              returned: always
              sample: nvidia
        driver:
          description: The installed NVIDIA driver.
          returned: always
          type: dict
          contains:
            installed:
              description: A driver is installed (kernel module loaded, or nvidia-smi and its library present).
              type: bool
              returned: always
              sample: true
            loaded:
              description: The nvidia kernel module is loaded.
              type: bool
              returned: always
              sample: true
            version:
              description: Version of the loaded kernel module (else of the user-space driver).
              type: str
              returned: always
              sample: 580.159.04
            branch:
              description: Driver branch (first number of the version).
              type: int
              returned: always
              sample: 580
            kernel_module:
              description: V(open) or V(proprietary); null when not loaded.
              type: str
              returned: always
              sample: open
            cuda_version:
              description: Newest CUDA version the driver runs (as nvidia-smi reports it).
              type: str
              returned: always
              sample: "13.0"
            userspace_version:
              description: Version of the user-space driver (NVML); differs from RV(ansible_facts.dlstack_gpu.driver.version) on a mismatch.
              type: str
              returned: always
              sample: 580.159.04
        nvidia_smi:
          description: How the nvidia-smi query went.
          returned: always
          type: dict
          contains:
            path:
              description: nvidia-smi used; null when none was found.
              type: str
              returned: always
              sample: /usr/bin/nvidia-smi
            found:
              description: nvidia-smi exists.
              type: bool
              returned: always
              sample: true
            ok:
              description: The query listed GPUs.
              type: bool
              returned: always
              sample: true
            rc:
              description: Exit status of the last query.
              type: int
              returned: always
              sample: 0
            error_kind:
              description: Classified error (for example V(driver_library_mismatch), V(no_devices)); null on success.
              type: str
              returned: always
              sample: null
            error:
              description: First line nvidia-smi printed on failure.
              type: str
              returned: always
              sample: null
            dropped_fields:
              description: Query fields this nvidia-smi does not know (for example V(compute_cap) on R470).
              type: list
              elements: str
              returned: always
              sample: []
        nouveau_loaded:
          description: The nouveau kernel module is loaded.
          returned: always
          type: bool
          sample: false
        secure_boot:
          description: V(enabled), V(disabled) or V(unknown).
          returned: always
          type: str
          sample: disabled
        in_container:
          description: The probe runs inside a container.
          returned: always
          type: bool
          sample: false
        container_evidence:
          description: What showed the container (for example V(/.dockerenv)); null outside one.
          returned: always
          type: str
          sample: null
        device_nodes:
          description: NVIDIA device nodes seen (C(nvidiactl), C(gpus) list, C(accessible)).
          returned: always
          type: dict
          sample: {"nvidiactl": true, "gpus": ["nvidia0"], "accessible": true}
        requirements:
          description: What the GPUs need from a driver.
          returned: always
          type: dict
          contains:
            architectures:
              description: Architectures of the host's GPUs.
              type: list
              elements: str
              returned: always
              sample: [Hopper]
            min_branch:
              description: Oldest driver branch that runs all GPUs.
              type: int
              returned: always
              sample: 520
            max_branch:
              description: Newest driver branch that runs all GPUs (R580 for Maxwell, Pascal, Volta); null = no limit.
              type: int
              returned: always
              sample: null
            kernel_module:
              description: Kernel-module flavour to install (V(open) whenever the GPUs allow it); null when none fits.
              type: str
              returned: always
              sample: open
            kernel_modules_supported:
              description: Flavours that run all GPUs.
              type: list
              elements: str
              returned: always
              sample: [open, proprietary]
            satisfiable:
              description: One driver can run all GPUs.
              type: bool
              returned: always
              sample: true
            reasons:
              description: Per architecture, why.
              type: list
              elements: str
              returned: always
            installed_driver_ok:
              description: The installed driver meets the requirements.
              type: bool
              returned: always
              sample: true
            installed_driver_problems:
              description: Why the installed driver does not meet them.
              type: list
              elements: str
              returned: always
              sample: []
        processes:
          description:
            - Processes using the GPUs, sorted by GPU and pid; a process on two GPUs is listed on each. Empty when
              no NVIDIA kernel module is loaded.
            - Run as root to see every user's processes (the user and elapsed time of other users' processes,
              and the procfs fallback, need it).
          returned: always
          type: list
          elements: dict
          contains:
            gpu:
              description: nvidia-smi index of the GPU (the device minor number, C(/dev/nvidia<N>), when the list comes from procfs).
              type: int
              returned: always
              sample: 0
            pid:
              description: Process id (as this host's procfs numbers it).
              type: int
              returned: always
              sample: 5762
            user:
              description: Owner (real uid) of the process; null when the pid is not visible here (another PID namespace).
              type: str
              returned: always
              sample: alice
            name:
              description: Process name as nvidia-smi reports it (a path or a command line), or C(/proc/<pid>/comm).
              type: str
              returned: always
              sample: python
            memory_mib:
              description: GPU memory the process uses, MiB; null where nvidia-smi does not say (procfs, Windows WDDM).
              type: int
              returned: always
              sample: 1005
            elapsed_s:
              description: Seconds since the process started (C(/proc/<pid>/stat) starttime and C(/proc/uptime)); null when not visible.
              type: int
              returned: always
              sample: 256200
            type:
              description: V(C) (compute), V(G) (graphics), V(C+G) from C(-q -x); V(C) for what C(--query-compute-apps) lists; null from procfs.
              type: str
              returned: always
              sample: C
        processes_source:
          description:
            - Where RV(ansible_facts.dlstack_gpu.processes) come from - V(nvidia-smi) (C(--query-compute-apps)),
              V(nvidia-smi -q -x), V(procfs) (the holders of C(/dev/nvidia<N>), when nvidia-smi could not list them),
              or null - no NVIDIA kernel module is loaded, or nothing could list them.
          returned: always
          type: str
          sample: nvidia-smi
        sessions:
          description:
            - Logged-in users (utmp USER_PROCESS records whose process lives, systemd-logind sessions of class user), one per
              user and terminal, without the probe's own session.
          returned: always
          type: list
          elements: dict
          contains:
            user:
              description: User name.
              type: str
              returned: always
              sample: bob
            tty:
              description: Terminal (V(pts/0), V(tty2)) or X display; null when none.
              type: str
              returned: always
              sample: pts/0
            remote_host:
              description: Where the login came from; null for a local login.
              type: str
              returned: always
              sample: 10.0.0.7
            pid:
              description: The session's login process (utmp) or leader (logind).
              type: int
              returned: always
              sample: 4242
            since:
              description: Login time, seconds since the epoch; null when unknown.
              type: int
              returned: always
              sample: 1767225600
            source:
              description: V(utmp) or V(logind).
              type: str
              returned: always
              sample: utmp
        probe_options:
          description: The options this probe ran with; probing again with them reads the same host (nvidia_driver does, to wait for idle GPUs).
          returned: always
          type: dict
          sample: {"sysfs_root": "/sys", "procfs_root": "/proc", "nvidia_smi_path": null, "torch_version": null, "timeout": 30}
        torch:
          description: PyTorch wheel variant for O(torch_version).
          returned: always
          type: dict
          contains:
            torch_version:
              description: Release the answer is for.
              type: str
              returned: always
              sample: "2.11"
            variants:
              description: Variants that run on every GPU with the installed driver, best first, V(cpu) last.
              type: list
              elements: str
              returned: always
              sample: [cu130, cu128, cu126, cu129, cpu]
            recommended_variant:
              description: The first of RV(ansible_facts.dlstack_gpu.torch.variants); V(cpu) when no GPU is usable.
              type: str
              returned: always
              sample: cu130
            index_url:
              description: Wheel index of the recommended variant.
              type: str
              returned: always
              sample: https://download.pytorch.org/whl/cu130
            pypi_default_variant:
              description: CUDA variant of the plain PyPI wheel of that release on this CPU architecture.
              type: str
              returned: always
              sample: cu130
            python:
              description: Python versions the release has wheels for on this CPU architecture.
              type: str
              returned: always
              sample: "3.10-3.14"
            machine:
              description: CPU architecture the variants are for (V(x86_64) or V(aarch64); the aarch64 wheels carry fewer GPU architectures).
              type: str
              returned: always
              sample: x86_64
            candidates:
              description: Variants that run on the GPUs whatever the driver, each with its minimum driver.
              type: list
              elements: dict
              returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge import normalize_torch_version
from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import probe

NVIDIA_SMI_DIRS = ['/usr/bin', '/usr/local/nvidia/bin']


def tree_root(sysfs_root, procfs_root):
    """The recorded tree both roots belong to ('/' for the live system)."""
    sys_parent = os.path.dirname(os.path.normpath(sysfs_root))
    proc_parent = os.path.dirname(os.path.normpath(procfs_root))
    if sys_parent == proc_parent:
        return sys_parent or '/'
    return '/'


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvidia_smi_path=dict(type='path'),
            sysfs_root=dict(type='path', default='/sys'),
            procfs_root=dict(type='path', default='/proc'),
            torch_version=dict(type='str'),
            timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        normalize_torch_version(params['torch_version'])
    except ValueError as exc:
        module.fail_json(msg='torch_version: %s' % exc)
    if params['timeout'] is not None and params['timeout'] <= 0:
        module.fail_json(msg='timeout must be a positive number of seconds, got %s' % params['timeout'])

    nvidia_smi = params['nvidia_smi_path']
    if nvidia_smi:
        if not os.path.exists(nvidia_smi):
            module.warn('nvidia_smi_path %s does not exist; facts come from sysfs and procfs only' % nvidia_smi)
            nvidia_smi = None
    else:
        nvidia_smi = module.get_bin_path('nvidia-smi', opt_dirs=NVIDIA_SMI_DIRS)

    timeout_bin = module.get_bin_path('timeout') if params['timeout'] else None

    def run(argv):
        cmd = list(argv)
        if timeout_bin:
            cmd = [timeout_bin, '-k', '5', str(params['timeout'])] + cmd
        try:
            return module.run_command(cmd, handle_exceptions=False, environ_update={'LC_ALL': 'C'})
        except (OSError, IOError) as exc:
            return (126 if os.path.exists(argv[0]) else 127), '', str(exc)

    root = tree_root(params['sysfs_root'], params['procfs_root'])
    facts = probe(run=run, nvidia_smi=nvidia_smi, sysfs_root=params['sysfs_root'], procfs_root=params['procfs_root'],
                  root=root, dev_root=os.path.join(root, 'dev'), torch_version=params['torch_version'])
    recorded = os.path.normpath(params['sysfs_root']) != '/sys' or os.path.normpath(params['procfs_root']) != '/proc'
    facts['source'] = 'recorded' if recorded else 'live'
    facts['probe_options'] = dict((key, params[key]) for key in ('sysfs_root', 'procfs_root', 'nvidia_smi_path', 'torch_version', 'timeout'))
    module.exit_json(changed=False, ansible_facts={'dlstack_gpu': facts})


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to labops.dlstack (leading underscore). Pure Python >= 3.9, no third-party imports.

"""Which NVIDIA driver packages a host gets, and whether it must reboot.

Decisions of the roles nvidia_driver and nvidia_repo, as plain data plus small pure functions:

- plan(): from the gpu_facts result (ansible_facts['dlstack_gpu']), the platform, the role's variables,
  the apt-cache view of the candidate packages and the installed packages, the packages to install,
  hold, remove, and every reason to stop before anything changes;
- reboot_decision(): after the packages are in place, whether the loaded kernel module still has to
  be replaced by a reboot, and whether the role may do it;
- parse_apt_cache_policy(): `apt-cache policy NAME...` output -> {name: candidate or None};
- cuda_repo_path(): NVIDIA's CUDA repository directory for a platform (debian12/x86_64, ubuntu2404/sbsa).

Package names (platform = debian12, debian13, ubuntu2204, ubuntu2404):

- Debian `distro` (non-free; nvidia-persistenced is in contrib): the main driver (Debian 12: 535, Debian 13: 550) is nvidia-smi, libcuda1,
  libnvidia-ml1, nvidia-persistenced plus nvidia-kernel-dkms or nvidia-open-kernel-dkms (with
  firmware-nvidia-gsp); the Tesla branches (Debian 12: 470, Debian 13: 535) are nvidia-tesla-<b>-smi,
  libnvidia-tesla-<b>-cuda1 ... with nvidia-tesla-<b>-kernel-dkms (proprietary only). Checked with
  `apt-cache policy` / `apt-get -s install` in Debian 12 and 13 containers with non-free enabled.
  Debian has no precompiled NVIDIA modules: the kernel module is always built by DKMS.
- Ubuntu `distro` (restricted): nvidia-utils-<b>[-server], libnvidia-compute-<b>[-server] (userspace),
  nvidia-compute-utils-<b>[-server] (nvidia-persistenced) and either Canonical's signed precompiled
  modules nvidia-headless-no-dkms-<b>[-server][-open] + linux-modules-nvidia-<b>[-server][-open]-<uname -r>
  (what `ubuntu-drivers install --gpgpu` picks), or DKMS nvidia-headless-<b>[-server][-open] with
  linux-headers-<uname -r>.
- `nvidia` source (NVIDIA's CUDA repository, pinned to the branch by nvidia_repo): Ubuntu up to R580
  nvidia-open-<b> / cuda-drivers-<b> (userspace: nvidia-utils-<b>, libnvidia-compute-<b>); Ubuntu from
  R590 the same names without the branch (nvidia-open / cuda-drivers, nvidia-utils, libnvidia-compute)
  plus the pinning package nvidia-driver-pinning-<b> that keeps apt on the branch; Debian the
  Debian-style names (nvidia-driver-cuda, nvidia-kernel-open-dkms / nvidia-kernel-dkms, nvidia-smi,
  libcuda1). These names follow NVIDIA's driver installation guide and could not be checked against the
  repository from here (no access): the role's apt-cache check stops with the missing names before
  anything is installed.

The static branch tables say what a branch *can* be; `apt-cache policy` on the host says what is there
now, and wins when given.
"""

from __future__ import annotations

import re

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge import (
    OPEN_KERNEL_MODULE_DEFAULT_BRANCH,
    OPEN_KERNEL_MODULE_MIN_BRANCH,
    driver_requirement_problems,
    requirements_for_gpus,
    version_string,
)

SOURCES = ('distro', 'nvidia')
FLAVOURS = ('auto', 'open', 'proprietary')
STATES = ('present', 'absent')
KERNEL_MODULE_TYPES = ('auto', 'precompiled', 'dkms')
PLATFORMS = ('debian12', 'debian13', 'ubuntu2204', 'ubuntu2404')

# Debian non-free: branch -> package family. '' = the main driver (nvidia-smi, libcuda1...),
# 'tesla-<b>' = the nvidia-tesla-<b>-* family. Checked with apt-cache in Debian 12/13 containers.
# 'alternatives': other families of the same branch in the archive, in the order to try them. bookworm
# also has the nvidia-tesla-535 family (deb.debian.org bookworm non-free Packages, 2026-12-01:
# nvidia-tesla-535-smi, libnvidia-tesla-535-cuda1, -ml1, -cfg1, nvidia-tesla-535-kernel-dkms
# 535.216.03-3~deb12u1; no open kernel module of it in contrib), a proprietary-only alternative to the main
# 535 driver whose parts come from two suites (535.261.03 in bookworm, 535.309.01 in bookworm-security).
DEBIAN_DISTRO_BRANCHES = {
    'debian12': {535: {'family': '', 'flavours': ('open', 'proprietary'),
                       'alternatives': ({'family': 'tesla-535', 'flavours': ('proprietary',)},)},
                 470: {'family': 'tesla-470', 'flavours': ('proprietary',)}},
    'debian13': {550: {'family': '', 'flavours': ('open', 'proprietary')},
                 535: {'family': 'tesla-535', 'flavours': ('proprietary',)}},
}
DISTRO_DEFAULT_BRANCH = {'debian12': 535, 'debian13': 550, 'ubuntu2204': 580, 'ubuntu2404': 580}

# Ubuntu restricted: driver branches in jammy/noble (-updates) at research time; -open from R515.
UBUNTU_DISTRO_BRANCHES = {
    'ubuntu2204': (470, 535, 550, 570, 575, 580),
    'ubuntu2404': (535, 550, 570, 575, 580),
}
# Branches whose non-server packages are transitional to a newer branch, so only the -server names
# install that branch: jammy's nvidia-driver-470 / nvidia-utils-470 ... are transitional packages to 535
# (packages.ubuntu.com jammy-updates; issue #19 audit of ubuntu-drivers-common), and Kepler, whose last
# branch is R470, needs nvidia-*-470-server.
UBUNTU_SERVER_ONLY_BRANCHES = {
    'ubuntu2204': (470,),
}
# NVIDIA's CUDA repository: branches per platform directory. R535 .. R580 are published for debian12,
# ubuntu2204 and ubuntu2404 (R535 is the oldest in the debian12/ubuntu2404 directories); the repositories
# now also carry R590, R595 and R610 (NVIDIA/gpu-driver-container CI builds 580.178.04, 595.91.07,
# 610.57.04; issue #19 audit). debian13 is a newer directory with no R580 driver at all
# (NVIDIA/cuda-repo-management#40, 2026-02-02: "the new debian 13 repo do not have the previous 580 LTS
# drivers"; still so in #38, 2026-08-04, where users fall back to the debian12 directory): R590, R595,
# R610 only, so Maxwell/Pascal/Volta (last branch R580) cannot use it.
_NVIDIA_REPO_COMMON_BRANCHES = (535, 550, 560, 565, 570, 575, 580, 590, 595, 610)
NVIDIA_REPO_BRANCHES = {
    'debian12': _NVIDIA_REPO_COMMON_BRANCHES,
    'debian13': (590, 595, 610),
    'ubuntu2204': _NVIDIA_REPO_COMMON_BRANCHES,
    'ubuntu2404': _NVIDIA_REPO_COMMON_BRANCHES,
}
# The branch a host without a visible GPU gets from the nvidia source: R580, the long-term support branch
# (research B.4: "R580 LTSB EOL 2028-08"), where the repository has it; debian13, which has none, gets
# R595, the next production branch (B.4 lists R580/R595/R610/R615 as the active branches of 2026).
NVIDIA_DEFAULT_BRANCH = {'debian12': 580, 'debian13': 595, 'ubuntu2204': 580, 'ubuntu2404': 580}
# From R590 NVIDIA's Ubuntu packages drop the branch from their names and a branch is selected with a
# pinning package: "Starting with branch 590, the Ubuntu packages will be renamed by removing the branch
# designation from the package name. Switching branches, installing specific driver versions [...] will be
# supported through these version locking (pinning) packages" (NVIDIA Driver Installation Guide, "Recent
# Updates", "Ubuntu 590 and later packages": cuda-drivers-580 "will be removed", libnvidia-compute-580 ->
# libnvidia-compute, nvidia-dkms-580-open -> nvidia-dkms-open, ...; the pinning package is
# nvidia-driver-pinning-<version>, "install the pinning package prior to installing the driver").
UBUNTU_NVIDIA_UNVERSIONED_FROM = 590

# The key NVIDIA signs each repository directory with: (key file next to the repository, fingerprint).
# 3BF863CC (since 2022) for debian12 and Ubuntu; the debian13 directory is signed with a new key,
# 8793F200.pub, fingerprint 02182E60104FCDC26EAE1B8597A5D4CB8793F200 (NVIDIA/cuda-repo-management#39:
# "Debian 13 is signed with the new key (8793F200)"; NVIDIA's answer there: "we try to avoid rotating GPG
# keys for existing repos; as such only a new key for Debian 13"; fingerprint from the issue #19 audit).
NVIDIA_REPO_KEYS = {
    'debian12': ('3bf863cc.pub', 'EB693B3035CD5710E231E123A4B469963BF863CC'),
    'debian13': ('8793F200.pub', '02182E60104FCDC26EAE1B8597A5D4CB8793F200'),
    'ubuntu2204': ('3bf863cc.pub', 'EB693B3035CD5710E231E123A4B469963BF863CC'),
    'ubuntu2404': ('3bf863cc.pub', 'EB693B3035CD5710E231E123A4B469963BF863CC'),
}

CUDA_REPO_ARCH = {'x86_64': 'x86_64', 'amd64': 'x86_64', 'aarch64': 'sbsa', 'arm64': 'sbsa', 'sbsa': 'sbsa'}

# Packages of the driver family (what `state: absent` removes, what a switch inspects).
FAMILY_RE = re.compile(
    r'^(nvidia-|libnvidia-|libcuda1|cuda-drivers|linux-modules-nvidia-|linux-objects-nvidia-|'
    r'linux-signatures-nvidia-|xserver-xorg-video-nvidia|firmware-nvidia-)')
# Not driver packages even though they match FAMILY_RE (tools and the CUDA toolkit's own packages).
FAMILY_EXCLUDE_RE = re.compile(
    r'^(nvidia-cuda-toolkit|nvidia-cuda-dev|nvidia-cuda-gdb|nvidia-profiler|nvidia-visual-profiler|'
    r'nvidia-openjdk|nvidia-cuda-toolkit-doc|nvidia-container-|libnvidia-container|nvidia-fs-dkms|'
    r'nvidia-installer-cleanup|nvidia-support|nvidia-legacy-check|nvidia-modprobe|nvidia-settings|'
    r'nvidia-xconfig|nvidia-vaapi-driver)')
# Names only one source uses (a switch of source removes the other's).
SOURCE_ONLY_RE = {
    'nvidia': re.compile(r'^(cuda-drivers|nvidia-open(-\d+)?$|nvidia-driver-pinning|nvidia-driver-cuda|'
                         r'nvidia-kernel-open-dkms)'),
    'distro': re.compile(r'^(nvidia-headless-|linux-modules-nvidia-|linux-objects-nvidia-|'
                         r'linux-signatures-nvidia-|nvidia-open-kernel-dkms|nvidia-tesla-)'),
}
_BRANCH_RE = re.compile(r'^(?:\d+:)?([3-9]\d\d)\.\d')
# `uname -r`: 6.1.0-57-amd64, 6.12.118+deb13-amd64, 6.8.0-50-generic (no '/', no spaces)
# 6.1.0-57-amd64, 6.12.118+deb13-amd64, 6.12.9+bpo-cloud-amd64 -> the flavour (amd64, cloud-amd64)
_DEBIAN_KERNEL_RE = re.compile(r'^\d+\.\d+\.\d+(?:\+[a-z0-9.]+)?-(?:\d+-)?([a-z][a-z0-9-]*)$')
_KERNEL_RELEASE_RE = re.compile(r'^\d+\.\d+[A-Za-z0-9._+~-]*$')

U_U_BLACKLIST = ('nvidia-', 'libnvidia-', 'libcuda1', 'cuda-drivers', 'linux-modules-nvidia-',
                 'linux-objects-nvidia-', 'linux-signatures-nvidia-', 'xserver-xorg-video-nvidia',
                 'firmware-nvidia-')


# --------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------

def platform_key(distribution, version):
    """('Debian', '12') -> 'debian12'; ('Ubuntu', '24.04') -> 'ubuntu2404'; None when unsupported."""
    dist = str(distribution or '').strip().lower()
    ver = str(version or '').strip()
    if dist == 'debian':
        key = 'debian' + ver.split('.', maxsplit=1)[0]
    elif dist == 'ubuntu':
        key = 'ubuntu' + ver.replace('.', '')
    else:
        return None
    return key if key in PLATFORMS else None


def cuda_repo_arch(architecture):
    """'x86_64' -> 'x86_64'; 'aarch64' -> 'sbsa' (NVIDIA's name for server Arm); None when unknown."""
    return CUDA_REPO_ARCH.get(str(architecture or '').strip().lower())


def cuda_repo_path(distribution, version, architecture):
    """'debian12/x86_64', 'ubuntu2404/sbsa'; None when NVIDIA's repository has no such directory here."""
    key = platform_key(distribution, version)
    arch = cuda_repo_arch(architecture)
    if key is None or arch is None:
        return None
    return '%s/%s' % (key, arch)


def nvidia_repo_key(platform):
    """{'file': '8793F200.pub', 'fingerprint': '0218...F200'} for a repository directory ('debian13' or
    'debian13/x86_64'); None when the platform is not one of PLATFORMS."""
    key = NVIDIA_REPO_KEYS.get(str(platform or '').split('/', 1)[0])
    if key is None:
        return None
    return {'file': key[0], 'fingerprint': key[1]}


def repo_settings(distribution, version, architecture, distro='', arch='', base_url='', url='', key_url='',
                  key_fingerprint=''):
    """Where labops.dlstack.nvidia_repo points apt: NVIDIA's CUDA repository directory for this host (or the one
    nvidia_repo_distro / nvidia_repo_arch name), its URL, the URL of the key NVIDIA signs it with and that key's
    fingerprint, each taken from the matching nvidia_repo_* variable when it is set.

    Returns {'path', 'url', 'key_url', 'fingerprint', 'errors'}; the one error is a host whose directory is not
    known (the variables themselves are checked by _role_inputs.nvidia_repo).
    """
    auto = cuda_repo_path(distribution, version, architecture) or '/'
    path = '%s/%s' % (distro or auto.split('/', 1)[0], arch or auto.split('/', 1)[1])
    default_url = '%s/%s/' % (str(base_url or '').rstrip('/'), path)
    effective_url = url or default_url
    key = nvidia_repo_key(path) or {}
    errors = []
    if not re.match(r'^[a-z0-9]+/[a-z0-9_]+$', path):
        errors.append("nvidia_repo: NVIDIA's CUDA repository has no directory for %s %s %s; supported are Debian 12/13 "
                      'and Ubuntu 22.04/24.04 on x86_64 or aarch64 (sbsa), or set nvidia_repo_distro and nvidia_repo_arch.'
                      % (distribution, version, architecture))
    return {
        'path': path,
        'url': effective_url,
        # NVIDIA signs each directory with its own key (debian13: 8793F200, the others: 3BF863CC)
        'key_url': key_url or '%s/%s' % (effective_url.rstrip('/'), key.get('file', '')),
        'fingerprint': (key_fingerprint or key.get('fingerprint', '')).upper(),
        'errors': errors,
    }


def package_branch(version):
    """Driver branch of a package version ('535.261.03-1' -> 535, '1:580.95.05-0ubuntu1' -> 580).

    None for versions that are not driver versions (nvidia-support 20220217+3)."""
    match = _BRANCH_RE.match(str(version or '').strip())
    return int(match.group(1)) if match else None


def parse_apt_cache_policy(text):
    """`apt-cache policy a b c` output -> {'a': '535.261.03-1', 'b': None, ...}.

    None = apt knows no installable version (Candidate: (none), or not listed at all)."""
    result = {}
    current = None
    for line in str(text or '').splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(':'):
            current = line.rstrip()[:-1].strip()
            result[current] = None
            continue
        stripped = line.strip()
        if current is not None and stripped.startswith('Candidate:'):
            value = stripped.split(':', 1)[1].strip()
            result[current] = None if value in ('(none)', '') else value
    return result


# dpkg states (dpkg-query(1), db:Status-Status) in which a package is on disk, wholly or in part.
# 'not-installed' and 'config-files' (removed, configuration kept) are not installed.
DPKG_PRESENT_STATES = ('installed', 'half-configured', 'unpacked', 'half-installed', 'triggers-awaited',
                       'triggers-pending')


def parse_dpkg_query(text):
    """`dpkg-query -W -f='${db:Status-Status}\\t${Package}\\t${Version}\\n'` stdout -> {name: version}.

    The installed packages without python-apt (which package_facts needs and minimal images lack).
    Packages in 'not-installed' or 'config-files' state are left out; a package installed for two
    architectures appears once.
    """
    result = {}
    for line in (text or '').splitlines():
        fields = line.split('\t')
        if len(fields) != 3 or fields[0] not in DPKG_PRESENT_STATES or not fields[1]:
            continue
        result[fields[1]] = fields[2]
    return result


def installed_versions(installed):
    """package_facts['packages'] ({name: [{'version': ..}]}) or {name: version} -> {name: version}."""
    result = {}
    for name, value in (installed or {}).items():
        if isinstance(value, list):
            value = value[0].get('version') if value and isinstance(value[0], dict) else None
        elif isinstance(value, dict):
            value = value.get('version')
        result[name] = value
    return result


def family_packages(installed):
    """Installed packages of the NVIDIA driver family, sorted."""
    return sorted(name for name in installed_versions(installed)
                  if FAMILY_RE.match(name) and not FAMILY_EXCLUDE_RE.match(name))


def _gpu_requirements(gpu):
    req = gpu.get('requirements')
    if isinstance(req, dict) and 'kernel_modules_supported' in req:
        return req
    return requirements_for_gpus(gpu.get('gpus') or [])


def _as_branch(branch):
    """'auto' -> 'auto'; '580', 580 -> 580; anything else -> None (invalid)."""
    if isinstance(branch, bool):
        return None
    if isinstance(branch, int):
        return branch
    text = str(branch if branch is not None else '').strip().lower()
    if text == 'auto':
        return 'auto'
    if re.match(r'^\d{3}$', text):
        return int(text)
    return None


# --------------------------------------------------------------------------------------------------
# package names
# --------------------------------------------------------------------------------------------------

def branches_for(platform, source):
    """Branches the static tables know for platform + source, newest first."""
    if source == 'nvidia':
        return sorted(NVIDIA_REPO_BRANCHES.get(platform, ()), reverse=True)
    if platform in DEBIAN_DISTRO_BRANCHES:
        return sorted(DEBIAN_DISTRO_BRANCHES[platform], reverse=True)
    return sorted(UBUNTU_DISTRO_BRANCHES.get(platform, ()), reverse=True)


def flavours_for(platform, source, branch):
    """Kernel-module flavours a branch offers on platform + source."""
    if source == 'distro' and platform in DEBIAN_DISTRO_BRANCHES:
        info = DEBIAN_DISTRO_BRANCHES[platform].get(branch)
        return tuple(info['flavours']) if info else ()
    if branch >= OPEN_KERNEL_MODULE_MIN_BRANCH:
        return ('open', 'proprietary')
    return ('proprietary',)


def debian_families(platform, branch):
    """The Debian package families of a branch, in the order to try them: [{'family', 'flavours'}, ...]."""
    info = DEBIAN_DISTRO_BRANCHES.get(platform, {}).get(branch)
    if not info:
        return []
    return [{'family': info['family'], 'flavours': tuple(info['flavours'])}] + \
        [dict(alt) for alt in info.get('alternatives', ())]


def package_names(platform, source, branch, flavour, kernel_release=None, ubuntu_server=True, family=None):
    """Package names for one branch and flavour.

    family: Debian distro only, one of debian_families() ('' = the main driver, 'tesla-535', ...);
    None = the branch's first family.

    Returns {'userspace': [...], 'precompiled': [...] or None, 'dkms': [...], 'headers': name or None,
    'version_package': the package whose version is the driver's}. precompiled is None where the
    platform/source has no signed precompiled modules (Debian, NVIDIA's repository)."""
    debian = platform.startswith('debian')
    if source == 'distro' and debian:
        if family is None:
            family = DEBIAN_DISTRO_BRANCHES[platform][branch]['family']
        if family:
            userspace = ['nvidia-%s-smi' % family, 'libnvidia-%s-cuda1' % family,
                         'libnvidia-%s-ml1' % family, 'libnvidia-%s-cfg1' % family, 'nvidia-persistenced']
            dkms = ['nvidia-%s-kernel-dkms' % family]
            version_package = 'nvidia-%s-smi' % family
        else:
            userspace = ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced']
            dkms = (['nvidia-open-kernel-dkms', 'firmware-nvidia-gsp'] if flavour == 'open'
                    else ['nvidia-kernel-dkms'])
            version_package = 'nvidia-smi'
        precompiled = None
    elif source == 'distro':
        sfx = '-server' if ubuntu_server or branch in UBUNTU_SERVER_ONLY_BRANCHES.get(platform, ()) else ''
        opn = '-open' if flavour == 'open' else ''
        userspace = ['nvidia-utils-%d%s' % (branch, sfx), 'libnvidia-compute-%d%s' % (branch, sfx)]
        host_common = ['nvidia-compute-utils-%d%s' % (branch, sfx)]
        dkms = ['nvidia-headless-%d%s%s' % (branch, sfx, opn)] + host_common
        precompiled = None
        if kernel_release:
            precompiled = ['nvidia-headless-no-dkms-%d%s%s' % (branch, sfx, opn),
                           'linux-modules-nvidia-%d%s%s-%s' % (branch, sfx, opn, kernel_release)] + host_common
        version_package = 'nvidia-utils-%d%s' % (branch, sfx)
    elif debian:
        userspace = ['nvidia-smi', 'libcuda1', 'libnvidia-ml1', 'nvidia-persistenced']
        dkms = ['nvidia-driver-cuda', 'nvidia-kernel-open-dkms' if flavour == 'open' else 'nvidia-kernel-dkms']
        precompiled = None
        version_package = 'nvidia-smi'
    elif branch >= UBUNTU_NVIDIA_UNVERSIONED_FROM:
        # the pinning package first: it holds apt on the branch for everything installed after it
        userspace = ['nvidia-driver-pinning-%d' % branch, 'nvidia-utils', 'libnvidia-compute']
        dkms = ['nvidia-open' if flavour == 'open' else 'cuda-drivers']
        precompiled = None
        version_package = 'nvidia-utils'
    else:
        userspace = ['nvidia-utils-%d' % branch, 'libnvidia-compute-%d' % branch]
        dkms = ['nvidia-open-%d' % branch if flavour == 'open' else 'cuda-drivers-%d' % branch]
        precompiled = None
        version_package = 'nvidia-utils-%d' % branch
    headers = 'linux-headers-%s' % kernel_release if kernel_release else None
    return {'userspace': userspace, 'precompiled': precompiled, 'dkms': dkms, 'headers': headers,
            'headers_meta': debian_headers_metapackage(kernel_release) if debian else None,
            'version_package': version_package, 'kernel_module': kernel_module_name(platform, source, branch, flavour)}


def debian_headers_metapackage(kernel_release):
    """Debian's headers metapackage of a kernel's flavour ('6.1.0-57-amd64' -> 'linux-headers-amd64',
    '6.12.118+deb13-cloud-amd64' -> 'linux-headers-cloud-amd64'), or None.

    It follows the kernel: a kernel upgrade brings the new kernel's headers, and Debian's dkms kernel hook
    (/etc/kernel/postinst.d/dkms) then builds the module for it before the host boots it."""
    match = _DEBIAN_KERNEL_RE.match(str(kernel_release or '').strip())
    return 'linux-headers-%s' % match.group(1) if match else None


def kernel_module_name(platform, source, branch, flavour):
    """Name of the main kernel module file (= its DKMS module name) for `modinfo -k KERNEL NAME` and `dkms status`.

    Debian's own packages rename the module after the package (`DEST_MODULE_NAME[0]="$PACKAGE_NAME"` in
    /usr/src/<name>-<version>/dkms.conf, read from the bookworm and trixie .debs): nvidia-current.ko,
    nvidia-current-open.ko, nvidia-tesla-470.ko; `modprobe nvidia` reaches them through an `install` line in
    /etc/modprobe.d/nvidia.conf, which modinfo does not follow. Ubuntu's and NVIDIA's packages keep nvidia.ko
    (DKMS module nvidia, or Canonical's linux-modules-nvidia-<b>-<kernel>)."""
    if source == 'distro' and platform in DEBIAN_DISTRO_BRANCHES:
        family = DEBIAN_DISTRO_BRANCHES[platform].get(branch, {}).get('family')
        if family:
            return 'nvidia-%s' % family
        return 'nvidia-current-open' if flavour == 'open' else 'nvidia-current'
    return 'nvidia'


def candidate_packages(distribution, version, kernel_release=None, source='distro', branch='auto',
                       flavour='auto', ubuntu_server=True):
    """Every package name the plan may ask apt-cache about (for `apt-cache policy`), sorted."""
    platform = platform_key(distribution, version)
    wanted = _as_branch(branch)
    if platform is None or wanted is None or source not in SOURCES:
        return []
    names = set()
    for br in ([wanted] if wanted != 'auto' else branches_for(platform, source)):
        if br not in branches_for(platform, source):
            continue
        for fl in flavours_for(platform, source, br):
            if flavour not in ('auto', fl):
                continue
            families = [None]
            if source == 'distro' and platform in DEBIAN_DISTRO_BRANCHES:
                families = [f['family'] for f in debian_families(platform, br) if fl in f['flavours']]
            for fam in families:
                pk = package_names(platform, source, br, fl, kernel_release, ubuntu_server, family=fam)
                names.update(pk['userspace'])
                names.update(pk['dkms'])
                names.update(pk['precompiled'] or [])
                if pk['headers']:
                    names.add(pk['headers'])
                if pk['headers_meta']:
                    names.add(pk['headers_meta'])
    return sorted(names)


# --------------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------------

# What the kernel says to an unsigned module under Secure Boot, seen on Debian 12 (6.1.0-50-amd64 booted through shim
# with OVMF_VARS_4M.ms.fd, molecule/vm_secureboot, 2026-12-02): insmod "Key was rejected by service", the kernel log
# "Loading of unsigned module is rejected"; the MOK steps below are the ones that scenario runs (the enrolment itself
# stood in for by virt-fw-vars), and the module DKMS signs with that key then passes the check.
def _mok_steps(key_hint):
    return ('Secure Boot is enabled and the driver would be an unsigned DKMS module, which the kernel refuses '
            '("Key was rejected by service"). Either: (1) on Ubuntu use the signed precompiled modules '
            '(nvidia_driver_source: distro, nvidia_driver_kernel_module_type: auto or precompiled); or '
            '(2) create a Machine Owner Key and let DKMS sign with it: '
            'openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=DKMS module signing/" '
            '-outform DER -keyout /var/lib/dkms/mok.key -out /var/lib/dkms/mok.pub; '
            'mokutil --import /var/lib/dkms/mok.pub (choose a one-time password); reboot and choose '
            '"Enroll MOK" in the blue MokManager screen; then set nvidia_driver_mok_key=/var/lib/dkms/mok.key '
            'and nvidia_driver_mok_cert=/var/lib/dkms/mok.pub and run again%s; or (3) disable Secure Boot in '
            'the firmware setup.' % key_hint)


def plan(gpu, distribution, distribution_version, architecture='x86_64', kernel_release=None,
         source='distro', branch='auto', flavour='auto', state='present', kernel_module_type='auto',
         require_gpu=False, ubuntu_server=True, keep_satisfying=True, mok_configured=False,
         available=None, installed=None, default_kernel=None, install_without_gpu=False,
         target_kernel=None, not_installable=None):
    """What nvidia_driver does on this host.

    gpu: ansible_facts['dlstack_gpu']. available: parse_apt_cache_policy() of candidate_packages(), or
    None when apt's view is not known yet (check mode before the sources exist): then only the static
    tables decide. installed: package_facts['packages'] or {name: version}. default_kernel: the kernel
    release /boot/vmlinuz points at (None when unknown). kernel_release: the running kernel.

    install_without_gpu (nvidia_driver_install_without_gpu): on a host without an NVIDIA GPU install the
    explicit branch and flavour anyway (golden images, hosts prepared before their GPUs are fitted).
    target_kernel (nvidia_driver_kernel_release): build the kernel module for this installed kernel instead
    of the running one; inside a container or chroot this is a host image being built, so the host path
    (DKMS for that kernel, nouveau out of its initramfs) runs there, never a reboot. not_installable:
    {flavour: why} for package sets `apt-get -s install` refused (apt_simulation()); flavour auto then takes
    the next flavour the GPUs run, an explicit flavour fails with apt's reason.

    Returns a dict: action (install, satisfied, skip, remove, fail), mode (host, container), errors (each
    says what to do), notes, platform, source, branch, flavour, kernel_module_type, packages (to install),
    hold (to hold), remove (to remove before installing), version_package, host_would_need (container
    mode: what a real host still needs), why_no_kernel_module, requirements.
    """
    # Each step records its decisions in result (later steps read them from there) and tells plan to stop
    # with True, or with None where the step returns a value (names, kernel packages).
    gpu = gpu if isinstance(gpu, dict) else {}
    target_kernel = str(target_kernel or '').strip() or None
    not_installable = not_installable if isinstance(not_installable, dict) else {}
    result = _plan_result(gpu, distribution, distribution_version, kernel_release, source, state, target_kernel,
                          not_installable)
    wanted_branch = _as_branch(branch)
    if _plan_input(result, gpu, distribution, distribution_version, architecture, branch, wanted_branch, flavour,
                   kernel_module_type, target_kernel, require_gpu, install_without_gpu):
        return result
    installed_v = installed_versions(installed)
    if _plan_absent(result, installed_v):
        return result
    has_gpu = gpu.get('status') != 'no_gpu' and bool(gpu.get('gpus'))
    if _plan_gpu(result, gpu, has_gpu, wanted_branch, flavour, require_gpu, install_without_gpu):
        return result
    if _plan_satisfied(result, gpu, wanted_branch, flavour, keep_satisfying):
        return result
    if _plan_branch(result, has_gpu, wanted_branch, flavour, ubuntu_server, available):
        return result
    if _plan_flavour(result, has_gpu, flavour, not_installable):
        return result
    names = _plan_names(result, ubuntu_server, available)
    if names is None:
        return result
    kernel_pkgs = _plan_kernel_module(result, names, kernel_module_type, available)
    if kernel_pkgs is None:
        return result
    if result['mode'] == 'container':
        _plan_container(result, names, kernel_pkgs)
    elif _plan_host(result, gpu, names, kernel_pkgs, mok_configured, available, default_kernel, target_kernel,
                    running_kernel=kernel_release):
        return result
    _plan_install(result, installed_v)
    return result


def _plan_result(gpu, distribution, distribution_version, kernel_release, source, state, target_kernel, not_installable):
    """The result of plan() before any decision: action fail, nothing to install, empty errors and notes."""
    driver = gpu.get('driver') or {}
    status = gpu.get('status')
    in_container = bool(gpu.get('in_container'))
    mode = 'container' if in_container and not target_kernel else 'host'
    kernel_release = target_kernel or kernel_release
    platform = platform_key(distribution, distribution_version)
    return {
        'action': 'fail', 'mode': mode, 'platform': platform, 'source': source, 'state': state,
        'branch': None, 'flavour': None, 'kernel_module_type': None, 'packages': [], 'hold': [],
        'remove': [], 'version_package': None, 'host_would_need': [], 'why_no_kernel_module': None,
        'requirements': None, 'gpu_status': status, 'errors': [], 'notes': [],
        'loaded_version': driver.get('version') if driver.get('loaded') else None,
        'kernel_release': kernel_release, 'kernel_module': None, 'without_gpu': False,
        'not_installable': dict(not_installable),
        'uu_blacklist': unattended_upgrades_blacklist(),
    }


def _plan_input(result, gpu, distribution, distribution_version, architecture, branch, wanted_branch, flavour,
                kernel_module_type, target_kernel, require_gpu, install_without_gpu):
    """Check the inputs, one error each into result['errors']; True (stop) when any is wrong."""
    platform, source, state = result['platform'], result['source'], result['state']
    errors, notes = result['errors'], result['notes']
    status = gpu.get('status')
    if wanted_branch is None:
        errors.append("nvidia_driver_branch: '%s' is not a driver branch; use 'auto' or a branch number "
                      "such as '580'" % (branch,))
    if source not in SOURCES:
        errors.append("nvidia_driver_source: '%s' is not one of %s" % (source, ', '.join(SOURCES)))
    if flavour not in FLAVOURS:
        errors.append("nvidia_driver_flavour: '%s' is not one of %s" % (flavour, ', '.join(FLAVOURS)))
    if state not in STATES:
        errors.append("nvidia_driver_state: '%s' is not one of %s" % (state, ', '.join(STATES)))
    if kernel_module_type not in KERNEL_MODULE_TYPES:
        errors.append("nvidia_driver_kernel_module_type: '%s' is not one of %s"
                      % (kernel_module_type, ', '.join(KERNEL_MODULE_TYPES)))
    if platform is None:
        errors.append('nvidia_driver supports Debian 12/13 and Ubuntu 22.04/24.04, not %s %s'
                      % (distribution, distribution_version))
    if cuda_repo_arch(architecture) is None:
        errors.append('nvidia_driver supports x86_64 and aarch64 (sbsa), not %s' % (architecture,))
    if not gpu or status is None:
        errors.append('ansible_facts.dlstack_gpu is missing: run labops.dlstack.gpu_facts first')
    if target_kernel and not _KERNEL_RELEASE_RE.match(target_kernel):
        errors.append("nvidia_driver_kernel_release: '%s' is not a kernel release (the `uname -r` of an installed "
                      "kernel, such as 6.1.0-57-amd64); leave it empty for the running kernel" % target_kernel)
    if require_gpu and install_without_gpu:
        errors.append('nvidia_driver_require_gpu and nvidia_driver_install_without_gpu are both true: fail on a host '
                      'without a GPU, or install there; set one of them to false')
    if errors:
        return True
    if target_kernel and gpu.get('in_container'):
        notes.append('host image in a container: the kernel module is built for %s (nvidia_driver_kernel_release), '
                     'the initramfs and holds are set as on a host; never a reboot here' % target_kernel)
    return False


def _plan_absent(result, installed_v):
    """State absent: remove the installed driver family; True (stop) when that is the state."""
    if result['state'] != 'absent':
        return False
    result['action'] = 'remove'
    result['remove'] = family_packages(installed_v)
    result['why_no_kernel_module'] = 'nvidia_driver_state is absent: the driver is removed'
    return True


def _plan_gpu(result, gpu, has_gpu, wanted_branch, flavour, require_gpu, install_without_gpu):
    """GPU presence (require_gpu, install_without_gpu) and the GPUs' requirements; True (stop) to fail or skip."""
    platform, source, mode = result['platform'], result['source'], result['mode']
    errors, notes = result['errors'], result['notes']
    status = gpu.get('status')
    if not has_gpu:
        if require_gpu:
            errors.append('no NVIDIA GPU on this host (%s) and nvidia_driver_require_gpu is true: check the '
                          'GPU is seated and powered (lspci -d 10de:), passed through to this VM/container, '
                          'or set nvidia_driver_require_gpu: false to skip hosts without one'
                          % (gpu.get('message') or status))
            return True
        if install_without_gpu:
            explicit = [name for name, value in (('nvidia_driver_branch', wanted_branch),
                                                 ('nvidia_driver_flavour', flavour)) if value == 'auto']
            if explicit:
                errors.append('nvidia_driver_install_without_gpu: there is no NVIDIA GPU here to decide from, so %s '
                              'cannot be auto: set nvidia_driver_branch to one of %s and nvidia_driver_flavour to '
                              'open or proprietary, for the GPUs this host will get'
                              % (' and '.join(explicit), ', '.join(str(b) for b in branches_for(platform, source))))
                return True
            result['without_gpu'] = True
        elif mode == 'host':
            result['action'] = 'skip'
            result['why_no_kernel_module'] = 'no NVIDIA GPU on this host: nothing to drive'
            notes.append('no NVIDIA GPU: host skipped (set nvidia_driver_require_gpu: true to fail instead, or '
                         'nvidia_driver_install_without_gpu: true to install a given branch and flavour)')
            return True
        else:
            notes.append('container without a visible GPU: the userspace is installed for the GPU the '
                         'container runtime passes in at run time')

    req = _gpu_requirements(gpu) if has_gpu else requirements_for_gpus([])
    result['requirements'] = req
    if has_gpu and not req.get('satisfiable', True):
        errors.append('no single driver runs all GPUs of this host: %s. Split the GPUs across hosts.'
                      % '; '.join(req.get('reasons') or []))
        return True
    return False


def _plan_satisfied(result, gpu, wanted_branch, flavour, keep_satisfying):
    """Already satisfied: a driver that runs these GPUs is loaded; True (stop) when nothing is to change."""
    driver = gpu.get('driver') or {}
    status, mode, req, notes = gpu.get('status'), result['mode'], result['requirements'], result['notes']
    loaded_version = result['loaded_version']
    loaded_flavour = driver.get('kernel_module')
    # In a container, status ok means nvidia-smi answers there: the userspace that matches the host's
    # loaded module is in place already (the NVIDIA container toolkit mounts the host's own libraries);
    # installing the distribution's userspace of another version beside it would only break it
    # ("Driver/library version mismatch").
    if (keep_satisfying and status == 'ok' and loaded_version
            and not driver_requirement_problems(req, loaded_version, loaded_flavour)
            and wanted_branch in ('auto', _branch_of(loaded_version))
            and flavour in ('auto', loaded_flavour)):
        result.update({'action': 'satisfied', 'branch': _branch_of(loaded_version), 'flavour': loaded_flavour,
                       'why_no_kernel_module': None})
        where = 'this host' if mode == 'host' else 'this container (its driver userspace answers already)'
        notes.append('driver %s (%s kernel module) is loaded and runs every GPU of %s: nothing to '
                     'change (set nvidia_driver_keep_satisfying: false to enforce this role\'s packages)'
                     % (loaded_version, loaded_flavour or 'unknown', where))
        return True
    return False


def _plan_branch(result, has_gpu, wanted_branch, flavour, ubuntu_server, available):
    """Choose the branch (auto: the first one the GPUs run and apt offers) into result['branch']; True (stop) if none."""
    platform, source, req = result['platform'], result['source'], result['requirements']
    kernel_release, errors = result['kernel_release'], result['errors']
    known = branches_for(platform, source)
    low, high = req.get('min_branch'), req.get('max_branch')

    def fits(br):
        return (low is None or br >= low) and (high is None or br <= high)

    def offered(br):
        return _branch_available(platform, source, br, flavour, kernel_release, ubuntu_server, available)

    if wanted_branch == 'auto':
        supported_now = req.get('kernel_modules_supported') or ['open', 'proprietary']
        candidates = [br for br in known if fits(br)
                      and any((f in supported_now) if flavour == 'auto' else (f == flavour)
                              for f in flavours_for(platform, source, br))]
        if not has_gpu:
            default = DISTRO_DEFAULT_BRANCH[platform] if source == 'distro' else NVIDIA_DEFAULT_BRANCH[platform]
            candidates = [default] + [br for br in candidates if br != default]
        usable = [br for br in candidates if offered(br)]
        if not usable:
            errors.append('nvidia_driver_branch auto: no branch of %s (source %s: %s) fits these GPUs (%s)%s. '
                          'Use the other nvidia_driver_source, or another nvidia_driver_flavour.'
                          % (platform, source, ', '.join(str(b) for b in known), _range(low, high),
                             '' if available is None else ' and is in the configured apt sources'))
            return True
        chosen = usable[0]
    else:
        chosen = wanted_branch
        if chosen not in known:
            errors.append('nvidia_driver_branch %d is not available on %s from source %s; available: %s'
                          % (chosen, platform, source, ', '.join(str(b) for b in known)))
            return True
        if has_gpu and not fits(chosen):
            errors.append('nvidia_driver_branch %d does not run these GPUs: they need %s (%s). Set '
                          'nvidia_driver_branch to a branch in that range, or auto.'
                          % (chosen, _range(low, high), '; '.join(req.get('reasons') or [])))
            return True
    result['branch'] = chosen
    return False


def _plan_flavour(result, has_gpu, flavour, not_installable):
    """Choose the kernel module flavour (open, proprietary) into result['flavour']; True (stop) if none fits."""
    platform, source, req, chosen = result['platform'], result['source'], result['requirements'], result['branch']
    errors, notes = result['errors'], result['notes']
    offered_flavours = flavours_for(platform, source, chosen)
    supported = req.get('kernel_modules_supported') or ['open', 'proprietary']
    if flavour == 'auto':
        if has_gpu:
            choices = [f for f in ([req.get('kernel_module')] + list(supported)) if f in offered_flavours]
        else:
            preferred = 'open' if chosen >= OPEN_KERNEL_MODULE_DEFAULT_BRANCH else 'proprietary'
            choices = [f for f in (preferred, 'open', 'proprietary') if f in offered_flavours]
        if not choices:
            errors.append('nvidia_driver_flavour auto: branch %d on %s offers the %s kernel module, these GPUs '
                          'need %s. Choose another nvidia_driver_branch.'
                          % (chosen, platform, ' or '.join(offered_flavours), ' or '.join(supported)))
            return True
        choices = list(dict.fromkeys(choices))  # the GPUs' preference first, once
        installable = [f for f in choices if f not in not_installable]
        if not installable:
            errors.append('nvidia_driver_flavour auto: apt cannot install branch %d on %s with the %s kernel module '
                          'from the configured sources: %s. Check the apt sources (a mirror behind the security '
                          'archive), or choose another nvidia_driver_branch or nvidia_driver_source.'
                          % (chosen, platform, ' or the '.join(choices),
                             '; '.join('%s: %s' % (f, not_installable[f]) for f in choices)))
            return True
        chosen_flavour = installable[0]
        for skipped in choices[:choices.index(chosen_flavour)]:
            notes.append('flavour auto: the %s kernel module of branch %d cannot be installed on %s from the configured '
                         'apt sources (apt-get -s install: %s); the %s module instead, which %s'
                         % (skipped, chosen, platform, not_installable[skipped], chosen_flavour,
                            'these GPUs run as well' if has_gpu else 'the branch offers'))
    else:
        chosen_flavour = flavour
        if has_gpu and flavour not in supported:
            errors.append('nvidia_driver_flavour %s does not run these GPUs: %s. Set nvidia_driver_flavour to %s '
                          'or auto.' % (flavour, '; '.join(req.get('reasons') or []), ' or '.join(supported)))
            return True
        if flavour not in offered_flavours:
            errors.append('nvidia_driver_flavour %s is not offered by branch %d on %s from source %s (offered: '
                          '%s). Choose another nvidia_driver_branch or flavour.'
                          % (flavour, chosen, platform, source, ', '.join(offered_flavours)))
            return True
        if flavour in not_installable:
            others = [f for f in offered_flavours if f != flavour and f not in not_installable
                      and (not has_gpu or f in supported)]
            errors.append('nvidia_driver_flavour %s: apt cannot install branch %d with the %s kernel module on %s from '
                          'the configured sources (apt-get -s install: %s). %s'
                          % (flavour, chosen, flavour, platform, not_installable[flavour],
                             ('Set nvidia_driver_flavour to %s (or auto, which falls back to it).' % others[0])
                             if others else 'Check the apt sources, or choose another nvidia_driver_branch.'))
            return True
    result['flavour'] = chosen_flavour
    if result['without_gpu']:
        notes.append('no NVIDIA GPU: branch %d with the %s kernel module installed as nvidia_driver_install_without_gpu '
                     'asks (no GPU to check them against; the module cannot load until one is fitted)'
                     % (chosen, chosen_flavour))
    return False


def _plan_names(result, ubuntu_server, available):
    """The package names of the chosen branch and flavour (package_names()), None (stop) when apt lacks the userspace."""
    platform, source, chosen, chosen_flavour = result['platform'], result['source'], result['branch'], result['flavour']
    kernel_release, errors = result['kernel_release'], result['errors']
    names = package_names(platform, source, chosen, chosen_flavour, kernel_release, ubuntu_server)
    result['version_package'] = names['version_package']
    result['kernel_module'] = names['kernel_module']
    missing = _missing(names['userspace'], available)
    if missing:
        errors.append('branch %d from source %s: %s not in the configured apt sources (apt-cache policy). %s'
                      % (chosen, source, ', '.join(missing), _source_hint(platform, source)))
        return None
    return names


def _plan_kernel_module(result, names, kernel_module_type, available):
    """Choose the kernel module type (precompiled, dkms) into result; return its packages, None (stop) if it cannot be."""
    platform, source, kernel_release, errors = result['platform'], result['source'], result['kernel_release'], result['errors']
    precompiled_ok = bool(names['precompiled']) and not _missing(names['precompiled'], available)
    if kernel_module_type == 'precompiled' and not names['precompiled']:
        errors.append('nvidia_driver_kernel_module_type precompiled: %s from source %s has no signed precompiled '
                      'modules; use dkms or auto' % (platform, source))
        return None
    if kernel_module_type == 'precompiled' and not precompiled_ok:
        errors.append('nvidia_driver_kernel_module_type precompiled: %s is not in the apt sources for the '
                      'running kernel %s; use auto (falls back to DKMS) or boot a kernel that has them'
                      % (', '.join(_missing(names['precompiled'], available)), kernel_release))
        return None
    if kernel_module_type == 'dkms':
        kmt = 'dkms'
    elif precompiled_ok:
        kmt = 'precompiled'
    else:
        kmt = 'dkms'
    kernel_pkgs = list(names['precompiled']) if kmt == 'precompiled' else list(names['dkms'])
    if kmt == 'dkms' and names['headers']:
        kernel_pkgs.append(names['headers'])
    result['kernel_module_type'] = kmt
    return kernel_pkgs


def _plan_container(result, names, kernel_pkgs):
    """Container mode: only the driver userspace; what a real host would still need goes to host_would_need."""
    chosen_flavour, kmt = result['flavour'], result['kernel_module_type']
    result['packages'] = list(names['userspace'])
    result['host_would_need'] = [p for p in kernel_pkgs if p not in names['userspace']]
    result['why_no_kernel_module'] = (
        'container: the NVIDIA kernel module belongs to the host kernel, so this container gets only the '
        'driver userspace (%s). A real host would still need: %s; nouveau blacklisted in its initramfs; '
        'a reboot so that the %s %s kernel module is loaded.'
        % (', '.join(names['userspace']), ', '.join(result['host_would_need']), chosen_flavour, kmt))
    result['notes'].append('container mode: no DKMS, no kernel headers, no modprobe, no reboot')


def _plan_host(result, gpu, names, kernel_pkgs, mok_configured, available, default_kernel, target_kernel, running_kernel):
    """Host mode: DKMS prerequisites, the boot kernel, then the packages; True (stop) when one of them fails."""
    if result['kernel_module_type'] == 'dkms' and _plan_dkms(result, gpu, names, kernel_pkgs, mok_configured, available):
        return True
    if _plan_boot_kernel(result, default_kernel, target_kernel, running_kernel):
        return True
    result['packages'] = list(names['userspace']) + [p for p in kernel_pkgs if p not in names['userspace']]
    return False


def _plan_dkms(result, gpu, names, kernel_pkgs, mok_configured, available):
    """DKMS on a host: its packages, the kernel headers (adds headers_meta to kernel_pkgs), Secure Boot; True (stop) on a gap."""
    errors, notes = result['errors'], result['notes']
    platform, source, kernel_release = result['platform'], result['source'], result['kernel_release']
    chosen, chosen_flavour = result['branch'], result['flavour']
    missing_k = _missing([p for p in kernel_pkgs if p != names['headers']], available)
    if missing_k:
        errors.append('branch %d (%s) from source %s: %s not in the configured apt sources. %s'
                      % (chosen, chosen_flavour, source, ', '.join(missing_k), _source_hint(platform, source)))
        return True
    if not kernel_release:
        errors.append('the running kernel release is unknown (ansible_facts.kernel): gather facts')
        return True
    if _missing([names['headers']], available):
        errors.append('kernel headers %s for the running kernel are not installable from the configured apt '
                      'sources, so DKMS cannot build the module. Upgrade and reboot into the newest kernel '
                      '(apt full-upgrade; reboot), or add the source that carries these headers.'
                      % names['headers'])
        return True
    if names['headers_meta'] and not _missing([names['headers_meta']], available):
        kernel_pkgs.append(names['headers_meta'])  # the next kernel's headers come with it
    sb = gpu.get('secure_boot')
    if sb == 'enabled' and not mok_configured:
        errors.append(_mok_steps(''))
        return True
    if sb == 'unknown':
        notes.append('Secure Boot state unknown: if it is enabled, the DKMS module must be signed with an '
                     'enrolled MOK (nvidia_driver_mok_key / nvidia_driver_mok_cert)')
    return False


def _plan_boot_kernel(result, default_kernel, target_kernel, running_kernel):
    """The module's kernel must be the default boot kernel; True (stop) when it is not."""
    kernel_release, errors = result['kernel_release'], result['errors']
    if default_kernel and kernel_release and default_kernel != kernel_release:
        if target_kernel:
            errors.append('nvidia_driver_kernel_release %s is not the default boot kernel %s: the module built for '
                          'it would not be loaded after the next reboot. Set nvidia_driver_kernel_release to %s, '
                          'or leave it empty for the running kernel %s.'
                          % (kernel_release, default_kernel, default_kernel, running_kernel))
        else:
            errors.append('the running kernel %s is not the default boot kernel %s: a module built now would not '
                          'be loaded after the next reboot. Reboot into %s first, then run again.'
                          % (kernel_release, default_kernel, default_kernel))
        return True
    return False


def _plan_install(result, installed_v):
    """Install: hold the packages (not the kernel headers), remove the family packages that conflict."""
    result['hold'] = [p for p in result['packages'] if not p.startswith('linux-headers-')]
    chosen, chosen_flavour, source, platform = result['branch'], result['flavour'], result['source'], result['platform']
    result['remove'] = _conflicts(installed_v, result['packages'], chosen, chosen_flavour, source, platform)
    result['action'] = 'install'


def _branch_of(version):
    text = version_string(version)
    return int(text.split('.')[0]) if text else None


def _range(low, high):
    if low is None and high is None:
        return 'any branch'
    if high is None:
        return 'R%d or newer' % low
    if low is None:
        return 'R%d or older' % high
    return 'R%d to R%d' % (low, high)


def _missing(names, available):
    if available is None:
        return []
    return [n for n in names if not available.get(n)]


def _branch_available(platform, source, branch, flavour, kernel_release, ubuntu_server, available):
    if available is None:
        return True
    for fl in flavours_for(platform, source, branch):
        if flavour not in ('auto', fl):
            continue
        if not _missing(package_names(platform, source, branch, fl, kernel_release, ubuntu_server)['userspace'],
                        available):
            return True
    return False


def _source_hint(platform, source):
    if source == 'distro' and platform.startswith('debian'):
        return ('The role enables contrib, non-free and non-free-firmware (nvidia_driver_debian_components: true, '
                'through labops.dlstack.apt_components); check apt_components_mirror.')
    if source == 'distro':
        return 'Enable the restricted component and the -updates pocket of the Ubuntu archive.'
    return 'Check nvidia_repo_url (NVIDIA CUDA repository or its mirror) and the branch pin.'


def _conflicts(installed, wanted, branch, flavour, source, platform):
    """Installed driver packages that must go before the wanted ones can be installed."""
    other_source = 'distro' if source == 'nvidia' else 'nvidia'
    other_kernel = {'open': ('nvidia-kernel-dkms', 'nvidia-tesla-'),
                    'proprietary': ('nvidia-open-kernel-dkms', 'nvidia-kernel-open-dkms')}
    wanted_set = set(wanted)
    conflicts = []
    for name in family_packages(installed):
        if name in wanted_set:
            continue
        version_branch = package_branch(installed[name])
        reasons = []
        if version_branch is not None and version_branch != branch:
            reasons.append('branch')
        if SOURCE_ONLY_RE[other_source].match(name):
            reasons.append('source')
        name_branch = re.search(r'-(\d{3})(?:-|$)', name)
        if name_branch and int(name_branch.group(1)) != branch:
            reasons.append('branch-name')
        if name in other_kernel[flavour] or (flavour == 'open' and name.startswith('nvidia-tesla-')):
            reasons.append('flavour')
        if platform.startswith('ubuntu') and flavour == 'proprietary' and re.search(r'-open(-|$)', name):
            reasons.append('flavour')
        if platform.startswith('ubuntu') and flavour == 'open' and re.match(r'^(nvidia-headless|linux-modules-nvidia|nvidia-dkms)-', name) \
                and not re.search(r'-open(-|$)', name):
            reasons.append('flavour')
        if reasons:
            conflicts.append(name)
    return conflicts


# --------------------------------------------------------------------------------------------------
# after installing: reboot or not
# --------------------------------------------------------------------------------------------------

def reboot_decision(gpu, installed_version, mode='host', policy='auto', connection='ssh', without_gpu=False,
                    initramfs_rebuilt=False, chroot=False):
    """Whether the host must reboot for the installed driver to run, and whether the role may do it.

    installed_version: version of the plan's version_package after installing ('580.95.05-0ubuntu1').
    without_gpu: the plan installed for no GPU (nvidia_driver_install_without_gpu): the module cannot load
    (modprobe: No such device), so that is no reason; initramfs_rebuilt (the nouveau blacklist changed and
    the initramfs was rebuilt) is, once, so the host is proven to boot it before its GPUs are fitted.
    chroot (ansible_facts.is_chroot, or a chroot connection): a host image being built; never reboot there.
    Returns {'required', 'reboot', 'reasons', 'why_not', 'installed_version', 'loaded_version'}."""
    gpu = gpu if isinstance(gpu, dict) else {}
    driver = gpu.get('driver') or {}
    installed = version_string(installed_version)
    loaded = version_string(driver.get('version')) if driver.get('loaded') else None
    reasons = []
    result = {'required': False, 'reboot': False, 'reasons': reasons, 'why_not': None,
              'installed_version': installed, 'loaded_version': loaded}
    if mode != 'host' or gpu.get('in_container'):
        result['why_not'] = 'container: the kernel module is the host\'s business; never reboot here'
        return result
    if chroot or 'chroot' in str(connection or ''):
        result['why_not'] = 'chroot: a host image is being built here; never reboot (the host it runs in is another)'
        return result
    if gpu.get('nouveau_loaded'):
        reasons.append('nouveau is loaded (it holds the GPU until a reboot with the blacklist in the initramfs)')
    if without_gpu:
        if initramfs_rebuilt:
            reasons.append('no GPU: the initramfs was rebuilt with the nouveau blacklist; one reboot proves the host '
                           'boots it before its GPUs are fitted (the NVIDIA module cannot load without a GPU)')
    elif installed and not loaded:
        reasons.append('the NVIDIA kernel module is not loaded; installed driver is %s' % installed)
    elif installed and loaded and installed != loaded:
        reasons.append('loaded kernel module %s differs from the installed driver %s' % (loaded, installed))
    if gpu.get('status') == 'driver_library_mismatch' and not reasons:
        reasons.append('driver/library version mismatch reported by the probe')
    result['required'] = bool(reasons)
    if not reasons:
        return result
    if policy != 'auto':
        result['why_not'] = 'nvidia_driver_reboot is %s: reboot the host yourself' % policy
    elif connection == 'local':
        result['why_not'] = 'local connection: the role never reboots the control node; reboot it yourself'
    else:
        result['reboot'] = True
    return result


def needs_batch(planned, state=None, reboot=None):
    """Whether the driver has a change to make on this host that goes in site.yml's batches (True), or the host may
    finish the role unbatched, beside the others (False: nothing takes it down).

    planned: the plan (role_plan's __nvidia_driver_plan); state: the registered `converged` check (a skipped one, or
    None, is not converged); reboot: reboot_decision() for the installed driver, or None where none was decided.
    A change is a removal, an install where the host is not as the last converge left it (packages, holds or files:
    what apt would do is only known by asking it, so it counts as a change), or a reboot the role would do. A plan of
    skip or satisfied, and an install found as last converged with no reboot to do, change nothing."""
    planned = planned if isinstance(planned, dict) else {}
    action = planned.get('action')
    if action == 'remove':
        return True
    if action != 'install':
        return False
    if not (isinstance(state, dict) and state.get('converged') is True):
        return True
    return bool(isinstance(reboot, dict) and reboot.get('reboot'))


def _batch_size(value):
    """One dlstack_serial value -> ('count', n) or ('percent', p), or None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ('count', value) if value >= 1 else None
    if isinstance(value, str):
        text = value.strip()
        if re.match(r'^[0-9]+$', text) and int(text) >= 1:
            return ('count', int(text))
        match = re.match(r'^([0-9]+(?:\.[0-9]+)?)%$', text)
        if match and 0 < float(match.group(1)) <= 100:
            return ('percent', float(match.group(1)))
    return None


def _normal(value):
    """A value as compared across hosts: "20" (-e, or a quoted YAML value) and 20 are the same setting."""
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, str) and re.match(r'^\s*[0-9]+\s*$', value):
        return int(value)
    return value.strip() if isinstance(value, str) else value


def _one_value(name, hosts, values, default, errors):
    """The one value of a run-wide variable as the hosts see it (None or '' where unset: the default); an error naming
    the hosts when they disagree."""
    seen = {}
    for host, value in zip(hosts, values):
        value = default if value is None or value == '' else value
        seen.setdefault(repr(_normal(value)), (value, []))[1].append(host)
    if len(seen) > 1:
        errors.append('%s: the hosts of this run disagree (%s); the driver batches have one setting for the whole '
                      'run: set it once (group_vars/all, or -e)'
                      % (name, '; '.join('%s on %s' % (v[0], ', '.join(v[1])) for v in seen.values())))
        return None
    return next(iter(seen.values()))[0] if seen else default


def batch_settings(hosts, serial=None, max_fail=None, default_serial='25%', default_max_fail=0):
    """site.yml's driver batches from dlstack_serial and dlstack_max_fail_percentage as the hosts of the run see them.

    hosts: the hosts of the run (the driver play's target); serial, max_fail: the value each host sees, in the order
    of hosts (None or '' where unset: the default). A play's serial and max_fail_percentage are read before any host is
    chosen, where inventory variables are not visible (only -e is), so site.yml asks the hosts here and hands the
    result to the play of the batches. A percentage is of the hosts of the run, not of those with a change: "25%" of
    a 40-host lab changes at most 10 hosts at once, however many need it (ansible's own rounding: down, at least 1).
    Returns {'serial': [batch sizes] (the last repeats, as in a play's serial list), 'max_fail_percentage': int,
    'errors': [messages]}."""
    hosts = list(hosts or [])
    errors = []
    serial = list(serial) if isinstance(serial, (list, tuple)) else [None] * len(hosts)
    max_fail = list(max_fail) if isinstance(max_fail, (list, tuple)) else [None] * len(hosts)
    value = _one_value('dlstack_serial', hosts, serial, default_serial, errors)
    fail = _one_value('dlstack_max_fail_percentage', hosts, max_fail, default_max_fail, errors)
    sizes = []
    items = value if isinstance(value, list) else [value]
    if value is not None:
        parsed = [_batch_size(item) for item in items]
        if not items or None in parsed:
            errors.append('dlstack_serial: %r is not a batch size; accepted: a number of hosts (1 or more), a '
                          'percentage of the hosts of the run such as "25%%", or a list of those' % (value,))
        else:
            for kind, number in parsed:
                sizes.append(number if kind == 'count' else max(1, int(number / 100.0 * len(hosts))))
    if fail is not None:
        text = fail.strip() if isinstance(fail, str) else fail
        number = int(text) if isinstance(text, str) and re.match(r'^[0-9]+$', text) else text
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 100:
            errors.append('dlstack_max_fail_percentage: %r is not a percentage; accepted: a whole number from 0 '
                          '(stop at the first failed host) to 100' % (fail,))
        else:
            fail = number
    return {'serial': sizes or [1], 'max_fail_percentage': fail if isinstance(fail, int) and not errors else 0,
            'errors': errors}


def verify_after_reboot(gpu, installed_version, without_gpu=False):
    """Problems after the reboot ([] = the loaded module is the installed driver).

    without_gpu: installed for no GPU, where no NVIDIA module can load: only nouveau is checked here (the
    role checks the module built for the running kernel with modinfo)."""
    gpu = gpu if isinstance(gpu, dict) else {}
    driver = gpu.get('driver') or {}
    installed = version_string(installed_version)
    loaded = version_string(driver.get('version')) if driver.get('loaded') else None
    problems = []
    if without_gpu:
        if loaded and installed and loaded != installed:
            problems.append('after the reboot the loaded module is %s, the installed driver %s' % (loaded, installed))
    elif not loaded:
        problems.append('after the reboot no NVIDIA kernel module is loaded (%s): %s'
                        % (gpu.get('status'), gpu.get('message')))
    elif installed and loaded != installed:
        problems.append('after the reboot the loaded module is %s, the installed driver %s' % (loaded, installed))
    if gpu.get('nouveau_loaded'):
        problems.append('nouveau is still loaded after the reboot: check /etc/modprobe.d and the initramfs')
    return problems


def unattended_upgrades_blacklist():
    """Package-Blacklist entries for the driver family.

    unattended-upgrades matches each entry as a Python regex at the start of the package name; these
    prefixes hold no regex metacharacter ('-' is literal outside a character class)."""
    return ['^' + p for p in U_U_BLACKLIST]


# --------------------------------------------------------------------------------------------------
# what apt and DKMS say on the host
# --------------------------------------------------------------------------------------------------

def apt_simulation(result):
    """A registered `apt-get -s install ...` command result -> {'ok': bool, 'reason': str or None}.

    reason: apt's own words, one line: the unmet dependencies and the E: line ('nvidia-open-kernel-dkms :
    Depends: firmware-nvidia-gsp (= 535.261.03) ...; E: Unable to correct problems, you have held broken
    packages.'). A skipped task (no 'rc') is ok: apt was not asked (check mode before the sources exist)."""
    result = result if isinstance(result, dict) else {}
    if result.get('skipped') or 'rc' not in result:
        return {'ok': True, 'reason': None}
    if result.get('rc') == 0:
        return {'ok': True, 'reason': None}
    text = '%s\n%s' % (result.get('stdout') or '', result.get('stderr') or '')
    lines = [line.rstrip() for line in text.splitlines()]
    clauses = []
    start = next((i for i, line in enumerate(lines) if line.startswith('The following packages have unmet dependencies')),
                 None)
    if start is not None:
        for line in lines[start + 1:]:
            if not line.strip() or line.startswith('E:'):
                break
            if _APT_CLAUSE_RE.match(line.strip()) or not clauses:
                clauses.append(line.strip())
            else:
                clauses[-1] += ' ' + line.strip()
    clauses.extend(line for line in lines if line.startswith('E:'))
    reason = '; '.join(clauses)
    return {'ok': False, 'reason': reason or 'apt-get -s install exited %s' % result.get('rc')}


# a new clause of apt's "unmet dependencies" block: 'pkg : Depends: ...' or an indented 'Depends: ...'
_APT_CLAUSE_RE = re.compile(r'^(\S+ : )?(Pre-Depends|Depends|Conflicts|Breaks|Recommends):')
_DKMS_LINE_RE = re.compile(
    r'^(?P<module>[^/,:\s]+)(?:/|,\s*)(?P<version>[^,:\s]+)'
    r'(?:,\s*(?P<kernel>[^,:\s]+))?(?:,\s*(?P<arch>[^,:\s]+))?:\s*(?P<state>[a-z-]+)')


def parse_dkms_status(text):
    """`dkms status` -> [{'module', 'version', 'kernel', 'arch', 'state'}] (dkms 3: name/version, kernel, arch:
    state; dkms 2: name, version, kernel, arch: state; 'name/version: added' has no kernel)."""
    entries = []
    for line in str(text or '').splitlines():
        match = _DKMS_LINE_RE.match(line.strip())
        if match:
            entries.append(match.groupdict())
    return entries


def _version_key(version):
    return tuple(int(x) for x in re.findall(r'\d+', str(version or '')))


def dkms_state(text, module, kernel):
    """What DKMS has of `module` for `kernel` (from `dkms status`).

    Returns {'known': DKMS knows the module, 'version': the newest version it knows, 'state': that version's state
    for the kernel (installed, built, added, or None), 'build': True when `dkms autoinstall -k kernel` is needed,
    that is whenever it is not installed}. Read all of `dkms status`: with -k KERNEL, dkms 3 leaves out the
    'added' lines (no kernel yet), which are the ones that say a build is missing."""
    entries = [e for e in parse_dkms_status(text) if e['module'] == module]
    if not entries:
        return {'known': False, 'version': None, 'state': None, 'build': True}
    newest = max((e['version'] for e in entries), key=_version_key)
    states = [e['state'] for e in entries if e['version'] == newest and e['kernel'] in (kernel, None)]
    state = next((s for s in ('installed', 'built', 'added') if s in states), states[0] if states else None)
    return {'known': True, 'version': newest, 'state': state, 'build': state != 'installed'}


def dkms_build_error(make_log):
    """The first compiler or linker error of a DKMS make.log ('nv-pci.c:237:9: error: too few arguments to function
    ...'), or None. The path up to the DKMS build directory is cut."""
    for line in str(make_log or '').splitlines():
        if re.search(r'(\berror:|undefined reference|\*\*\* No rule)', line):
            return re.sub(r'^\S*/build/', '', line.strip())
    return None


def broken_family_packages(dpkg_query):
    """Driver-family packages dpkg left unfinished (a postinst that failed: half-configured, unpacked, ...).

    dpkg_query: output of `dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'`. The abbreviation is the wanted
    state (i install, h hold, ...), the current one and an error flag (dpkg-query(1)): current U (unpacked),
    F (half-configured), H (half-installed), W/t (triggers awaited/pending) or the R flag (reinstall required)
    is unfinished; ii, hi (held) and rc (configuration files left) are not."""
    broken = []
    for line in str(dpkg_query or '').splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, status = parts[0].split(':')[0], parts[1]
        unfinished = status[1:2] in ('U', 'F', 'H', 'W', 't') or status[2:3] == 'R'
        if unfinished and FAMILY_RE.match(name) and not FAMILY_EXCLUDE_RE.match(name):
            broken.append(name)
    return sorted(set(broken))


def built_module_problems(modinfo, installed_version, module, kernel):
    """Problems with the kernel module a host will load ([] = its version is the installed driver's).

    modinfo: the registered result of `modinfo -k KERNEL -F version MODULE`."""
    modinfo = modinfo if isinstance(modinfo, dict) else {}
    installed = version_string(installed_version)
    if modinfo.get('rc') != 0:
        return ['no %s kernel module for kernel %s (modinfo: %s): DKMS did not build it; see dkms status and '
                '/var/lib/dkms/%s/*/build/make.log' % (module, kernel, (modinfo.get('stderr') or '').strip(), module)]
    built = version_string(modinfo.get('stdout'))
    if installed and built != installed:
        return ['the %s kernel module for kernel %s is %s, the installed driver %s: run dkms autoinstall -k %s'
                % (module, kernel, built, installed, kernel)]
    return []


# What the role publishes (the fact nvidia_driver_result) and writes on the host (nvidia_driver_report_path).
RESULT_FROM_PLAN = ('action', 'mode', 'platform', 'source', 'branch', 'flavour', 'kernel_module_type', 'kernel_release',
                    'kernel_module', 'without_gpu', 'not_installable', 'packages', 'why_no_kernel_module',
                    'host_would_need', 'notes', 'deferred')
REBOOT_KEYS = ('reboot_required', 'reboot_reasons', 'reboot_not_done_because')


def role_result(planned, gpu, installed_version='', kernel_module_version='', reboot=None, hold=True):
    """The fact nvidia_driver_result: what the role decided and found.

    planned: the plan (with `deferred`, the sentence of a step running GPU work held back, or None); gpu:
    ansible_facts['dlstack_gpu'] as the run leaves the host; installed_version: the driver package's version
    ('' when the role did not install); kernel_module_version: what modinfo read for the built module ('' when
    not read); reboot: reboot_decision() (None when the role decided none); hold: nvidia_driver_hold."""
    planned = planned if isinstance(planned, dict) else {}
    gpu = gpu if isinstance(gpu, dict) else {}
    driver = gpu.get('driver') or {}
    reboot = reboot if isinstance(reboot, dict) else {}
    loaded = bool(driver.get('loaded'))
    result = dict((key, planned.get(key)) for key in RESULT_FROM_PLAN)
    result.update({
        'kernel_module_version': str(kernel_module_version or '').strip() or None,
        'held': list(planned.get('hold') or []) if hold else [],
        'removed': planned.get('remove'),
        'installed_version': installed_version or '',
        'loaded_version': driver.get('version') if loaded else None,
        'gpu_status': gpu.get('status'),
        'kernel_module_loaded': loaded,
        'reboot_required': bool(reboot.get('required', False)),
        'reboot_reasons': list(reboot.get('reasons') or []),
        'reboot_not_done_because': reboot.get('why_not'),
    })
    return result


def host_report(result):
    """What the host report says: the host, the same on every run that changes nothing. A reboot this run did is
    no longer pending (it is kept in nvidia_driver-reboot.json); one still to do is reboot_pending, with why."""
    result = dict(result or {})
    pending = bool(result.get('reboot_required')) and result.get('reboot_not_done_because') is not None
    report = dict((key, value) for key, value in result.items() if key not in REBOOT_KEYS)
    report.update({
        'reboot_pending': pending,
        'reboot_pending_reasons': result.get('reboot_reasons') or [] if pending else [],
        'reboot_pending_because': result.get('reboot_not_done_because') if pending else None,
    })
    return report

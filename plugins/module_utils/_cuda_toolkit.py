# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. Pure Python >= 3.9, no third-party imports.

"""What the cuda_toolkit role decides: which toolkit, from where, in which layout, for which driver.

The role hands this module the gpu_facts result (ansible_facts['dlstack_gpu']), its variables, the
platform and the toolkits already found under /usr/local; plan() answers with everything the tasks
apply (packages, homes, PATH/library dirs, the /usr/local/cuda default) and the errors preflight
stops on. The CUDA <-> driver table is _gpu_knowledge's (cuda_min_driver, driver_supports_cuda,
driver_max_cuda); it is not repeated here.
"""

from __future__ import annotations

import re

from ansible_collections.labops.dlstack.plugins.module_utils._gpu_knowledge import (
    arch_from_compute_capability,
    cuda_compile_targets,
    cuda_compiles_for,
    cuda_min_compute_capability,
    cuda_min_driver,
    cuda_toolkit_driver,
    driver_max_cuda,
    driver_supports_cuda,
    min_cuda_for_compute_capability,
    newest_cuda_for,
    normalize_compute_capability,
    parse_version,
)

SOURCES = ('distro', 'nvidia')

# Layout of the distribution packages (Debian's nvidia-cuda-toolkit, also Ubuntu's): /usr/bin/nvcc is
# a shell wrapper; the real nvcc and a gcc/g++ wrapper that picks a host compiler the toolkit supports
# sit in /usr/lib/nvidia-cuda-toolkit/bin. Debian 12's /usr/bin/nvcc does not put that directory on
# PATH, so `nvcc` alone fails with "gcc: No such file or directory" unless PATH has it (seen in a
# labops-dlstack/debian:12 container; Debian 13's wrapper prepends it). Libraries and headers live in
# the multiarch directories ld.so already searches, so no library path is added; CUDA_HOME is /usr.
DISTRO_HOME = '/usr/lib/nvidia-cuda-toolkit'
DISTRO_BIN = DISTRO_HOME + '/bin'
DISTRO_CUDA_HOME = '/usr'

# NVIDIA repository layout: one tree per version, /usr/local/cuda-X.Y, libraries in lib64 (x86_64).
NVIDIA_HOME_TEMPLATE = '/usr/local/cuda-{version}'
CUDA_LINK = '/usr/local/cuda'

# The toolkit each distribution ships. Debian rows checked with apt-cache in labops-dlstack/debian:12
# and :13 containers (deb.debian.org, 2026): nvidia-cuda-toolkit 11.8.89~11.8.0-5~deb12u1 (bookworm
# non-free), 12.4.131~12.4.1-2 (trixie non-free); nvidia-cuda-toolkit-gcc depends on g++-11 / g++-13;
# nvidia-cudnn is contrib (an installer that downloads cuDNN from NVIDIA when it is installed); NCCL
# (libnccl2, libnccl-dev, contrib) only in trixie. Ubuntu rows from packages.ubuntu.com (jammy 11.5.1,
# noble 12.0.140~12.0.1-4build4, multiverse); not exercised here, NCCL there is not checked (None).
# The archive components these live in are added by the role labops.dlstack.apt_components.
DISTRO_TOOLKITS = {
    ('Debian', '12'): {
        'cuda': '11.8',
        'packages': ['nvidia-cuda-toolkit', 'nvidia-cuda-toolkit-gcc'],
        'cudnn': ['nvidia-cudnn'],
        'nccl': None,
    },
    ('Debian', '13'): {
        'cuda': '12.4',
        'packages': ['nvidia-cuda-toolkit', 'nvidia-cuda-toolkit-gcc'],
        'cudnn': ['nvidia-cudnn'],
        'nccl': ['libnccl2', 'libnccl-dev'],
    },
    ('Ubuntu', '22.04'): {
        'cuda': '11.5',
        'packages': ['nvidia-cuda-toolkit'],
        'cudnn': ['nvidia-cudnn'],
        'nccl': None,
    },
    ('Ubuntu', '24.04'): {
        'cuda': '12.0',
        'packages': ['nvidia-cuda-toolkit', 'nvidia-cuda-toolkit-gcc'],
        'cudnn': ['nvidia-cudnn'],
        'nccl': None,
    },
}

# Newest GCC major each CUDA toolkit accepts as host compiler (crt/host_config.h, "gcc versions later
# than N are not supported"; collected in gist ax3l/9489132 "CUDA Compilers" and the CUDA Installation
# Guide for Linux of each release). (first CUDA version, newest GCC major), oldest first. 13.x is
# given 14, the newest default GCC of the supported platforms (a lower bound is enough here).
CUDA_MAX_GCC = (
    ('11.0', 9),
    ('11.1', 10),
    ('11.5', 11),
    ('12.0', 12),
    ('12.4', 13),
    ('12.8', 14),
)

# Default GCC of each platform and the g++-N packages its archive offers (Debian: apt-cache policy in
# the test containers; Ubuntu: packages.ubuntu.com).
PLATFORM_GCC = {
    ('Debian', '12'): {'default': 12, 'available': (11, 12)},
    ('Debian', '13'): {'default': 14, 'available': (12, 13, 14)},
    ('Ubuntu', '22.04'): {'default': 11, 'available': (9, 10, 11, 12)},
    ('Ubuntu', '24.04'): {'default': 13, 'available': (9, 10, 11, 12, 13, 14)},
}

# NVIDIA's repository directories without cuDNN 9: debian13 has no libcudnn9-cuda-* (NVIDIA/cuda-repo-management#32,
# 2025-12-09: "The cudnn9 packages are missing from the repository .../debian13/x86_64/"; NVIDIA: "This is
# expected, hopefully the next release of cuDNN will add support for Debian 13"; still so in the issue #19 audit).
NVIDIA_REPO_WITHOUT_CUDNN = (('Debian', '13'),)

_VERSION_RE = re.compile(r'^\d+\.\d+$')
_NVCC_ARCH_RE = re.compile(r'\bcompute_(\d+)([a-z]?)\b')
_NVCC_RELEASE_RE = re.compile(r'release (\d+)\.(\d+)')


def _platform_key(distribution, major_version):
    distribution = str(distribution or '')
    major = str(major_version or '')
    if distribution == 'Ubuntu' and '.' not in major:
        # Ubuntu's distribution_major_version is "24"; the tables use the release ("24.04").
        major = major + '.04'
    return (distribution, major)


def platform_name(distribution, major_version):
    return '%s %s' % _platform_key(distribution, major_version)


def is_cuda_version(value):
    """'12.8' -> True; '12', '12.8.1', 'cu128', 12.8 (a float) -> False (the role asks for "X.Y" strings)."""
    return isinstance(value, str) and bool(_VERSION_RE.match(value))


def version_key(version):
    return parse_version(version) or ()


def nvcc_release(output):
    """`nvcc --version` text -> '12.4' (from "Cuda compilation tools, release 12.4, V12.4.131"), or None."""
    match = _NVCC_RELEASE_RE.search(str(output or ''))
    if not match:
        return None
    return '%d.%d' % (int(match.group(1)), int(match.group(2)))


def parse_nvcc_arch_list(output):
    """`nvcc --list-gpu-arch` text -> ['3.5', '3.7', '5.0', ...] (compute_XY lines; 'a'/'f' variants folded)."""
    out = []
    for match in _NVCC_ARCH_RE.finditer(str(output or '')):
        cc = normalize_compute_capability('compute_' + match.group(1))
        if cc and cc not in out:
            out.append(cc)
    return out


def host_gpus(gpu):
    """[(name, compute capability)] of the GPUs in ansible_facts['dlstack_gpu'] whose CC is known."""
    out = []
    for item in (gpu or {}).get('gpus') or []:
        cc = normalize_compute_capability(item.get('compute_capability'))
        if cc:
            out.append((item.get('name') or item.get('pci_device_id') or 'GPU', cc))
    return out


def _gpu_label(name, cc):
    return '%s (%s%s)' % (name, cc, ', ' + arch_from_compute_capability(cc) if arch_from_compute_capability(cc) else '')


def compile_problem(version, gpus):
    """None when CUDA `version` compiles for every (name, cc) GPU, else the refusal naming the GPUs."""
    bad = [(name, cc) for name, cc in gpus if not cuda_compiles_for(version, cc)]
    if not bad:
        return None
    low = cuda_min_compute_capability(version)
    why = []
    advice = []
    for name, cc in bad:
        first = min_cuda_for_compute_capability(cc)
        if low and parse_version(cc) < parse_version(low):
            why.append('%s: CUDA %s compiles for compute capability %s and newer' % (_gpu_label(name, cc), version, low))
            newest = [v for v in ('12.9', '11.8') if cuda_compiles_for(v, cc)]
            advice.append('ask for an older toolkit (%s is the newest that compiles for it%s)'
                          % (newest[0] if newest else 'none known',
                             '; CUDA 13.0 removed Maxwell, Pascal and Volta' if parse_version(version) >= (13,) else ''))
        elif first:
            why.append('%s: needs CUDA %s or newer' % (_gpu_label(name, cc), first))
            advice.append('ask for CUDA %s or newer (cuda_toolkit_source: nvidia)' % first)
        else:
            why.append('%s: no CUDA version is known to compile for it' % _gpu_label(name, cc))
    advice = '; '.join(sorted(set(advice), key=advice.index)) or 'list another version'
    return ('cuda_toolkit_versions: CUDA %s cannot compile for %s (its nvcc --list-gpu-arch has no %s). %s; or set '
            'cuda_toolkit_build_only: true to build for other GPUs only'
            % (version, '; '.join(why), ', '.join('compute_' + cc.replace('.', '') for _n, cc in bad),
               advice[0].upper() + advice[1:]))


def nvcc_arch_problems(version, listed, gpus):
    """What `nvcc --list-gpu-arch` of an installed toolkit contradicts: {'problems': [...], 'compared': text}.

    listed: parse_nvcc_arch_list() of its output; gpus: host_gpus(). With GPUs, every GPU's own
    architecture must be listed. Without a GPU there is nothing of the host to compare, so the list is
    compared with what the collection's tables claim this version compiles for (cuda_compile_targets):
    a claimed architecture missing from nvcc's list is a problem (preflight decides from that claim);
    what nvcc lists beyond the tables is only reported.
    """
    listed = list(listed or [])
    problems = []
    if not listed:
        return {'problems': ['nvcc --list-gpu-arch of CUDA %s listed no compute_XY architecture' % version],
                'compared': 'nothing (no list)'}
    if gpus:
        for name, cc in gpus:
            if cc not in listed:
                problems.append('CUDA %s: nvcc --list-gpu-arch has no compute_%s for %s; it lists %s'
                                % (version, cc.replace('.', ''), _gpu_label(name, cc),
                                   ', '.join('compute_' + c.replace('.', '') for c in listed)))
        compared = 'the GPUs of this host: %s' % ', '.join(_gpu_label(n, c) for n, c in gpus)
        return {'problems': problems, 'compared': compared}
    claimed = cuda_compile_targets(version)
    missing = [cc for cc in claimed if cc not in listed]
    extra = [cc for cc in listed if cc not in claimed]
    if missing:
        problems.append('CUDA %s: the collection\'s tables say it compiles for %s, but nvcc --list-gpu-arch does not '
                        'list them (it lists %s): the table in _gpu_knowledge.py is wrong'
                        % (version, ', '.join('compute_' + c.replace('.', '') for c in missing),
                           ', '.join('compute_' + c.replace('.', '') for c in listed)))
    compared = ('no GPU on this host: nvcc\'s list (compute_%s .. compute_%s, %d entries) against the '
                'collection\'s table for CUDA %s (%s)%s'
                % (listed[0].replace('.', ''), listed[-1].replace('.', ''), len(listed), version,
                   ', '.join(claimed) or 'nothing',
                   '; nvcc also lists %s, which the tables do not name' % ', '.join(extra) if extra else ''))
    return {'problems': problems, 'compared': compared}


def distro_toolkit(distribution, major_version):
    """The distribution's toolkit row (a copy), or None when the platform has none in the table."""
    row = DISTRO_TOOLKITS.get(_platform_key(distribution, major_version))
    return dict(row) if row else None


def max_gcc(cuda_version):
    """Newest GCC major a CUDA toolkit accepts ('11.8' -> 11, '12.4' -> 13), None below 11.0."""
    best = None
    for first, gcc in CUDA_MAX_GCC:
        if version_key(cuda_version) >= version_key(first):
            best = gcc
    return best


def host_compiler(cuda_version, distribution, major_version):
    """Host C++ compiler for an NVIDIA-repository toolkit on this platform.

    Returns {'packages': [...], 'ccbin': path or None, 'error': text or None}: the platform's g++
    when CUDA accepts its GCC, otherwise the newest g++-N the archive offers that CUDA accepts, which
    nvcc must then be given with -ccbin.
    """
    gcc = PLATFORM_GCC.get(_platform_key(distribution, major_version))
    limit = max_gcc(cuda_version)
    if gcc is None or limit is None:
        return {'packages': ['g++'], 'ccbin': None, 'error': None}
    if gcc['default'] <= limit:
        return {'packages': ['g++'], 'ccbin': None, 'error': None}
    fitting = [n for n in gcc['available'] if n <= limit]
    if not fitting:
        return {'packages': [], 'ccbin': None,
                'error': 'CUDA %s needs GCC %d or older as host compiler; %s offers g++ %s only'
                         % (cuda_version, limit, platform_name(distribution, major_version),
                            ', '.join(str(n) for n in gcc['available']))}
    chosen = max(fitting)
    return {'packages': ['g++-%d' % chosen], 'ccbin': '/usr/bin/g++-%d' % chosen, 'error': None}


def nvidia_toolkit_packages(version):
    """'12.8' -> ['cuda-toolkit-12-8'] (never the `cuda` meta-package, which pulls in a driver)."""
    return ['cuda-toolkit-%s' % version.replace('.', '-')]


def nvidia_cudnn_packages(versions):
    """cuDNN 9 for each CUDA major asked for: ['12.8', '13.0'] -> libcudnn9(-dev)-cuda-12, -13."""
    majors = sorted(set(int(v.split('.')[0]) for v in versions))
    out = []
    for major in majors:
        out.extend(['libcudnn9-cuda-%d' % major, 'libcudnn9-dev-cuda-%d' % major])
    return out


def nvidia_nccl_packages(default_version):
    """NCCL is one package set per host: the build for the default toolkit's CUDA major.

    ansible.builtin.apt matches the version with fnmatch and takes the newest: '12.8' ->
    ['libnccl2=*+cuda12.*', 'libnccl-dev=*+cuda12.*'].
    """
    major = default_version.split('.')[0]
    return ['libnccl2=*+cuda%s.*' % major, 'libnccl-dev=*+cuda%s.*' % major]


def _driver_problem(driver_version, version):
    """None when the driver runs CUDA `version`, else the refusal text with the minimum driver."""
    if driver_supports_cuda(driver_version, version):
        return None
    try:
        minimum = cuda_min_driver(version)
    except ValueError:
        return ('cuda_toolkit_versions: CUDA %s is not in the collection\'s CUDA/driver table, so driver %s '
                'cannot be checked against it; set cuda_toolkit_build_only: true to install it for building only'
                % (version, driver_version))
    bundled = cuda_toolkit_driver(version)
    full = ' (%s for every feature of %s, the driver of its release)' % (bundled, version) if bundled and bundled != minimum else ''
    return ('cuda_toolkit_versions: CUDA %s needs NVIDIA driver %s or newer%s; this host runs %s, which runs CUDA up to %s. '
            'Upgrade the driver (labops.dlstack.nvidia_driver), ask for an older toolkit, or set '
            'cuda_toolkit_build_only: true on a host that only compiles'
            % (version, minimum, full, driver_version, driver_max_cuda(driver_version) or 'none'))


def _gpu_state(gpu):
    """(driver_version or None, usable GPU present) from ansible_facts['dlstack_gpu']."""
    gpu = gpu or {}
    driver = gpu.get('driver') or {}
    version = driver.get('version') if driver.get('installed', driver.get('version') is not None) else None
    if version is not None and parse_version(version) is None:
        version = None
    usable = gpu.get('status') == 'ok' and bool(gpu.get('gpus'))
    return version, usable


def installed_from_reads(reads, dir_key='__cuda_toolkit_dir'):
    """The toolkits found on the host, release -> home, from the registered loop of `<home>/bin/nvcc --version`
    (each result with rc, stdout and the home under dir_key); a tree whose nvcc fails or names no release is not
    a toolkit."""
    found = {}
    for read in reads or []:
        if not isinstance(read, dict) or read.get('rc') != 0 or not read.get(dir_key):
            continue
        release = nvcc_release(read.get('stdout') or '')
        if release:
            found[release] = read[dir_key]
    return found


def link_target(stat):
    """Where /usr/local/cuda points, from its registered stat (None when it is not a symlink or was not read)."""
    stat = stat if isinstance(stat, dict) else {}
    return stat.get('lnk_source') or None if stat.get('islnk') else None


def _empty_plan(source, platform, errors, notes, driver_version, build_only):
    """The plan before any decision: every key the role reads, with its value when nothing is applied."""
    return {
        'source': source, 'platform': platform, 'errors': errors, 'notes': notes,
        'versions': [], 'default': None, 'toolkits': [], 'packages': [],
        'driver_version': driver_version, 'build_only': bool(build_only), 'run_on_gpu': False,
        'manage_link': False, 'link_target': None, 'path_dirs': [], 'library_dirs': [],
        'cuda_home': None, 'nvcc_prepend_flags': '', 'needs_repo': False, 'gpus': [],
    }


def _check_input(source, versions, default_version, errors):
    """Appends the first thing wrong with the variables' form (the source, the versions, the default) to errors."""
    if source not in SOURCES:
        errors.append('cuda_toolkit_source: %r is not one of %s' % (source, ', '.join(SOURCES)))
        return
    bad = [v for v in versions if not is_cuda_version(v)]
    if bad:
        errors.append('cuda_toolkit_versions: %s: each item must be a quoted "X.Y" string such as "12.8"'
                      % ', '.join(repr(v) for v in bad))
        return
    if len(set(versions)) != len(versions):
        errors.append('cuda_toolkit_versions: %s lists a version twice' % (versions,))
        return
    if default_version and not is_cuda_version(default_version):
        errors.append('cuda_toolkit_default_version: %r must be "" or a quoted "X.Y" string' % (default_version,))


def _distro_versions(row, versions, platform, errors):
    """The distro source's one version, that of the platform's nvidia-cuda-toolkit (None after an error)."""
    if row is None:
        errors.append('cuda_toolkit_source: distro: no CUDA toolkit package is known for %s (known: %s); '
                      'use cuda_toolkit_source: nvidia'
                      % (platform, ', '.join('%s %s' % k for k in sorted(DISTRO_TOOLKITS))))
        return None
    if versions and versions != [row['cuda']]:
        errors.append('cuda_toolkit_versions: %s\'s nvidia-cuda-toolkit is CUDA %s, the only version the distro '
                      'source offers (asked for %s); use cuda_toolkit_source: nvidia for other versions'
                      % (platform, row['cuda'], ', '.join(versions)))
        return None
    return [row['cuda']]


def _versions_for_driver(driver_version, gpus, errors, notes):
    """An empty cuda_toolkit_versions: the newest CUDA the driver runs that compiles for the GPUs (None after an error)."""
    if driver_version is None:
        errors.append('cuda_toolkit_versions: empty, and this host has no NVIDIA driver to choose a version for; '
                      'list the versions to install, for example ["12.8"]')
        return None
    ceiling = driver_max_cuda(driver_version)
    chosen = newest_cuda_for(driver_version, [cc for _n, cc in gpus])
    if chosen is None:
        errors.append('cuda_toolkit_versions: empty, and no CUDA version in the collection\'s tables both runs on '
                      'driver %s and compiles for %s; list the versions to install'
                      % (driver_version, ', '.join(_gpu_label(n, c) for n, c in gpus) or 'these GPUs'))
        return None
    if chosen == ceiling:
        notes.append('cuda_toolkit_versions is empty: CUDA %s, the newest driver %s runs natively'
                     % (chosen, driver_version))
    else:
        notes.append('cuda_toolkit_versions is empty: CUDA %s, the newest that driver %s runs and that compiles '
                     'for %s (CUDA %s, the driver\'s newest, does not)'
                     % (chosen, driver_version, ', '.join(_gpu_label(n, c) for n, c in gpus), ceiling))
    return [chosen]


def _versions(source, versions, row, platform, driver_version, gpus, errors, notes):
    """Which versions, oldest first: the distro's one, the list asked for, or one chosen for the driver (None after an error)."""
    if source == 'distro':
        versions = _distro_versions(row, versions, platform, errors)
    elif not versions:
        versions = _versions_for_driver(driver_version, gpus, errors, notes)
    return None if versions is None else sorted(versions, key=version_key)


def _default(versions, default_version, errors):
    """The default toolkit: the one asked for, which must be among the versions, else the newest (None after an error)."""
    default = default_version or versions[-1]
    if default not in versions:
        errors.append('cuda_toolkit_default_version: %s is not in cuda_toolkit_versions (%s)'
                      % (default, ', '.join(versions)))
        return None
    return default


def _compile_problems(versions, gpus, build_only):
    """The refusal of each version that cannot compile for a GPU of the host, in the versions' order."""
    # Every toolkit must compile for every GPU of the host (unless it is asked for building only).
    if build_only:
        return []
    return [problem for problem in (compile_problem(version, gpus) for version in versions) if problem]


def _driver_check(gpu, versions, driver_version, usable, build_only, errors, notes):
    """Driver check, or build-only: the plan's entries it changes (build_only without a driver, run_on_gpu with one)."""
    if build_only:
        notes.append('cuda_toolkit_build_only is true: the toolkit is installed for building only; '
                     'no driver check, no GPU run')
        return {}
    if driver_version is None:
        notes.append('no NVIDIA driver on this host (gpu_facts status: %s): the toolkit is installed for building '
                     'only; no driver check, no GPU run' % ((gpu or {}).get('status') or 'unknown'))
        return {'build_only': True}
    for version in versions:
        problem = _driver_problem(driver_version, version)
        if problem:
            errors.append(problem)
    if not usable:
        notes.append('gpu_facts status %s: the test program is compiled, not run'
                     % ((gpu or {}).get('status') or 'unknown'))
    return {'run_on_gpu': usable}


def _distro_layout(row, version, cudnn, nccl, platform, errors, notes):
    """The distro source's packages (cuDNN and NCCL where its archive has them) and its fixed layout, as plan entries."""
    if cudnn and not row['cudnn']:
        errors.append('cuda_toolkit_cudnn: %s\'s archive offers no cuDNN package' % platform)
    if nccl and not row['nccl']:
        errors.append('cuda_toolkit_nccl: %s\'s archive offers no NCCL package (libnccl2); '
                      'use cuda_toolkit_source: nvidia' % platform)
    packages = list(row['packages'])
    if cudnn and row['cudnn']:
        packages += row['cudnn']
        notes.append('%s downloads cuDNN from NVIDIA when it is installed' % row['cudnn'][0])
    if nccl and row['nccl']:
        packages += row['nccl']
    return {
        'toolkits': [{'version': version, 'home': DISTRO_HOME, 'nvcc': DISTRO_BIN + '/nvcc',
                      'bin_dir': DISTRO_BIN, 'library_dir': None, 'ccbin': None,
                      'install': True, 'packages': list(row['packages'])}],
        'packages': packages,
        'path_dirs': [DISTRO_BIN],
        'cuda_home': DISTRO_CUDA_HOME,
    }


def _nvidia_toolkits(versions, installed, distribution, major_version, errors, notes):
    """(toolkits, packages): one /usr/local/cuda-X.Y per version, left as it is when installed, with its host compiler."""
    packages = []
    toolkits = []
    for version in versions:
        home = NVIDIA_HOME_TEMPLATE.format(version=version)
        present = installed.get(version) == home
        compiler = host_compiler(version, distribution, major_version)
        if compiler['error']:
            errors.append('cuda_toolkit_versions: ' + compiler['error'])
        toolkit_packages = [] if present else nvidia_toolkit_packages(version)
        if present:
            notes.append('CUDA %s is already installed in %s: left as it is' % (version, home))
        toolkits.append({'version': version, 'home': home, 'nvcc': home + '/bin/nvcc', 'bin_dir': home + '/bin',
                         'library_dir': home + '/lib64', 'ccbin': compiler['ccbin'], 'install': not present,
                         'packages': toolkit_packages, 'priority': alternatives_priority(version)})
        for name in toolkit_packages + compiler['packages']:
            if name not in packages:
                packages.append(name)
    return toolkits, packages


def _nvidia_library_packages(versions, default, cudnn, nccl, distribution, major_version, platform, errors):
    """The NVIDIA repository's cuDNN 9 for each CUDA major (where it has them) and NCCL for the default's major."""
    packages = []
    if cudnn and _platform_key(distribution, major_version) in NVIDIA_REPO_WITHOUT_CUDNN:
        errors.append('cuda_toolkit_cudnn: NVIDIA\'s %s repository has no cuDNN 9 (libcudnn9-cuda-*); install cuDNN '
                      'from pip (nvidia-cudnn-cu12 / -cu13) or the tarball, or set cuda_toolkit_cudnn: false'
                      % platform)
    elif cudnn:
        packages += nvidia_cudnn_packages(versions)
    if nccl:
        packages += nvidia_nccl_packages(default)
    return packages


def _nvidia_layout(toolkits, packages, default, cudnn, nccl, cuda_link):
    """The NVIDIA source's plan entries: the repository, /usr/local/cuda to the default's tree, PATH, libraries, -ccbin."""
    default_home = NVIDIA_HOME_TEMPLATE.format(version=default)
    default_toolkit = [t for t in toolkits if t['version'] == default][0]
    return {
        'toolkits': toolkits,
        'packages': packages,
        'needs_repo': any(t['install'] for t in toolkits) or bool(cudnn) or bool(nccl),
        'link_target': default_home,
        'manage_link': cuda_link != default_home,
        'path_dirs': [CUDA_LINK + '/bin'],
        'library_dirs': [CUDA_LINK + '/lib64'],
        'cuda_home': CUDA_LINK,
        'nvcc_prepend_flags': '-ccbin ' + default_toolkit['ccbin'] if default_toolkit['ccbin'] else '',
    }


def plan(gpu, source='distro', versions=None, default_version='', build_only=False, cudnn=False, nccl=False,
         distribution='', major_version='', installed=None, cuda_link=None):
    """Everything the role applies, decided in one place.

    gpu: ansible_facts['dlstack_gpu']; installed: {'13.0': '/usr/local/cuda-13.0', ...} toolkits found
    on the host (nvcc --version of /usr/local/cuda-*/bin/nvcc); cuda_link: where /usr/local/cuda points
    now (None when it does not exist). Returns a dict; `errors` non-empty means: change nothing.
    """
    errors = []
    notes = []
    versions = list(versions or [])
    installed = dict(installed or {})
    platform = platform_name(distribution, major_version)
    driver_version, usable = _gpu_state(gpu)
    gpus = host_gpus(gpu)
    out = _empty_plan(source, platform, errors, notes, driver_version, build_only)

    _check_input(source, versions, default_version, errors)
    if errors:
        return out
    row = distro_toolkit(distribution, major_version) if source == 'distro' else None
    versions = _versions(source, versions, row, platform, driver_version, gpus, errors, notes)
    if errors:
        return out
    default = _default(versions, default_version, errors)
    if errors:
        return out
    out['versions'] = versions
    out['default'] = default
    out['gpus'] = [{'name': n, 'compute_capability': c} for n, c in gpus]

    errors.extend(_compile_problems(versions, gpus, build_only))
    out.update(_driver_check(gpu, versions, driver_version, usable, build_only, errors, notes))
    if source == 'distro':
        out.update(_distro_layout(row, versions[0], cudnn, nccl, platform, errors, notes))
        return out
    toolkits, packages = _nvidia_toolkits(versions, installed, distribution, major_version, errors, notes)
    packages += _nvidia_library_packages(versions, default, cudnn, nccl, distribution, major_version, platform, errors)
    out.update(_nvidia_layout(toolkits, packages, default, cudnn, nccl, cuda_link))
    return out


def alternatives_priority(version):
    """update-alternatives priority of /usr/local/cuda-X.Y: '12.8' -> 1208 (newer wins in auto mode)."""
    major, minor = version_key(version)[:2]
    return major * 100 + minor

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. It is imported by the filter plugin labops.dlstack.pytorch_env (controller) and by the
# module labops.dlstack.pytorch_env_info (managed host): pure Python >= 3.9, stdlib only.

"""Decisions of the pytorch_env role: which torch wheels, where, and is the result right.

GPU, driver and torch-variant knowledge is NOT repeated here: it comes from _gpu_knowledge (the
tables of the gpu_facts probe). This file adds what only the PyTorch environment needs:

- the torchvision / torchaudio release matched to each torch release (DOMAIN_LIBRARIES, sourced);
- the plan: for every user and environment, the variant (auto = the probe's recommendation),
  the requirement strings, the shared root-owned layer the environment stacks on, and the errors
  that must stop the play before anything changes (plan_environments);
- the NumPy release range matched to each torch release and Python (numpy_requirement, sourced);
- what torch.cuda.is_available() must answer on this host (cuda_expectation);
- the verdict on what the check run inside each environment answered (the check itself is
  _pytorch_env_check, also installed as each environment's dlstack-check), naming the layer at
  fault: driver, variant, architecture, device access, install (diagnose).

Design of the shared download (also in roles/pytorch_env/meta/argument_specs.yml): root
installs each distinct wheel set ONCE per host into a root-owned "layer" (a uv venv under
/opt/labops-dlstack/pytorch/layers/<key>, uv cache root-owned); each user's environment is a small
venv that the USER creates and owns, with one .pth line that appends the layer's site-packages to
sys.path. Users install and remove their own packages (pip from the layer, installing into their
own venv, shadowing the layer), nobody but root can write the layer, and root never executes or
writes anything inside a user-owned environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from urllib.parse import unquote

try:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version
    HAS_PACKAGING = True
except ImportError:  # pragma: no cover - ansible-core always brings it on the controller
    HAS_PACKAGING = False

from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as gk
# built_variant and split_local_version live in the check that runs inside the environments (one
# definition for the role and for the user's dlstack-check); re-exported here for the role.
from ansible_collections.labops.dlstack.plugins.module_utils._pytorch_env_check import (  # noqa: F401  pylint: disable=unused-import
    CHECKS, EXPECT_NAME, built_variant, split_local_version,
)

# --------------------------------------------------------------------------------------------------
# torchvision / torchaudio matched to torch
# --------------------------------------------------------------------------------------------------

SRC_PREVIOUS = 'pytorch.org/get-started/previous-versions (install lines torch/torchvision/torchaudio)'
SRC_EXECUTORCH_210 = 'pytorch/executorch#16719 (torch 2.10.0 + torchaudio 2.10.0, torchvision 0.25.0)'
SRC_EXECUTORCH_211 = 'pytorch/executorch#18107 (torch 2.11.0 + torchaudio 2.11.0, torchvision 0.26.0)'
SRC_EXECUTORCH_213 = ('pytorch/executorch#20830 (torch 2.12.0 -> torchvision 0.27.0, 2.13.0 -> 0.28.0; '
                      '"torchaudio remains on 2.11.0 ... pytorch/audio does not currently publish a 2.13.0")')
SRC_AUDIO_211 = 'pytorch/audio#4212 ("torchaudio 2.11 supports torch>=2.11")'
# Read from the wheels' METADATA on PyPI (pypi.org simple API, 2026-12-01; `make knowledge-check` reads
# them again): torchvision 0.27.1 "Requires-Dist: torch (==2.12.1)", 0.29.0 "torch (==2.14.0)", 0.29.1
# "torch (>=2.14.0)" (uploaded 2026-09-30 with torch 2.14.1), 0.29.2 "torch (>=2.14.0)" (py3-none wheels,
# uploaded 2026-10-28 with torch 2.15.0, no newer torchvision); torchaudio 2.11.0 declares no torch
# requirement and stays the newest until 2.11.1 ("torch>=2.11", py3-none, uploaded 2026-10-28 with 2.15.0).
SRC_PYPI_METADATA = 'PyPI wheel METADATA (Requires-Dist) and upload dates, 2026-12-01'

# torch release -> (torchvision, torchaudio, source). None = no release known to match: asking for
# that library fails in preflight rather than guessing. Keyed by the full torch version.
DOMAIN_LIBRARIES = {
    '2.4.0': ('0.19.0', '2.4.0', SRC_PREVIOUS),
    '2.4.1': ('0.19.1', '2.4.1', SRC_PREVIOUS),
    '2.5.0': ('0.20.0', '2.5.0', SRC_PREVIOUS),
    '2.5.1': ('0.20.1', '2.5.1', SRC_PREVIOUS + '; mostly-ai/mostlyai-engine#70'),
    '2.6.0': ('0.21.0', '2.6.0', SRC_PREVIOUS + '; pytorch/pytorch#157476; pytorch/vision#8971'),
    '2.7.0': ('0.22.0', '2.7.0', 'pytorch/executorch#10428 (torch 2.7, torchaudio 2.7, torchvision 0.22)'),
    '2.7.1': ('0.22.1', '2.7.1', SRC_PREVIOUS),
    '2.8.0': ('0.23.0', '2.8.0', SRC_PREVIOUS),
    '2.9.0': ('0.24.0', '2.9.0', SRC_PREVIOUS),
    '2.9.1': ('0.24.1', '2.9.1', SRC_PREVIOUS),
    '2.10.0': ('0.25.0', '2.10.0', SRC_EXECUTORCH_210),
    '2.11.0': ('0.26.0', '2.11.0', SRC_EXECUTORCH_211 + '; ModelTC/LightX2V#1337'),
    '2.12.0': ('0.27.0', '2.11.0', SRC_EXECUTORCH_213 + '; ' + SRC_AUDIO_211),
    '2.12.1': ('0.27.1', '2.11.0', SRC_PYPI_METADATA + ': torchvision 0.27.1 requires torch ==2.12.1; ' + SRC_AUDIO_211),
    '2.13.0': ('0.28.0', '2.11.0', SRC_EXECUTORCH_213 + '; ' + SRC_AUDIO_211),
    '2.14.0': ('0.29.0', '2.11.0', SRC_PYPI_METADATA + ': torchvision 0.29.0 requires torch ==2.14.0; ' + SRC_AUDIO_211),
    '2.14.1': ('0.29.1', '2.11.0', SRC_PYPI_METADATA + ': torchvision 0.29.1 (torch >=2.14.0) released with 2.14.1; '
               + SRC_AUDIO_211),
    '2.15.0': ('0.29.2', '2.11.1', SRC_PYPI_METADATA + ': torchvision 0.29.2 (torch >=2.14.0) and torchaudio 2.11.1 '
               '(torch >=2.11) released with 2.15.0'),
}

# --------------------------------------------------------------------------------------------------
# NumPy matched to torch
# --------------------------------------------------------------------------------------------------

# PyTorch's Linux wheels are compiled against NumPy 2.x since torch 2.3 (pytorch/builder#1746 "Update
# wheel build numpy to 2.0"; pytorch/pytorch#107302: "Validated pytorch 2.3.0 ... works for
# numpy==2.0.0rc1 and numpy==1.26.4"); today's wheel build pins NumPy 2.1.0 for cp310-cp313 and 2.3.4
# for cp314 (pytorch/pytorch:.ci/manywheel/build_install_deps.py@002f123d, NUMPY_PINS). A binary built
# against NumPy 2 runs with NumPy 1.x and 2.x ("We should build against NP2, as it produces binary
# which is backward compatible with NP1", pytorch/pytorch#148908). NumPy's ABI is forward compatible
# only until a major release, which "will most likely indicate an ABI break"
# (numpy.org/doc/2.4/dev/depending_on_numpy.html): hence <3. Older torch (< 2.3) was built against
# NumPy 1.x and cannot run with NumPy 2 ("A module that was compiled using NumPy 1.x cannot be run in
# NumPy 2.0", pytorch/pytorch#131668): <2.
NUMPY_ABI2_SINCE_TORCH = '2.3'
# Sources of the NumPy rules: pytorch/builder#1746; pytorch/pytorch#107302; pytorch/pytorch#148908;
# pytorch/pytorch:.ci/manywheel/build_install_deps.py@002f123d; pytorch/pytorch:.ci/docker/requirements-ci.txt@00062d37.
# The lowest NumPy per Python that torch's own CI tests with (pytorch/pytorch:
# .ci/docker/requirements-ci.txt@00062d37: numpy==1.23.2 on 3.10, 1.26.2 on 3.11 and 3.12, 2.1.2 on
# 3.13, 2.3.4 on 3.14 and later). Python 3.9 (torch <= 2.8) has no row there: it takes 3.10's, whose
# NumPy (1.23.2) has cp39 wheels.
NUMPY_TESTED_FLOOR = {'3.10': '1.23.2', '3.11': '1.26.2', '3.12': '1.26.2', '3.13': '2.1.2', '3.14': '2.3.4'}


# The .pth line that layers an environment on its shared torch (roles/pytorch_env/vars/main.yml passes it as pth_name).
PTH_NAME = 'labops-dlstack-pytorch.pth'


def numpy_requirement(torch_version, python):
    """The NumPy requirement of a torch release on a Python: ('2.13.0', '3.11') -> 'numpy>=1.26.2,<3'."""
    release = gk.normalize_torch_version(split_local_version(torch_version)[0])
    upper = '<3' if gk.parse_version(release) >= gk.parse_version(NUMPY_ABI2_SINCE_TORCH) else '<2'
    minor = _python_minor(python)
    known = sorted(NUMPY_TESTED_FLOOR, key=_python_minor)
    if minor is None or minor < _python_minor(known[0]):
        floor = NUMPY_TESTED_FLOOR[known[0]]
    else:
        floor = NUMPY_TESTED_FLOOR[[k for k in known if _python_minor(k) <= minor][-1]]
    if upper == '<2' and gk.parse_version(floor) >= (2,):
        return 'numpy<2'
    return 'numpy>=%s,%s' % (floor, upper)


BACKENDS = ('venv', 'conda')

_FULL_VERSION_RE = re.compile(r'^(\d+)\.(\d+)\.(\d+)$')
_PYTHON_RE = re.compile(r'^3\.(\d+)$')
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_USER_RE = re.compile(r'^[a-z_][a-z0-9_.-]*[$]?$')


def known_variants(torch_version):
    """Wheel variants published for a torch release ('2.13.0' -> ['cpu', 'cu126', 'cu130', 'cu132'])."""
    release = gk.TORCH_RELEASES[gk.normalize_torch_version(torch_version)]
    return ['cpu'] + sorted(release['variants'], key=gk.parse_version)


def domain_libraries(torch_version):
    """('0.28.0', '2.11.0', source) for torch '2.13.0'; None when the table does not know it."""
    return DOMAIN_LIBRARIES.get(split_local_version(torch_version)[0])


# --------------------------------------------------------------------------------------------------
# GPU facts -> what this host can run
# --------------------------------------------------------------------------------------------------

# status of gpu_facts -> the layer that stops CUDA, and what to do about it
_STATUS_LAYER = {
    'no_gpu': ('device access', 'no NVIDIA GPU is visible on this host'),
    'driver_not_installed': ('driver', 'the NVIDIA driver is not installed (labops.dlstack.nvidia_driver)'),
    'driver_not_loaded': ('driver', 'the NVIDIA kernel module is not loaded (reboot, Secure Boot key, DKMS build)'),
    'nouveau_bound': ('driver', 'nouveau holds the GPU; blacklist it and reboot'),
    'driver_library_mismatch': ('driver', 'driver library and kernel module differ; reboot or reload the module'),
    'gpu_unsupported_by_driver': ('driver', 'the installed driver does not support this GPU'),
    'no_device_access': ('device access', 'the GPU device files (/dev/nvidia*) are not accessible'),
}


def gpu_summary(gpu_facts):
    """The parts of ansible_facts['dlstack_gpu'] the role decides on."""
    facts = gpu_facts or {}
    status = facts.get('status') or 'no_gpu'
    gpus = facts.get('gpus') or []
    ccs = []
    names = []
    for gpu in gpus:
        cc = gk.normalize_compute_capability(gpu.get('compute_capability'))
        if cc is None:
            cc = gk.compute_capability_from_pci_device_id(gpu.get('pci_device_id'))
        if cc and cc not in ccs:
            ccs.append(cc)
        if gpu.get('name'):
            names.append(gpu['name'])
    driver = facts.get('driver') or {}
    torch_facts = facts.get('torch') or {}
    return {
        'machine': gk.normalize_machine(torch_facts.get('machine')) or 'x86_64',
        'status': status,
        'usable': status == 'ok',
        'message': facts.get('message') or '',
        'compute_capabilities': ccs,
        'gpu_names': names,
        'driver_version': gk.version_string(driver.get('version')) if driver.get('version') else None,
        'in_container': bool(facts.get('in_container')),
        'torch': facts.get('torch') or {},
    }


def auto_variant(gpu_facts, torch_version):
    """Variant 'auto': the probe's recommendation for this torch release.

    gpu_facts' torch.recommended_variant is used as is when the probe was asked about the same torch
    release; otherwise the same knowledge function the probe uses (torch_recommendation) answers.
    """
    summary = gpu_summary(gpu_facts)
    release = gk.normalize_torch_version(torch_version)
    torch_facts = summary['torch']
    if torch_facts.get('recommended_variant') and torch_facts.get('torch_version'):
        try:
            if gk.normalize_torch_version(torch_facts['torch_version']) == release:
                return torch_facts['recommended_variant']
        except ValueError:
            pass
    rec = gk.torch_recommendation(release, summary['compute_capabilities'], summary['driver_version'],
                                  usable=summary['usable'], machine=summary['machine'])
    return rec['recommended_variant']


def variant_problems(gpu_facts, torch_version, variant):
    """Why an explicit variant cannot work on this host ([] = it can, or nothing says it cannot).

    Checked: the GPUs' architectures against the variant's compiled list (sm_XY / PTX rule), and the
    installed driver against the variant's CUDA (minor-version compatibility). 'cpu' always works.
    A host without GPU or without driver cannot rule a CUDA variant out: it installs, and
    torch.cuda.is_available() is then expected False.
    """
    if variant == 'cpu':
        return []
    summary = gpu_summary(gpu_facts)
    release = gk.normalize_torch_version(torch_version)
    problems = []
    ccs = summary['compute_capabilities']
    if ccs:
        machine = summary['machine']
        fitting = [c['variant'] for c in gk.torch_candidates(release, ccs, machine)]
        if variant not in fitting:
            archs, ptx = gk.variant_archs(gk.TORCH_RELEASES[release]['variants'][variant], machine)
            problems.append(
                'architecture: torch %s %s wheels%s carry %s%s; the GPU(s) here have compute capability %s '
                '(variants that fit: %s)' % (
                    release, variant, ' for %s' % machine if machine != 'x86_64' else '',
                    ', '.join('sm_' + a.replace('.', '') for a in archs) if archs is not None else 'nothing (none known)',
                    ' + PTX compute_' + ptx.replace('.', '') if ptx else '',
                    ', '.join(ccs), ', '.join(fitting) or 'none, use cpu'))
    driver = summary['driver_version']
    if driver and not gk.driver_supports_cuda(driver, gk.variant_cuda_version(variant)):
        cuda = gk.variant_cuda_version(variant)
        problems.append('driver: %s needs CUDA %s, which needs driver %s or newer; this host has %s' % (
            variant, cuda, gk.cuda_min_driver(cuda), driver))
    return problems


def cuda_expectation(gpu_facts, torch_version, variant):
    """What torch.cuda.is_available() must answer: {'available': bool, 'layer', 'reason'}."""
    summary = gpu_summary(gpu_facts)
    if not summary['usable']:
        layer, reason = _STATUS_LAYER.get(summary['status'], ('driver', 'gpu_facts status %s' % summary['status']))
        reason = 'gpu_facts status %s: %s' % (summary['status'], reason)
        if summary['status'] == 'no_gpu' and summary['in_container']:
            reason += ' (a container without GPU devices passed through)'
        if variant == 'cpu':
            reason += '; and the cpu variant is built without CUDA'
        return {'available': False, 'layer': layer, 'reason': reason}
    if variant == 'cpu':
        return {'available': False, 'layer': 'variant',
                'reason': 'the cpu variant is built without CUDA (the GPU is usable: use variant auto or a CUDA variant)'}
    problems = variant_problems(gpu_facts, torch_version, variant)
    if problems:
        layer = problems[0].split(':', 1)[0]
        return {'available': False, 'layer': layer, 'reason': '; '.join(problems)}
    return {'available': True, 'layer': None,
            'reason': '%s runs on %s with driver %s' % (variant, ', '.join(summary['gpu_names']) or 'the GPU',
                                                        summary['driver_version'])}


# --------------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------------

def requirements(torch_version, variant, torchvision=False, torchaudio=False, numpy=None):
    """Requirement strings of the shared layer: exact versions with the variant's local tag.

    ('2.13.0', 'cpu', torchvision=True) -> ['torch==2.13.0+cpu', 'torchvision==0.28.0+cpu'];
    numpy: the NumPy requirement to add (numpy_requirement), None = none.
    """
    base = split_local_version(torch_version)[0]
    out = ['torch==%s+%s' % (base, variant)]
    libs = domain_libraries(base)
    if torchvision:
        out.append('torchvision==%s+%s' % (libs[0], variant))
    if torchaudio:
        out.append('torchaudio==%s+%s' % (libs[1], variant))
    if numpy:
        out.append(numpy)
    return out


def index_url(variant, template):
    """The PyTorch index of a variant; '' when the template is empty (wheelhouse / find-links only)."""
    if not template:
        return ''
    return gk.torch_wheel_index(variant, template)


def layer_key(python, reqs, sources):
    """Directory name of a shared layer: readable prefix + hash of everything that shapes it."""
    blob = json.dumps({'python': python, 'requirements': reqs, 'sources': sources}, sort_keys=True)
    digest = hashlib.sha256(blob.encode('utf-8')).hexdigest()[:10]
    torch_req = reqs[0].split('==', 1)[1]
    return 'py%s-torch%s-%s' % (python, torch_req.replace('+', '-'), digest)


def uv_install_argv(uv, layer_dir, cache_dir, reqs, sources):
    """argv of the root-side `uv pip install` into a layer (link mode hardlink from the root cache).

    --compile-bytecode: uv leaves the .pyc files to the first import ("By default, uv does not compile Python
    (.py) files to bytecode ... compilation is performed lazily the first time a module is imported",
    https://docs.astral.sh/uv/reference/cli/#uv-pip-install--compile-bytecode), and in a root-owned layer a
    user's import cannot write them: every `import torch` compiled its 5885 files again (3.5 s against 2.2 s
    with bytecode, measured as alice in the bench's containers)."""
    argv = [uv, 'pip', 'install', '--python', layer_dir + '/bin/python', '--cache-dir', cache_dir,
            '--link-mode', 'hardlink', '--compile-bytecode', '--no-progress']
    if sources.get('index_url'):
        argv += ['--index-url', sources['index_url']]
    if sources.get('torch_index_url'):
        # extra indexes take priority over the default one in uv (first-index strategy): torch and the
        # wheels the PyTorch index mirrors come from there, the rest from the default index
        argv += ['--extra-index-url', sources['torch_index_url']]
    for url in sources.get('extra_index_urls') or []:
        argv += ['--extra-index-url', url]
    for link in sources.get('find_links') or []:
        argv += ['--find-links', link]
    if sources.get('offline'):
        argv.append('--offline')
    return argv + list(reqs) + ['pip']


def _python_minor(value):
    match = _PYTHON_RE.match(str(value or '').strip())
    return int(match.group(1)) if match else None


def _python_in_range(python, spec):
    """'3.11' in '3.10-3.15'."""
    low, high = spec.split('-')
    minor = _python_minor(python)
    return minor is not None and _python_minor(low) <= minor <= _python_minor(high)


def check_path(root, shared=True):
    """Where the host's one copy of the check (_pytorch_env_check) is installed; None when there is none.

    shared: whether the role runs as root (settings['shared_check']). Without root (a user setting up
    their own environment on a host where they have no sudo) nothing root-owned can be written: each
    environment then carries its own copy (private_check_path), written as its user.
    """
    return '%s/pytorch/dlstack_check.py' % root.rstrip('/') if shared else None


def private_check_path(env_path):
    """The check's copy inside one environment, for a role run without root."""
    return '%s/share/labops-dlstack/dlstack_check.py' % env_path.rstrip('/')


# A per-environment key the environment does not set comes from pytorch_env_<key>: a message about it names that
# variable too ("pytorch_env_users[alice].envs[x].variant (or pytorch_env_variant): ...").
_INHERITED_KEY_RE = re.compile(r'^(pytorch_env_users\[[^\]]*\]\.envs\[[^\]]*\]\.(variant|python|torch_version|backend)): ')


def plan_environments(users, settings, gpu_facts=None, homes=None):
    """Expand pytorch_env_users into one plan per environment, the layers to build, and the errors.

    users: pytorch_env_users; settings: the role's other variables (keys without the prefix:
    backend, python, torch_version, variant, torchvision, torchaudio, packages, jupyter_kernel,
    venv_dir, index_url_template, index_url, extra_index_urls, find_links, offline, root, cache_dir,
    system_site_packages_from, conda_prefixes, uv); gpu_facts: ansible_facts['dlstack_gpu'];
    homes: {user: home directory} from getent (a user missing there is an error); None = do not
    check the users (validation of the input before any fact is gathered).

    Returns {'envs': [...], 'layers': [...], 'errors': [...]}; errors name the variable at fault.
    """
    settings = settings or {}
    check_users = homes is not None
    errors = []
    envs = []
    layers = {}
    seen = set()
    layered_on = settings.get('system_site_packages_from') or ''
    root = (settings.get('root') or '/opt/labops-dlstack').rstrip('/')
    if not isinstance(users, list):
        return {'envs': [], 'layers': [], 'errors': ['pytorch_env_users: must be a list of {user, envs}'],
                'check_path': check_path(root, settings.get('shared_check', True)),
                'state': state_paths([], [], None), 'checks': []}
    try:
        if not _FULL_VERSION_RE.match(str(settings.get('torch_version') or '')):
            raise ValueError('%r is not a full version like 2.13.0' % (settings.get('torch_version'),))
        gk.normalize_torch_version(settings['torch_version'])
    except ValueError as exc:
        errors.append('pytorch_env_torch_version: %s' % exc)
    for u_index, item in enumerate(users):
        where = 'pytorch_env_users[%d]' % u_index
        if not isinstance(item, dict) or not item.get('user'):
            errors.append('%s: needs a user name (user: alice)' % where)
            continue
        user = str(item['user'])
        where = 'pytorch_env_users[%s]' % user
        if not _USER_RE.match(user):
            errors.append('%s: %r is not a valid user name' % (where, user))
            continue
        if not check_users:
            home = '/home/' + user
        elif user in homes:
            home = homes[user]
        else:
            errors.append('%s: user %s does not exist on this host (create it first, e.g. with '
                          'ansible.builtin.user)' % (where, user))
        if check_users and user not in homes:
            continue
        env_items = item.get('envs')
        if env_items is None:
            env_items = [{'name': 'pytorch'}]
        if not isinstance(env_items, list) or not env_items:
            errors.append('%s.envs: must be a non-empty list of environments' % where)
            continue
        for e_index, env in enumerate(env_items):
            plan, problems = _plan_one(user, home, env, e_index, settings, gpu_facts, layered_on, root)
            errors.extend(problems)
            if plan is None:
                continue
            key = (user, plan['path'])
            if key in seen:
                errors.append('%s.envs[%s]: path %s is used twice' % (where, plan['name'], plan['path']))
                continue
            seen.add(key)
            envs.append(plan)
            if plan['layer'] and plan['layer']['dir'] not in layers:
                layers[plan['layer']['dir']] = plan['layer']
    shared = check_path(root, settings.get('shared_check', True))
    errors = [_INHERITED_KEY_RE.sub(r'\1 (or pytorch_env_\2): ', e, count=1) for e in errors]
    return {'envs': envs, 'layers': [layers[k] for k in sorted(layers)], 'errors': errors, 'check_path': shared,
            'state': state_paths(envs, [layers[k] for k in sorted(layers)], shared, settings.get('pth_name') or PTH_NAME),
            'checks': checks(envs)}


def checks(envs):
    """What pytorch_env_info's envs option takes, in the order of the plan's envs: user and interpreter of each."""
    return [{'user': env['user'], 'python': env['env_python'], 'name': env['name']} for env in envs]


def state_paths(envs, layers, shared_check, pth_name=None):
    """What the role's fast path (module labops.dlstack.converged) compares with its last converge: each layer's
    whole tree (a removed file rebuilds the layer), the files the role writes into each environment and the
    shared check (content, mode, owner), and each environment's interpreter (an environment deleted by hand)."""
    pth_name = pth_name or PTH_NAME
    files = [shared_check] if shared_check else []
    for env in envs:
        files.append('%s/%s' % (env['env_site_packages'], pth_name))
        files.append(env['check_command'])
        files.append(env['check_expect_path'])
        if env.get('check_private'):
            files.append(env['check_path'])
        if env.get('jupyter_kernel'):
            files.append('%s/.local/share/jupyter/kernels/%s/kernel.json' % (env['home'], env['kernel_name']))
    return {'files': files, 'trees': [layer['dir'] for layer in layers],
            'exists': [env['env_python'] for env in envs]}


def _env_name(user, env, e_index):
    """(name, where, problem): the env's name and the prefix of its messages, or what is wrong with the env itself."""
    where = 'pytorch_env_users[%s].envs[%d]' % (user, e_index)
    if not isinstance(env, dict):
        return None, where, '%s: must be a dict with at least a name' % where
    name = str(env.get('name') or '')
    if not _NAME_RE.match(name):
        return name, where, '%s.name: %r must be letters, digits, ".", "_" or "-"' % (where, name)
    return name, 'pytorch_env_users[%s].envs[%s]' % (user, name), None


def _env_settings(env, settings):
    """The env's settings, each from the env or else from the role's defaults; ipykernel added for a Jupyter kernel."""
    def pick(key):
        value = env.get(key)
        return settings.get(key) if value is None or value == '' else value

    packages = list(settings.get('packages') or []) + list(env.get('packages') or [])
    kernel = bool(pick('jupyter_kernel'))
    if kernel and 'ipykernel' not in [re.split(r'[<>=!~\[ ;]', p)[0].lower() for p in packages]:
        packages.append('ipykernel')
    return {
        'backend': pick('backend') or 'venv',
        'python': str(pick('python') or settings.get('default_python') or ''),
        'torch_version': str(pick('torch_version') or ''),
        'variant': str(pick('variant') or 'auto').lower(),
        'torchvision': bool(pick('torchvision')),
        'torchaudio': bool(pick('torchaudio')),
        'numpy': True if pick('numpy') is None else bool(pick('numpy')),
        'packages': packages,
        'jupyter_kernel': kernel,
    }


def _check_backend_and_python(where, backend, python, problems):
    """Appends to problems a backend that is not one of BACKENDS and a python that is not a version like 3.11."""
    if backend not in BACKENDS:
        problems.append('%s.backend: %r is not one of %s' % (where, backend, ', '.join(BACKENDS)))
    if _python_minor(python) is None:
        problems.append('%s.python (or pytorch_env_python): %r is not a Python version like 3.11' % (where, python))


def _torch_release(where, torch_version, problems):
    """(base, release) of the torch version asked for, which must be a full version without a +local part."""
    base, local = split_local_version(torch_version)
    release = None
    if not _FULL_VERSION_RE.match(base):
        problems.append('%s.torch_version (or pytorch_env_torch_version): %r is not a full version like 2.13.0'
                        % (where, torch_version))
    else:
        try:
            release = gk.normalize_torch_version(base)
        except ValueError as exc:
            problems.append('%s.torch_version: %s' % (where, exc))
    if local:
        problems.append('%s.torch_version: give the variant in variant, not as +%s' % (where, local))
    return base, release


def _check_python_for_torch(where, python, release, settings, problems):
    """Appends to problems a python that torch `release` has no wheels for on the machine."""
    machine = gk.normalize_machine(settings.get('machine')) or 'x86_64'
    if release and python and _python_minor(python) is not None \
            and not _python_in_range(python, gk.torch_python_range(release, machine)):
        problems.append('%s.python: torch %s has wheels for Python %s, not %s'
                        % (where, release, gk.torch_python_range(release, machine), python))


def _variant(where, variant_asked, release, gpu_facts, problems):
    """(variant, variant_source): the one asked for, if torch `release` has it and it can work here, or the GPUs' one for auto."""
    variant = None
    variant_source = 'explicit'
    if release:
        allowed = known_variants(release)
        if variant_asked == 'auto':
            variant = auto_variant(gpu_facts, release)
            variant_source = 'auto'
        elif variant_asked not in allowed:
            problems.append('%s.variant (or pytorch_env_variant): %r is not a torch %s variant; known: auto, %s'
                            % (where, variant_asked, release, ', '.join(allowed)))
        else:
            variant = variant_asked
            for why in variant_problems(gpu_facts, release, variant):
                problems.append('%s.variant: %s cannot work on this host: %s' % (where, variant, why))
    return variant, variant_source


def _check_domain_libraries(where, base, release, picked, problems):
    """Appends to problems torchvision/torchaudio asked for with a torch that no release of them is known to match."""
    if release and (picked['torchvision'] or picked['torchaudio']) and domain_libraries(base) is None:
        problems.append('%s: no torchvision/torchaudio release is known to match torch %s (known: %s); '
                        'set torchvision/torchaudio false and list exact versions in packages'
                        % (where, base, ', '.join(sorted(DOMAIN_LIBRARIES, key=gk.parse_version))))


def _conda_prefix(where, backend, user, settings, problems):
    """The user's conda prefix for the conda backend (None for venv); its absence is a problem."""
    conda_prefix = None
    if backend == 'conda':
        conda_prefix = (settings.get('conda_prefixes') or {}).get(user)
        if not conda_prefix:
            problems.append('%s.backend: conda, but no conda prefix is known for %s (pytorch_env_conda_prefixes, '
                            'or run labops.dlstack.conda first)' % (where, user))
    return conda_prefix


def _env_paths(env, name, home, backend, python, conda_prefix, settings):
    """The plan's interpreter, path (the env's, else under the conda prefix or venv_dir), its python and site-packages, creation."""
    path = env.get('path')
    if not path:
        if backend == 'conda':
            path = '%s/envs/%s' % (conda_prefix.rstrip('/'), name)
        else:
            path = '%s/%s/%s' % (home.rstrip('/'), (settings.get('venv_dir') or '.venvs').strip('/'), name)
    interpreter = env.get('interpreter') or ('/usr/bin/python%s' % python)
    if backend == 'conda':
        create_argv = [conda_prefix.rstrip('/') + '/bin/conda', 'create', '--yes', '--quiet', '--prefix', path,
                       'python=%s' % python]
    else:
        create_argv = [interpreter, '-m', 'venv', '--without-pip', '--prompt', name, path]
    return {
        'interpreter': interpreter, 'path': path,
        'env_python': path + '/bin/python',
        'env_site_packages': '%s/lib/python%s/site-packages' % (path, python),
        'create_argv': create_argv,
    }


def _sources(variant, settings):
    """Where uv looks for the wheels: the role's index, the variant's torch index, extra indexes, find-links, offline."""
    return {
        'index_url': settings.get('index_url') or '',
        'torch_index_url': index_url(variant, settings.get('index_url_template')),
        'extra_index_urls': list(settings.get('extra_index_urls') or []),
        'find_links': list(settings.get('find_links') or []),
        'offline': bool(settings.get('offline')),
    }


def _layer(layered_on, python, reqs, sources, root, settings):
    """The plan's layer entries: the shared layer uv installs the wheels into, or none when layered on other site-packages."""
    layer = None
    if layered_on:
        site = layered_on.rstrip('/')
    else:
        key = layer_key(python, reqs, sources)
        layer_dir = '%s/pytorch/layers/%s' % (root, key)
        site = '%s/lib/python%s/site-packages' % (layer_dir, python)
        layer = {
            'key': key, 'dir': layer_dir, 'python': python, 'interpreter': '/usr/bin/python%s' % python,
            'site_packages': site, 'requirements': reqs, 'sources': sources,
            'install_argv': uv_install_argv(settings.get('uv') or '%s/tools/bin/uv' % root, layer_dir,
                                            settings.get('cache_dir') or '/var/cache/labops-dlstack/uv',
                                            reqs, sources),
        }
    return {'layer_site_packages': site, 'layered_on': layered_on or None, 'layer': layer}


def _install_entries(name, picked, base, variant, variant_source, reqs, gpu_facts):
    """The plan's entries for what is installed (torch and its variant, packages, kernel, numpy) and what CUDA to expect."""
    return {
        'torch_version': base, 'torch_release': gk.normalize_torch_version(base),
        'variant': variant, 'variant_source': variant_source,
        'expected_version': '%s+%s' % (base, variant),
        'requirements': reqs, 'packages': picked['packages'],
        'jupyter_kernel': picked['jupyter_kernel'],
        'kernel_name': 'pytorch-%s' % name,
        'kernel_display_name': 'PyTorch %s (%s, %s)' % (base, variant, name),
        'expect': cuda_expectation(gpu_facts, base, variant),
        'numpy': picked['numpy'],
        'recommended_variant': auto_variant(gpu_facts, base),
    }


def _check_files(path, root, settings):
    """The plan's check entries: the check's copy (the host's shared one, else the environment's own) and its files."""
    return {
        'check_path': check_path(root, settings.get('shared_check', True)) or private_check_path(path),
        'check_private': not settings.get('shared_check', True),
        'check_command': path + '/bin/dlstack-check',
        'check_expect_path': '%s/%s' % (path, EXPECT_NAME),
    }


def _plan_one(user, home, env, e_index, settings, gpu_facts, layered_on, root):
    """(plan, []) for one environment of a user, or (None, problems)."""
    name, where, problem = _env_name(user, env, e_index)
    if problem:
        return None, [problem]
    picked = _env_settings(env, settings)
    backend, python = picked['backend'], picked['python']
    problems = []
    _check_backend_and_python(where, backend, python, problems)
    base, release = _torch_release(where, picked['torch_version'], problems)
    _check_python_for_torch(where, python, release, settings, problems)
    variant, variant_source = _variant(where, picked['variant'], release, gpu_facts, problems)
    _check_domain_libraries(where, base, release, picked, problems)
    conda_prefix = _conda_prefix(where, backend, user, settings, problems)
    if problems:
        return None, problems

    plan = {'user': user, 'home': home, 'name': name, 'backend': backend, 'python': python}
    plan.update(_env_paths(env, name, home, backend, python, conda_prefix, settings))
    reqs = requirements(base, variant, picked['torchvision'], picked['torchaudio'],
                        numpy_requirement(base, python) if picked['numpy'] else None)
    sources = _sources(variant, settings)
    plan.update(_layer(layered_on, python, reqs, sources, root, settings))
    plan.update(_install_entries(name, picked, base, variant, variant_source, reqs, gpu_facts))
    plan['torch_source'] = torch_source(sources, plan['layer_site_packages'] if layered_on else None)
    plan.update(_check_files(plan['path'], root, settings))
    plan['check_expect'] = check_expectation(plan, gpu_facts)
    return plan, []


def torch_source(sources, layered_on=None):
    """Where an environment's torch comes from, in words (the report says it next to the variant)."""
    if layered_on:
        return 'the preinstalled torch in %s' % layered_on
    links = ', '.join(sources.get('find_links') or [])
    if sources.get('offline'):
        return 'the offline find-links %s only' % (links or '(none)')
    where = [w for w in (sources.get('torch_index_url'), links and 'find-links ' + links) if w]
    return ', '.join(where) or sources.get('index_url') or 'the default index'


# --------------------------------------------------------------------------------------------------
# before building a layer: do the planned wheels exist where uv will look? (live, not a table)
# --------------------------------------------------------------------------------------------------

_WHEEL_RE = re.compile(r'^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$')
_HREF_RE = re.compile(r'<a\s[^>]*href="([^"]+)"[^>]*>([^<]*)</a>', re.I)
_URL_RE = re.compile(r'^[a-z][a-z0-9+.-]*://', re.I)


def _project(name):
    return re.sub(r'[-_.]+', '-', str(name)).lower()


def parse_wheel_filename(filename):
    """'torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl' -> {'project', 'version', 'python', 'abi',
    'platform', 'filename'}; None when it is not a wheel file name."""
    match = _WHEEL_RE.match(os.path.basename(str(filename or '')))
    if not match:
        return None
    return {'project': _project(match.group('name')), 'version': match.group('version').lower(),
            'python': match.group('py').split('.'), 'abi': match.group('abi').split('.'),
            'platform': match.group('plat').split('.'), 'filename': match.group(0)}


def simple_page_filenames(text):
    """File names listed by an index's simple page: PEP 691 JSON (files[].filename) or PEP 503 / find-links
    HTML (the anchors). Unparseable text -> []."""
    text = str(text or '')
    if text.lstrip().startswith('{'):
        try:
            data = json.loads(text)
        except ValueError:
            return []
        return [f.get('filename') for f in data.get('files') or [] if isinstance(f, dict) and f.get('filename')]
    out = []
    for href, label in _HREF_RE.findall(text):
        name = label.strip() or unquote(href.split('#', 1)[0].rstrip('/').rsplit('/', 1)[-1])
        out.append(unquote(name))
    return out


def wheel_fits(info, python, machine):
    """Does a wheel install on CPython `python` ('3.11') on Linux `machine` ('x86_64' / 'aarch64')?"""
    minor = _python_minor(python)
    if info is None or minor is None:
        return False
    tag = 'cp3%d' % minor
    py_ok = any(p in (tag, 'py3', 'py3%d' % minor) or
                (p.startswith('cp3') and 'abi3' in info['abi'] and p[3:].isdigit() and int(p[3:]) <= minor)
                for p in info['python'])
    abi_ok = any(a in (tag, 'abi3', 'none') for a in info['abi'])
    arch = gk.normalize_machine(machine) or 'x86_64'
    plat_ok = any(p == 'any' or (('linux' in p) and p.endswith('_' + arch)) for p in info['platform'])
    return py_ok and abi_ok and plat_ok


def _local_dir(link):
    """A find-links entry that is a directory on the host ('/opt/wheels', 'file:///opt/wheels'), else None."""
    text = str(link or '')
    if text.startswith('file://'):
        return text[len('file://'):] or '/'
    if _URL_RE.match(text):
        return None
    return text


def wheel_sources(layers):
    """Where uv looks for the wheels of these layers: {'dirs': [...], 'pages': [...]} to list on the host.

    dirs: find-links directories; pages: find-links pages and each index's simple page of each project
    (<index>/<project>/), in the order uv consults the indexes (extra indexes first, then the default one).
    """
    dirs, pages = [], []
    for layer in layers or []:
        src = layer.get('sources') or {}
        for link in src.get('find_links') or []:
            directory = _local_dir(link)
            target = dirs if directory is not None else pages
            value = directory if directory is not None else link
            if value not in target:
                target.append(value)
        if src.get('offline'):
            continue
        for url in _index_order(src):
            for req in layer.get('requirements') or []:
                page = '%s/%s/' % (url.rstrip('/'), _project(_split_requirement(req)[0]))
                if page not in pages:
                    pages.append(page)
    return {'dirs': dirs, 'pages': pages}


def _index_order(src):
    """uv's index priority: --extra-index-url entries (torch index first), then --index-url."""
    order = []
    for url in [src.get('torch_index_url')] + list(src.get('extra_index_urls') or []) + [src.get('index_url')]:
        if url and url not in order:
            order.append(url)
    return order


def _listings(dir_results, page_results, why=None):
    """{source: [file names] or None (did not answer)} from the registered find / uri loops.

    why: a dict that receives {source: the error text} of the sources that did not answer."""
    out = {}
    why = {} if why is None else why
    for res in dir_results or []:
        source = res.get(res.get('ansible_loop_var') or '__pytorch_env_dir')
        if source is None or res.get('skipped'):
            continue
        out[source] = None if res.get('failed') else [os.path.basename(f.get('path', '')) for f in res.get('files') or []]
        if out[source] is None:
            why[source] = str(res.get('msg') or 'failed')
    for res in page_results or []:
        source = res.get(res.get('ansible_loop_var') or '__pytorch_env_page')
        if source is None or res.get('skipped'):
            continue
        status = res.get('status')
        if status == 200:
            out[source] = simple_page_filenames(res.get('content'))
        elif status == 404:
            out[source] = []
        else:
            out[source] = None
            why[source] = str(res.get('msg') or 'HTTP status %s' % status)
    return out


_REQUIREMENT_NAME_RE = re.compile(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$')


def _split_requirement(req):
    """'torch==2.13.0+cpu' -> ('torch', '2.13.0+cpu'); 'numpy>=1.26.2,<3' -> ('numpy', '>=1.26.2,<3'); 'numpy' -> ('numpy', '')."""
    match = _REQUIREMENT_NAME_RE.match(req or '')
    if not match:
        return (req or '', '')
    name, rest = match.group(1), match.group(2).strip()
    if rest.startswith('==') and not rest.startswith('===') and ',' not in rest:
        rest = rest[2:].strip()
    return (name, rest)


def _version_matcher(version):
    """A test for wheel versions: a pin ('2.13.0+cpu') matches itself; a specifier ('>=1.26.2,<3') what it admits."""
    if not version:
        return lambda candidate: True
    if not version[0] in '<>=!~':
        return lambda candidate: candidate == version
    if not HAS_PACKAGING:  # pragma: no cover
        return lambda candidate: True
    try:
        spec = SpecifierSet(version)
    except InvalidSpecifier:
        return lambda candidate: False

    def matches(candidate):
        try:
            return Version(candidate) in spec
        except InvalidVersion:
            return False
    return matches


def _describe_available(project, version, python, machine, infos):
    matches = _version_matcher(version)
    same = sorted(set(tag for i in infos if matches(i['version']) for tag in i['python'] + i['platform']))
    # newest first; of one release the plain version before its local variants (a set has no order)
    fitting = sorted(set(i['version'] for i in infos if wheel_fits(i, python, machine)),
                     key=lambda v: (gk.parse_version(v.split('+', 1)[0]) or (), '+' not in v, v), reverse=True)
    parts = []
    if same:
        parts.append('%s %s only as %s' % (project, version, ', '.join(same)))
    else:
        parts.append('no %s %s at all' % (project, version))
    if fitting:
        parts.append('for Python %s on %s: %s %s' % (python, machine, project, ', '.join(fitting[:8])))
    else:
        parts.append('no %s wheel for Python %s on %s' % (project, python, machine))
    return '; '.join(parts)


def wheel_check(layers, dir_results=None, page_results=None, machine='x86_64'):
    """Do the planned wheels of the layers to build exist for their variant, Python and machine?

    dir_results / page_results: the registered loops of the role's preflight (ansible.builtin.find over
    wheel_sources()['dirs'], ansible.builtin.uri over its 'pages'). A requirement passes when any answering
    source has a fitting wheel; it fails only when every source uv would take it from answered and none has
    it (find-links directories and pages always count; of the indexes, the first one that lists the project
    at all, as uv's first-index strategy does); otherwise it is reported as not checked.

    Returns {'problems': [...], 'checked': [...], 'unchecked': [...]}.
    """
    machine = gk.normalize_machine(machine) or 'x86_64'
    why = {}
    listings = _listings(dir_results, page_results, why)
    problems, checked, unchecked = [], [], []
    for layer in layers or []:
        src = layer.get('sources') or {}
        python = layer.get('python')
        for req in layer.get('requirements') or []:
            name, version = _split_requirement(req)
            project, version = _project(name), version.lower()
            matches = _version_matcher(version)
            sources = []
            for link in src.get('find_links') or []:
                directory = _local_dir(link)
                sources.append(('find-links', directory if directory is not None else link))
            undetermined = False
            if not src.get('offline'):
                for url in _index_order(src):
                    page = '%s/%s/' % (url.rstrip('/'), project)
                    files = listings.get(page)
                    if files is None:
                        undetermined = True
                        sources.append(('index', page))
                        break
                    if any((parse_wheel_filename(f) or {}).get('project') == project for f in files):
                        sources.append(('index', page))
                        break
            infos, answered, silent, found_in = [], [], [], []
            for _kind, where in sources:
                files = listings.get(where)
                if files is None:
                    silent.append(where)
                    continue
                answered.append(where)
                here = [i for i in (parse_wheel_filename(f) for f in files) if i and i['project'] == project]
                infos.extend(here)
                if any(matches(i['version']) and wheel_fits(i, python, machine) for i in here):
                    found_in.append(where)
            label = '%s for Python %s on %s' % (req, python, machine)
            if found_in:
                checked.append('%s: found in %s' % (label, ', '.join(found_in)))
            elif silent or undetermined or not answered:
                unchecked.append('%s: not checked, %s' % (
                    label, ', '.join('%s did not answer%s' % (w, ' (%s)' % why[w][:160] if why.get(w) else '') for w in silent)
                    or 'no source answered'))
            else:
                problems.append('%s: no such wheel in %s. They have %s. Pick a torch_version / python / variant '
                                'that exists there, or add the wheel to the find-links directory'
                                % (label, ', '.join(answered), _describe_available(project, version, python, machine, infos)))
    return {'problems': problems, 'checked': checked, 'unchecked': unchecked}


# --------------------------------------------------------------------------------------------------
# after installing: does the installed wheel cover the host's GPUs? (read from torch, not a table)
# --------------------------------------------------------------------------------------------------

def arch_coverage(probe, gpu_facts=None):
    """The installed torch's own architecture list against the host's compute capabilities.

    Reads what the wheel says about itself (torch.cuda.get_arch_list(), or torch._C._cuda_getArchFlags()
    where no GPU is usable, as PROBE_SOURCE records them) and applies the binary rule only (a cubin sm_XY
    runs on X.Z with Z >= Y, PTX compute_XY JITs to any CC >= X.Y): no table of wheel variants is involved.
    Returns {'problem': text or None, 'compared': text}.
    """
    probe = probe or {}
    archs = list(probe.get('arch_list') or probe.get('arch_flags') or [])
    ccs = []
    for device in probe.get('devices') or []:
        cc = gk.normalize_compute_capability(device.get('capability'))
        if cc and cc not in ccs:
            ccs.append(cc)
    for cc in gpu_summary(gpu_facts)['compute_capabilities']:
        if cc not in ccs:
            ccs.append(cc)
    if not probe.get('torch_cuda'):
        return {'problem': None, 'compared': 'nothing: a CPU build of torch has no CUDA architectures'}
    if not ccs:
        return {'problem': None, 'compared': 'nothing: no GPU on this host (the wheel covers %s)' % (' '.join(archs) or 'no architecture it names')}
    if not archs:
        return {'problem': None, 'compared': 'nothing: torch %s names no architecture' % probe.get('torch_version')}
    cubins = [a for a in archs if a.startswith('sm_')]
    ptxs = [a for a in archs if a.startswith('compute_')] or [None]
    uncovered = [cc for cc in ccs if all(gk.arch_list_runs_on(cubins, ptx, cc) is None for ptx in ptxs)]
    compared = 'compute capability %s against the wheel\'s %s' % (', '.join(ccs), ' '.join(archs))
    if uncovered:
        problem = ('torch %s (CUDA %s) carries %s; no sm_XY of the same major with a lower or equal minor and no PTX '
                   'compute_XY at or below %s: the GPU(s) with compute capability %s cannot run it. Pick a variant '
                   'whose wheel covers them (the architecture list of each wheel: torch.cuda.get_arch_list())'
                   % (probe.get('torch_version'), probe.get('torch_cuda'), ' '.join(archs), ', '.join(uncovered),
                      ', '.join(uncovered)))
        return {'problem': problem, 'compared': compared}
    return {'problem': None, 'compared': compared}


def check_expectation(plan, gpu_facts=None):
    """What the environment's dlstack-check compares with: written into the environment, as its user."""
    expect = plan.get('expect') or {}
    return {
        'managed_by': 'labops.dlstack.pytorch_env',
        'user': plan['user'], 'env': plan['name'],
        'torch_version': plan['torch_version'], 'variant': plan['variant'],
        'variant_source': plan['variant_source'], 'recommended_variant': plan.get('recommended_variant'),
        'torch_source': plan.get('torch_source'),
        'cuda_expected': bool(expect.get('available')), 'cuda_reason': expect.get('reason') or '',
        'numpy': bool(plan.get('numpy', True)),
        'gpu_simulated': (gpu_facts or {}).get('source') == 'recorded',
    }


# --------------------------------------------------------------------------------------------------
# the verdict on what the check run inside each environment answered (_pytorch_env_check.run)
# --------------------------------------------------------------------------------------------------

def classify_cuda_error(text):
    """Layer named by a CUDA error message from torch (research C.5), None when it says nothing."""
    low = (text or '').lower()
    if 'driver on your system is too old' in low or 'driver version is insufficient' in low:
        return 'driver'
    if 'no kernel image' in low or 'not compatible with the current pytorch' in low:
        return 'architecture'
    if 'found no nvidia driver' in low or 'nvidia driver' in low:
        return 'driver'
    if 'no cuda gpus are available' in low or 'permission' in low or 'operation not permitted' in low:
        return 'device access'
    return None


def diagnose(probe, plan, gpu_facts=None, require_cuda=False):
    """The verdict on one environment: {'ok', 'layer', 'message', ...} (layer None when ok).

    probe: the pytorch_env_info result (_pytorch_env_check.run output); plan: the env's plan.
    """
    probe = probe or {}
    expect = plan.get('expect') or cuda_expectation(gpu_facts, plan['torch_version'], plan['variant'])
    label = '%s/%s' % (plan.get('user'), plan.get('name'))
    result = {
        'user': plan.get('user'), 'env': plan.get('name'), 'path': plan.get('path'),
        'backend': plan.get('backend'),
        'torch_version': probe.get('torch_version'), 'expected_version': plan.get('expected_version'),
        'variant': plan.get('variant'), 'variant_source': plan.get('variant_source'),
        'torch_cuda': probe.get('torch_cuda'),
        'cuda_available': probe.get('cuda_available'), 'cuda_expected': expect['available'],
        'cuda_reason': expect['reason'],
        'devices': [d.get('name') for d in probe.get('devices') or []],
        'matmul': _check_record(probe.get('matmul'), ('device', 'size', 'ok', 'checksum', 'error')),
        'numpy': _check_record(probe.get('numpy'), ('device', 'ok', 'version', 'location', 'missing', 'error')),
        'numpy_expected': bool(plan.get('numpy', True)),
        'autograd': _check_record(probe.get('autograd'), ('device', 'ok', 'grad', 'expected', 'error')),
        'torch_location': probe.get('torch_location'),
        'recommended_variant': plan.get('recommended_variant'),
        'torch_source': plan.get('torch_source'),
        'check_command': plan.get('check_command'),
        'variant_note': variant_note(plan, gpu_facts),
    }

    def verdict(layer, message):
        result.update({'ok': layer is None, 'layer': layer, 'message': '%s: %s' % (label, message)})
        return result

    if not probe.get('import_ok'):
        return verdict('install', 'torch does not import: %s' % (probe.get('import_error') or probe.get('error') or 'no output'))
    base, local = split_local_version(probe.get('torch_version'))
    if base != plan['torch_version']:
        return verdict('install', 'torch %s is installed, %s was asked' % (probe.get('torch_version'), plan['torch_version']))
    built = built_variant(local, probe.get('torch_cuda'))
    if built != plan['variant']:
        return verdict('variant', 'torch %s is the %s variant, %s was asked' % (probe.get('torch_version'), built, plan['variant']))
    coverage = arch_coverage(probe, gpu_facts)
    result['arch_check'] = coverage['compared']
    if coverage['problem']:
        return verdict('architecture', coverage['problem'])
    got = bool(probe.get('cuda_available'))
    if got != expect['available']:
        if got:
            return verdict('device access', 'torch.cuda.is_available() is True, but gpu_facts said it cannot be (%s): '
                                            'the probe does not see what this user sees' % expect['reason'])
        layer = classify_cuda_error(probe.get('cuda_error'))
        if layer is None:
            if not probe.get('torch_cuda'):
                layer = 'variant'
            else:
                summary = gpu_summary(gpu_facts)
                if summary['driver_version'] and not gk.driver_supports_cuda(summary['driver_version'], probe['torch_cuda']):
                    layer = 'driver'
                elif summary['compute_capabilities'] and any(
                        gk.arch_list_runs_on([a for a in probe.get('arch_list') or [] if a.startswith('sm_')],
                                             next((a for a in probe.get('arch_list') or [] if a.startswith('compute_')), None),
                                             cc, probe['torch_cuda']) is None for cc in summary['compute_capabilities']):
                    layer = 'architecture'
                else:
                    layer = 'device access'
        return verdict(layer, 'torch.cuda.is_available() is False, expected True (%s)%s' % (
            expect['reason'], '; torch says: ' + probe['cuda_error'] if probe.get('cuda_error') else ''))
    if require_cuda and not got:
        return verdict(expect['layer'] or 'device access', 'CUDA is required here, but torch.cuda.is_available() is False: %s'
                       % expect['reason'])
    matmul = probe.get('matmul') or {}
    if not matmul.get('ok'):
        err = matmul.get('error') or 'wrong checksum %s' % matmul.get('checksum')
        return verdict(classify_cuda_error(err) or ('device access' if got else 'install'),
                       'matmul on %s failed: %s' % (matmul.get('device'), err))
    numpy = probe.get('numpy') or {}
    numpy_text = 'NumPy left out (pytorch_env_numpy: false)'
    if numpy.get('ok'):
        numpy_text = 'NumPy %s round trip on %s ok' % (numpy.get('version'), numpy.get('device'))
    elif plan.get('numpy', True) or not numpy.get('missing'):
        return verdict(*_numpy_failure(numpy, plan, got))
    autograd = probe.get('autograd') or {}
    if not autograd.get('ok'):
        err = autograd.get('error') or 'the check did not run'
        return verdict(classify_cuda_error(err) or ('device access' if got else 'install'),
                       'autograd backward() on %s failed: %s' % (autograd.get('device'), err))
    if got:
        why = 'CUDA available on %s' % ', '.join(result['devices'])
    else:
        why = 'CUDA not available, as expected: %s' % expect['reason']
    return verdict(None, 'torch %s ok; %s; %s; autograd backward() on %s ok; %dx%d matmul on %s ok' % (
        probe.get('torch_version'), why, numpy_text, autograd.get('device'),
        matmul.get('size', 0), matmul.get('size', 0), matmul.get('device')))


def _check_record(check, keys):
    """The parts of one check's result the report keeps (no timings: the report is the same every run)."""
    return dict((k, v) for k, v in (check or {}).items() if k in keys)


def _numpy_failure(numpy, plan, got):
    """(layer, message) of a NumPy check that did not pass."""
    err = numpy.get('error') or 'the check did not run'
    if numpy.get('missing'):
        if plan.get('layered_on'):
            return 'install', ('NumPy does not import (%s): %s has no NumPy; install it there (Debian: python3-numpy) '
                               'or set pytorch_env_numpy: false' % (err, plan.get('layer_site_packages')))
        return 'install', ('NumPy does not import (%s), though the shared layer should carry it (pytorch_env_numpy: '
                           'true): the layer %s is incomplete' % (err, plan.get('layer_site_packages')))
    return (classify_cuda_error(err) or ('device access' if got else 'install'),
            'NumPy round trip (torch.from_numpy, .numpy()) on %s failed: %s' % (numpy.get('device'), err))


def variant_note(plan, gpu_facts=None):
    """Why the installed variant is not the one the probe recommends, in words; '' when it is."""
    recommended = plan.get('recommended_variant')
    if not recommended or plan.get('variant') == recommended:
        return ''
    names = ', '.join(gpu_summary(gpu_facts)['gpu_names']) or 'this host'
    if plan.get('variant_source') == 'explicit':
        why = "the variant is set explicitly (pytorch_env_variant, or the env's variant, is %s)" % plan['variant']
    else:
        why = 'variant auto chose %s' % plan['variant']
    text = '%s build installed where the probe recommends %s (torch %s on %s): %s; wheels from %s.' % (
        plan['variant'], recommended, plan.get('torch_version'), names, why, plan.get('torch_source') or '?')
    if plan['variant'] == 'cpu':
        text += ' torch uses the CPU here; for the GPU, set variant auto with an index or wheelhouse holding the %s wheels.' % recommended
    return text


def report(probe_results, host, gpu_facts=None, require_cuda=False, plans=None):
    """The per-host report from pytorch_env_info's results (one per env plan).

    probe_results: the results of pytorch_env_info with envs (the role's one task: then `plans` is the plan's
    envs, in the same order), or of a loop of it with python (each result carries its env plan as the loop
    variable). Skipped items (check mode, environment not there yet) are listed as not verified. The report has
    no timestamps or timings, so it is the same on every run of an unchanged host.
    """
    summary = gpu_summary(gpu_facts)
    envs = []
    skipped = []
    probe_results = list(probe_results or [])
    if plans is not None and len(plans) != len(probe_results):
        raise ValueError('%d results for %d environments' % (len(probe_results), len(plans)))
    for index, res in enumerate(probe_results):
        plan = plans[index] if plans is not None else res.get(res.get('ansible_loop_var') or '__pytorch_env_env') or {}
        if res.get('skipped') or 'probe' not in res:
            skipped.append('%s/%s' % (plan.get('user'), plan.get('name')))
            continue
        envs.append(diagnose(res['probe'], plan, gpu_facts, require_cuda))
    ok = all(e['ok'] for e in envs)
    names = (' (%s)' % ', '.join(summary['gpu_names'])) if summary['gpu_names'] else ''
    lines = ['%s: gpu_facts status %s%s' % (host, summary['status'], names)]
    for env in envs:
        lines.append(('OK   ' if env['ok'] else 'FAIL [%s] ' % env['layer']) + env['message'])
    for name in skipped:
        lines.append('SKIP %s: not verified (check mode, environment not created yet)' % name)
    return {
        'host': host, 'ok': ok,
        'gpu': {'status': summary['status'], 'message': summary['message'], 'gpus': summary['gpu_names'],
                'compute_capabilities': summary['compute_capabilities'], 'driver_version': summary['driver_version'],
                'in_container': summary['in_container']},
        'envs': envs, 'skipped': skipped, 'summary': lines,
    }

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
- what torch.cuda.is_available() must answer on this host (cuda_expectation);
- the probe run inside each environment (PROBE_SOURCE) and the verdict on its output, naming the
  layer at fault: driver, variant, architecture, device access (diagnose).

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
import re

from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as gk

# --------------------------------------------------------------------------------------------------
# torchvision / torchaudio matched to torch
# --------------------------------------------------------------------------------------------------

SRC_PREVIOUS = 'pytorch.org/get-started/previous-versions (install lines torch/torchvision/torchaudio)'
SRC_EXECUTORCH_210 = 'pytorch/executorch#16719 (torch 2.10.0 + torchaudio 2.10.0, torchvision 0.25.0)'
SRC_EXECUTORCH_211 = 'pytorch/executorch#18107 (torch 2.11.0 + torchaudio 2.11.0, torchvision 0.26.0)'
SRC_EXECUTORCH_213 = ('pytorch/executorch#20830 (torch 2.12.0 -> torchvision 0.27.0, 2.13.0 -> 0.28.0; '
                      '"torchaudio remains on 2.11.0 ... pytorch/audio does not currently publish a 2.13.0")')
SRC_AUDIO_211 = 'pytorch/audio#4212 ("torchaudio 2.11 supports torch>=2.11")'

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
    '2.13.0': ('0.28.0', '2.11.0', SRC_EXECUTORCH_213 + '; ' + SRC_AUDIO_211),
}

BACKENDS = ('venv', 'conda')
LAYER_MARKER = 'labops-dlstack-layer.json'
PTH_NAME = 'labops-dlstack-pytorch.pth'

_FULL_VERSION_RE = re.compile(r'^(\d+)\.(\d+)\.(\d+)$')
_PYTHON_RE = re.compile(r'^3\.(\d+)$')
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
_USER_RE = re.compile(r'^[a-z_][a-z0-9_.-]*[$]?$')


_VARIANT_TAG_RE = re.compile(r'^(cu\d+|cpu|rocm[\d.]+|xpu)$')


def built_variant(local, torch_cuda):
    """The wheel variant a torch build is, from its local version tag and torch.version.cuda.

    PyTorch's own wheels say it in the tag (2.11.0+cu130, 2.13.0+cpu). Builds without such a tag say
    it through torch.version.cuda only: PyPI's default wheel (2.11.0, CUDA 13.0 -> cu130) and
    distribution builds (Debian's 2.6.0+debian, CPU -> cpu).
    """
    if local and _VARIANT_TAG_RE.match(local):
        return local
    if not torch_cuda:
        return 'cpu'
    parts = str(torch_cuda).split('.')
    return 'cu' + ''.join(parts[:2])


def split_local_version(version):
    """'2.13.0+cpu' -> ('2.13.0', 'cpu'); '2.11.0' -> ('2.11.0', None)."""
    text = str(version or '').strip()
    if '+' in text:
        base, local = text.split('+', 1)
        return base, local or None
    return text, None


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
    return {
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
                                  usable=summary['usable'])
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
        fitting = [c['variant'] for c in gk.torch_candidates(release, ccs)]
        if variant not in fitting:
            spec = gk.TORCH_RELEASES[release]['variants'][variant]
            problems.append(
                'architecture: torch %s %s wheels carry %s%s; the GPU(s) here have compute capability %s '
                '(variants that fit: %s)' % (
                    release, variant, ', '.join('sm_' + a.replace('.', '') for a in spec['archs']),
                    ' + PTX compute_' + spec['ptx'].replace('.', '') if spec['ptx'] else '',
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

def requirements(torch_version, variant, torchvision=False, torchaudio=False):
    """Requirement strings of the shared layer: exact versions with the variant's local tag.

    ('2.13.0', 'cpu', torchvision=True) -> ['torch==2.13.0+cpu', 'torchvision==0.28.0+cpu']
    """
    base = split_local_version(torch_version)[0]
    out = ['torch==%s+%s' % (base, variant)]
    libs = domain_libraries(base)
    if torchvision:
        out.append('torchvision==%s+%s' % (libs[0], variant))
    if torchaudio:
        out.append('torchaudio==%s+%s' % (libs[1], variant))
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
    """argv of the root-side `uv pip install` into a layer (link mode hardlink from the root cache)."""
    argv = [uv, 'pip', 'install', '--python', layer_dir + '/bin/python', '--cache-dir', cache_dir,
            '--link-mode', 'hardlink', '--no-progress']
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
        return {'envs': [], 'layers': [], 'errors': ['pytorch_env_users: must be a list of {user, envs}']}
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
    return {'envs': envs, 'layers': [layers[k] for k in sorted(layers)], 'errors': errors}


def _plan_one(user, home, env, e_index, settings, gpu_facts, layered_on, root):
    problems = []
    where = 'pytorch_env_users[%s].envs[%d]' % (user, e_index)
    if not isinstance(env, dict):
        return None, ['%s: must be a dict with at least a name' % where]
    name = str(env.get('name') or '')
    if not _NAME_RE.match(name):
        return None, ['%s.name: %r must be letters, digits, ".", "_" or "-"' % (where, name)]
    where = 'pytorch_env_users[%s].envs[%s]' % (user, name)

    def pick(key):
        value = env.get(key)
        return settings.get(key) if value is None or value == '' else value

    backend = pick('backend') or 'venv'
    python = str(pick('python') or settings.get('default_python') or '')
    torch_version = str(pick('torch_version') or '')
    variant_asked = str(pick('variant') or 'auto').lower()
    torchvision = bool(pick('torchvision'))
    torchaudio = bool(pick('torchaudio'))
    packages = list(settings.get('packages') or []) + list(env.get('packages') or [])
    kernel = bool(pick('jupyter_kernel'))
    if kernel and 'ipykernel' not in [re.split(r'[<>=!~\[ ;]', p)[0].lower() for p in packages]:
        packages.append('ipykernel')

    if backend not in BACKENDS:
        problems.append('%s.backend: %r is not one of %s' % (where, backend, ', '.join(BACKENDS)))
    if _python_minor(python) is None:
        problems.append('%s.python (or pytorch_env_python): %r is not a Python version like 3.11' % (where, python))
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
    if release and python and _python_minor(python) is not None \
            and not _python_in_range(python, gk.TORCH_RELEASES[release]['python']):
        problems.append('%s.python: torch %s has wheels for Python %s, not %s'
                        % (where, release, gk.TORCH_RELEASES[release]['python'], python))
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
        if (torchvision or torchaudio) and domain_libraries(base) is None:
            problems.append('%s: no torchvision/torchaudio release is known to match torch %s (known: %s); '
                            'set torchvision/torchaudio false and list exact versions in packages'
                            % (where, base, ', '.join(sorted(DOMAIN_LIBRARIES, key=gk.parse_version))))
    conda_prefix = None
    if backend == 'conda':
        conda_prefix = (settings.get('conda_prefixes') or {}).get(user)
        if not conda_prefix:
            problems.append('%s.backend: conda, but no conda prefix is known for %s (pytorch_env_conda_prefixes, '
                            'or run labops.dlstack.conda first)' % (where, user))
    if problems:
        return None, problems

    path = env.get('path')
    if not path:
        if backend == 'conda':
            path = '%s/envs/%s' % (conda_prefix.rstrip('/'), name)
        else:
            path = '%s/%s/%s' % (home.rstrip('/'), (settings.get('venv_dir') or '.venvs').strip('/'), name)
    interpreter = env.get('interpreter') or ('/usr/bin/python%s' % python)
    reqs = requirements(base, variant, torchvision, torchaudio)
    sources = {
        'index_url': settings.get('index_url') or '',
        'torch_index_url': index_url(variant, settings.get('index_url_template')),
        'extra_index_urls': list(settings.get('extra_index_urls') or []),
        'find_links': list(settings.get('find_links') or []),
        'offline': bool(settings.get('offline')),
    }
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
    if backend == 'conda':
        create_argv = [conda_prefix.rstrip('/') + '/bin/conda', 'create', '--yes', '--quiet', '--prefix', path,
                       'python=%s' % python]
    else:
        create_argv = [interpreter, '-m', 'venv', '--without-pip', '--prompt', name, path]
    plan = {
        'user': user, 'home': home, 'name': name, 'backend': backend, 'python': python,
        'interpreter': interpreter, 'path': path,
        'env_python': path + '/bin/python',
        'env_site_packages': '%s/lib/python%s/site-packages' % (path, python),
        'create_argv': create_argv,
        'layer_site_packages': site, 'layered_on': layered_on or None,
        'layer': layer,
        'torch_version': base, 'torch_release': gk.normalize_torch_version(base),
        'variant': variant, 'variant_source': variant_source,
        'expected_version': '%s+%s' % (base, variant),
        'requirements': reqs, 'packages': packages,
        'jupyter_kernel': kernel,
        'kernel_name': 'pytorch-%s' % name,
        'kernel_display_name': 'PyTorch %s (%s, %s)' % (base, variant, name),
        'expect': cuda_expectation(gpu_facts, base, variant),
    }
    return plan, []


# --------------------------------------------------------------------------------------------------
# the probe run inside each environment, and its verdict
# --------------------------------------------------------------------------------------------------

# Runs with the environment's own python, as the environment's user. Prints one JSON object. The
# matmul uses ones() so that its checksum (size**3) is exact and the report is the same every run.
PROBE_SOURCE = r'''
import json, os, sys, warnings
warnings.filterwarnings("ignore")
size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
out = {"python": "%d.%d.%d" % sys.version_info[:3], "prefix": sys.prefix, "import_ok": False}
try:
    import torch
except Exception as exc:
    out["import_error"] = "%s: %s" % (type(exc).__name__, exc)
    print(json.dumps(out)); sys.exit(0)
out["import_ok"] = True
out["torch_version"] = torch.__version__
out["torch_cuda"] = torch.version.cuda
out["torch_location"] = os.path.dirname(os.path.dirname(torch.__file__))
try:
    out["arch_list"] = torch.cuda.get_arch_list()
except Exception:
    out["arch_list"] = []
cuda_error = None
try:
    available = bool(torch.cuda.is_available())
    if not available and torch.version.cuda:
        try:
            torch.cuda.init()
        except Exception as exc:
            cuda_error = str(exc)
except Exception as exc:
    available = False
    cuda_error = str(exc)
out["cuda_available"] = available
out["cuda_error"] = cuda_error
devices = []
if available:
    for i in range(torch.cuda.device_count()):
        cap = torch.cuda.get_device_capability(i)
        devices.append({"index": i, "name": torch.cuda.get_device_name(i), "capability": "%d.%d" % cap})
out["devices"] = devices
device = "cuda:0" if available else "cpu"
mm = {"device": device, "size": size}
try:
    a = torch.ones((size, size), device=device)
    b = torch.ones((size, size), device=device)
    checksum = int((a @ b).sum().item())
    if available:
        torch.cuda.synchronize()
    mm["ok"] = checksum == size ** 3
    mm["checksum"] = checksum
except Exception as exc:
    mm["ok"] = False
    mm["error"] = "%s: %s" % (type(exc).__name__, exc)
out["matmul"] = mm
print(json.dumps(out))
'''


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

    probe: the pytorch_env_info result (PROBE_SOURCE output); plan: the env's plan.
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
        'matmul': dict((k, v) for k, v in (probe.get('matmul') or {}).items() if k in ('device', 'size', 'ok', 'checksum', 'error')),
        'torch_location': probe.get('torch_location'),
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
    if got:
        why = 'CUDA available on %s' % ', '.join(result['devices'])
    else:
        why = 'CUDA not available, as expected: %s' % expect['reason']
    return verdict(None, 'torch %s ok; %s; %dx%d matmul on %s ok' % (
        probe.get('torch_version'), why, matmul.get('size', 0), matmul.get('size', 0), matmul.get('device')))


def report(probe_results, host, gpu_facts=None, require_cuda=False):
    """The per-host report from the registered loop of pytorch_env_info (one result per env plan).

    Skipped items (check mode, environment not there yet) are listed as not verified. The report has
    no timestamps or timings, so it is the same on every run of an unchanged host.
    """
    summary = gpu_summary(gpu_facts)
    envs = []
    skipped = []
    for res in probe_results or []:
        plan = res.get(res.get('ansible_loop_var') or '__pytorch_env_env') or {}
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

# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This file is private to labops.dlstack (leading underscore): no compatibility promise outside the
# collection. Pure Python >= 3.9, stdlib only at import time (torch and numpy are imported by run()).

"""dlstack-check: what a PyTorch environment can do, checked in it, as its user.

One source, two callers, so that what a lab user sees is what ops sees:

- the lab user: the pytorch_env role installs this file once per host, root-owned and read-only,
  as <pytorch_env_root>/pytorch/dlstack_check.py, and writes into each environment, as the
  environment's user, a two-line ``bin/dlstack-check`` that runs it with that environment's python,
  and the expectation of the last configuration run (``labops-dlstack-check.json`` at the
  environment's root). ``dlstack-check`` prints the torch version and variant, whether CUDA is
  available and why not, the devices, and the checks below with their timings; exit status 0 when
  every check passed, 1 when one failed, 2 on a usage error.
- the role's verification: the module labops.dlstack.pytorch_env_info runs this same source with
  the environment's python, as the user (``--json --no-expect``), and _pytorch_env.diagnose() judges
  the result against the plan.

The checks, on the chosen device (cuda:0 when torch.cuda.is_available(), else cpu), each with an
exact expected value so that a wrong answer cannot pass:

- numpy: torch.from_numpy shares the array's memory, the tensor goes to the device and back, and
  .numpy() returns 2*x exactly;
- autograd: y = sum(x**2) at x = [1, 2, 3], y.backward() gives x.grad = 2x = [2, 4, 6];
- matmul: ones(n, n) @ ones(n, n) sums to n**3.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

EXPECT_NAME = 'labops-dlstack-check.json'
CHECKS = ('numpy', 'autograd', 'matmul')
AUTOGRAD_X = [1.0, 2.0, 3.0]
AUTOGRAD_GRAD = [2.0, 4.0, 6.0]  # d/dx sum(x**2) = 2x
NUMPY_X = [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]

_VARIANT_TAG_RE = re.compile(r'^(cu\d+|cpu|rocm[\d.]+|xpu)$')


def split_local_version(version):
    """'2.13.0+cpu' -> ('2.13.0', 'cpu'); '2.11.0' -> ('2.11.0', None)."""
    text = str(version or '').strip()
    if '+' in text:
        base, local = text.split('+', 1)
        return base, local or None
    return text, None


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


# --------------------------------------------------------------------------------------------------
# the checks (they run inside the environment; torch and numpy are imported here, not above)
# --------------------------------------------------------------------------------------------------

def _error(exc):
    return '%s: %s' % (type(exc).__name__, exc)


def _timed(func, *args):
    """Run one check: its dict, with 'seconds' (wall time) and 'ok' False plus 'error' on an exception."""
    start = time.perf_counter()
    try:
        result = func(*args)
    except Exception as exc:  # a check that raises has failed; say how, and go on with the others
        result = {'ok': False, 'error': _error(exc)}
    result['seconds'] = round(time.perf_counter() - start, 6)
    return result


def _sync(torch, device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def check_numpy(torch, device):
    """torch.from_numpy shares memory; to the device and back; .numpy() gives 2*x exactly."""
    try:
        import numpy
    except Exception as exc:
        return {'ok': False, 'missing': True, 'device': device, 'error': _error(exc)}
    result = {'device': device, 'version': numpy.__version__,
              'location': os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))}
    array = numpy.array(NUMPY_X, dtype=numpy.float32)
    tensor = torch.from_numpy(array)
    array[0, 0] = 42.0
    shared = float(tensor[0, 0].item()) == 42.0
    array[0, 0] = 0.0
    back = (tensor.to(device) * 2).cpu().numpy()
    _sync(torch, device)
    result['shares_memory'] = shared
    result['round_trip'] = back.tolist()
    result['ok'] = bool(shared and isinstance(back, numpy.ndarray) and back.dtype == numpy.float32
                        and back.tolist() == [[2 * v for v in row] for row in NUMPY_X])
    if not result['ok']:
        result['error'] = 'expected %s (memory shared: True), got %s (memory shared: %s)' % (
            [[2 * v for v in row] for row in NUMPY_X], back.tolist(), shared)
    return result


def check_autograd(torch, device):
    """y = sum(x**2) at x = [1, 2, 3]; y.backward() must give x.grad = [2, 4, 6]."""
    x = torch.tensor(AUTOGRAD_X, device=device, requires_grad=True)
    y = (x ** 2).sum()
    y.backward()
    _sync(torch, device)
    grad = [float(v) for v in x.grad.cpu().tolist()]
    result = {'device': device, 'grad': grad, 'expected': list(AUTOGRAD_GRAD), 'ok': grad == AUTOGRAD_GRAD}
    if not result['ok']:
        result['error'] = 'x.grad is %s, expected %s' % (grad, AUTOGRAD_GRAD)
    return result


def check_matmul(torch, device, size):
    """ones(size, size) @ ones(size, size) sums to size**3 (exact in float32 for the sizes used)."""
    a = torch.ones((size, size), device=device)
    b = torch.ones((size, size), device=device)
    checksum = int((a @ b).sum().item())
    _sync(torch, device)
    result = {'device': device, 'size': size, 'checksum': checksum, 'ok': checksum == size ** 3}
    if not result['ok']:
        result['error'] = 'wrong checksum %s, expected %s' % (checksum, size ** 3)
    return result


def _device_files():
    return sorted(name for name in ('nvidiactl', 'nvidia0', 'nvidia-uvm') if os.path.exists('/dev/' + name))


def run(size=256):
    """Everything the check knows about this environment, as one JSON-able dict."""
    out = {'python': '%d.%d.%d' % sys.version_info[:3], 'prefix': sys.prefix, 'executable': sys.executable,
           'import_ok': False}
    start = time.perf_counter()
    try:
        import torch
    except Exception as exc:
        out['import_error'] = _error(exc)
        return out
    out['import_seconds'] = round(time.perf_counter() - start, 6)
    out['import_ok'] = True
    out['torch_version'] = torch.__version__
    out['torch_cuda'] = torch.version.cuda
    out['variant'] = built_variant(split_local_version(torch.__version__)[1], torch.version.cuda)
    out['torch_location'] = os.path.dirname(os.path.dirname(torch.__file__))
    try:
        out['arch_list'] = torch.cuda.get_arch_list()
    except Exception:
        out['arch_list'] = []
    # what the wheel was built for, also where no GPU is usable (get_arch_list() is [] then)
    try:
        flags = torch._C._cuda_getArchFlags() if hasattr(torch._C, '_cuda_getArchFlags') else None  # pylint: disable=protected-access
        out['arch_flags'] = flags.split() if flags else []
    except Exception:
        out['arch_flags'] = []
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
    out['cuda_available'] = available
    out['cuda_error'] = cuda_error
    out['device_files'] = _device_files()
    devices = []
    if available:
        for i in range(torch.cuda.device_count()):
            cap = torch.cuda.get_device_capability(i)
            devices.append({'index': i, 'name': torch.cuda.get_device_name(i), 'capability': '%d.%d' % cap})
    out['devices'] = devices
    device = 'cuda:0' if available else 'cpu'
    out['device'] = device
    out['numpy'] = _timed(check_numpy, torch, device)
    out['numpy'].setdefault('device', device)
    out['autograd'] = _timed(check_autograd, torch, device)
    out['autograd'].setdefault('device', device)
    out['matmul'] = _timed(check_matmul, torch, device, size)
    out['matmul'].setdefault('device', device)
    out['matmul'].setdefault('size', size)
    return out


# --------------------------------------------------------------------------------------------------
# what the user is told
# --------------------------------------------------------------------------------------------------

def why_no_cuda(result):
    """Why torch.cuda.is_available() is False, from what this environment sees."""
    if not result.get('torch_cuda'):
        return 'this torch is the %s build, compiled without CUDA' % (result.get('variant') or 'cpu')
    if not result.get('device_files'):
        why = ('no NVIDIA device files (/dev/nvidiactl, /dev/nvidia0): no GPU is visible here (not passed into '
               'this container or VM, or the NVIDIA driver is not loaded)')
    else:
        why = 'torch.cuda.is_available() is False although %s exist' % ', '.join('/dev/' + d for d in result['device_files'])
    if result.get('cuda_error'):
        why += '; torch says: %s' % result['cuda_error']
    return why


def verdict(result, expect=None):
    """(failures, notes): what makes the check fail (exit 1), and what is worth saying but is not a failure.

    expect: the expectation the pytorch_env role wrote into the environment (None = none known):
    torch_version, variant, cuda_expected, cuda_reason, numpy (is NumPy part of the environment).
    """
    expect = expect or {}
    failures = []
    notes = []
    if not result.get('import_ok'):
        return ['torch does not import: %s' % (result.get('import_error') or 'no result')], notes
    if expect.get('torch_version') and \
            split_local_version(result.get('torch_version'))[0] != split_local_version(expect['torch_version'])[0]:
        failures.append('torch %s is installed, %s was configured' % (result.get('torch_version'), expect['torch_version']))
    if expect.get('variant') and result.get('variant') != expect['variant']:
        failures.append('torch %s is the %s build, %s was configured' % (
            result.get('torch_version'), result.get('variant'), expect['variant']))
    if expect.get('cuda_expected') and not result.get('cuda_available'):
        failures.append('CUDA should be available here (%s), but it is not: %s' % (
            expect.get('cuda_reason') or 'the configuration says so', why_no_cuda(result)))
    if 'cuda_expected' in expect and not expect['cuda_expected'] and result.get('cuda_available'):
        notes.append('CUDA is available although the last configuration run expected it not to be (%s): ask for '
                     'the verification to be run again' % (expect.get('cuda_reason') or '?'))
    numpy_wanted = expect.get('numpy', True)
    for name in CHECKS:
        check = result.get(name) or {}
        if check.get('ok'):
            continue
        if name == 'numpy' and check.get('missing') and not numpy_wanted:
            continue  # left out by the configuration: skipped, not failed
        failures.append('%s: %s' % (name, check.get('error') or 'did not run'))
    return failures, notes


def _ms(seconds):
    if seconds is None:
        return ''
    return '%.1f ms' % (float(seconds) * 1000.0)


def _check_line(name, check, numpy_wanted):
    device = check.get('device') or '?'
    if name == 'numpy' and check.get('missing') and not numpy_wanted:
        return 'numpy     SKIP  NumPy is not installed here (left out by the configuration)'
    if not check.get('ok'):
        return '%-9s FAIL  %s' % (name, check.get('error') or 'did not run')
    if name == 'numpy':
        text = ('NumPy %s: torch.from_numpy shares the array\'s memory, .numpy() gives back 2*x computed on %s'
                % (check.get('version'), device))
    elif name == 'autograd':
        text = 'y = sum(x**2) at x = [1, 2, 3]: y.backward() gives x.grad = [2, 4, 6] on %s' % device
    else:
        size = check['size']
        text = '%dx%d ones @ ones on %s: checksum %s = %d**3' % (size, size, device, check.get('checksum'), size)
    return '%-9s ok    %s   %s' % (name, text, _ms(check.get('seconds')))


def format_text(result, expect=None):
    """The lines dlstack-check prints, and its exit status."""
    expect = expect or {}
    failures, notes = verdict(result, expect)
    who = expect.get('user') or os.environ.get('USER') or ''
    lines = ['dlstack-check: %s (python %s%s)' % (
        result.get('prefix'), result.get('python'), ', user %s' % who if who else '')]
    if not result.get('import_ok'):
        lines.append('torch     FAIL  does not import: %s' % (result.get('import_error') or '?'))
        lines.append('FAIL      torch does not import in this environment')
        return lines, 1
    variant = result.get('variant')
    how = ''
    if expect.get('variant') == variant and expect.get('recommended_variant'):
        if expect['recommended_variant'] == variant:
            how = ' (what the GPU probe recommends for this host)'
        else:
            how = ' (set in the configuration; the GPU probe recommends %s for this host%s)' % (
                expect['recommended_variant'], ', whose GPU facts are SIMULATED' if expect.get('gpu_simulated') else '')
    lines.append('torch     %s, variant %s%s, from %s   import %s' % (
        result.get('torch_version'), variant, how, result.get('torch_location'), _ms(result.get('import_seconds'))))
    if result.get('cuda_available'):
        lines.append('CUDA      available (CUDA %s)' % result.get('torch_cuda'))
        lines.append('devices   %s' % '; '.join('cuda:%d %s (compute capability %s)' % (
            d['index'], d['name'], d['capability']) for d in result.get('devices') or []))
    else:
        cuda = 'CUDA      not available: %s' % why_no_cuda(result)
        if expect.get('cuda_reason'):
            cuda += '; %s: %s%s' % ('it should be' if expect.get('cuda_expected') else 'as expected here',
                                    expect['cuda_reason'], ' [GPU facts SIMULATED]' if expect.get('gpu_simulated') else '')
        lines.append(cuda)
        lines.append('devices   none: the checks run on the CPU')
    numpy_wanted = expect.get('numpy', True)
    for name in CHECKS:
        lines.append(_check_line(name, result.get(name) or {}, numpy_wanted))
    for note in notes:
        lines.append('note      %s' % note)
    ran = [n for n in CHECKS if not ((result.get(n) or {}).get('missing') and not numpy_wanted)]
    if failures:
        lines.append('FAIL      %d problem(s): %s' % (len(failures), ' | '.join(failures)))
        return lines, 1
    lines.append('PASS      %d of %d checks passed' % (len(ran), len(ran)))
    return lines, 0


def read_expect(path):
    """The expectation the role wrote, or None (missing or unreadable: the check runs without it)."""
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


USAGE = '''usage: dlstack-check [--json] [--size N] [--no-expect | --expect FILE]

Checks this environment's PyTorch: version and variant, CUDA and devices, a NumPy round trip,
autograd backward() and a matmul on the GPU when CUDA is available, else on the CPU.
Exit status: 0 all checks passed, 1 a check failed, 2 usage error.
  --json         print the result as one JSON object
  --size N       side of the matrices multiplied (default 256)
  --no-expect    ignore the expectation written by the last configuration run
  --expect FILE  read it from FILE (default: <environment>/%s)
''' % EXPECT_NAME


def parse_args(argv):
    """{'json', 'size', 'expect'} from the command line; ValueError with the reason on bad input."""
    opts = {'json': False, 'size': 256, 'expect': os.path.join(sys.prefix, EXPECT_NAME)}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ('-h', '--help'):
            raise ValueError('')
        if arg == '--json':
            opts['json'] = True
        elif arg == '--no-expect':
            opts['expect'] = None
        elif arg in ('--size', '--expect'):
            if not args:
                raise ValueError('%s needs a value' % arg)
            value = args.pop(0)
            if arg == '--expect':
                opts['expect'] = value
            elif not value.isdigit() or int(value) < 1:
                raise ValueError('--size: %r is not a positive whole number' % value)
            else:
                opts['size'] = int(value)
        else:
            raise ValueError('unknown argument %r' % arg)
    return opts


def main(argv=None):
    try:
        opts = parse_args(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        sys.stderr.write(('dlstack-check: %s\n' % exc if str(exc) else '') + USAGE)
        return 2
    import warnings
    warnings.filterwarnings('ignore')
    result = run(opts['size'])
    expect = read_expect(opts['expect']) if opts['expect'] else None
    if opts['json']:
        failures, notes = verdict(result, expect)
        result['failures'] = failures
        result['notes'] = notes
        result['passed'] = not failures
        sys.stdout.write(json.dumps(result) + '\n')
        return 0 if not failures else 1
    lines, status = format_text(result, expect)
    sys.stdout.write('\n'.join(lines) + '\n')
    return status


if __name__ == '__main__':
    raise SystemExit(main())

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make knowledge-check: compare the collection's knowledge tables with the sources they were taken from.

What is compared (each difference is one line of the output; any difference fails):

- torch on PyPI (the simple API, https://pypi.org/simple/torch/ with
  Accept: application/vnd.pypi.simple.v1+json) against _gpu_knowledge.TORCH_RELEASES: every release from
  2.4 is a row; its patch releases; the CPython versions of its manylinux x86_64 and aarch64 wheels
  ('python', 'python_aarch64'); the variant of the plain PyPI wheel (torch/version.py of the wheel:
  'default', 'default_aarch64'); and that variant's GPU architectures, read from the arch flags string in
  torch/lib/libtorch_python.so (what torch.cuda.get_arch_list() returns: sm_XY, compute_XY = PTX), against
  the variant's 'archs' / 'ptx' and 'archs_aarch64' / 'ptx_aarch64'.
  Only what is in a wheel is read (HTTP range requests of the zip members: version.py, METADATA, about
  10 MB of libtorch_python.so per wheel; never a whole multi-GB wheel). Results of immutable wheels are
  cached by sha256 in .cache/knowledge-check/.
- torchvision and torchaudio on PyPI against _pytorch_env.DOMAIN_LIBRARIES: every torch patch release has a
  row; the row's torchvision / torchaudio is the release PyPI says goes with it (the one whose METADATA
  pins torch==that version; else the newest whose Requires-Dist admits it, uploaded by the day after that
  torch release, else the first after it); a newer torchvision / torchaudio than any row is reported.
- the PCI table: plugins/module_utils/_gpu_pci_ids.py against its generator's sources
  (tools/gen_pci_ids.py --check), and the TSV copy in tests/unit/fixtures against
  shared/research's original (line endings aside) where that directory exists (DLSTACK_SHARED_RESEARCH).

Not reachable from here, so not compared: the non-default variants (download.pytorch.org), NVIDIA's
repositories. The output says so.

Usage:
    python tests/harness/knowledge_check.py            # exit 1 when anything is newer or different
    python tests/harness/knowledge_check.py --warn     # print what is stale as a WARNING, exit 0
    python tests/harness/knowledge_check.py --save-observed FILE / --observed FILE   # record / replay PyPI
Exit status: 0 all current (or --warn), 1 something differs, 2 PyPI did not answer (--warn: 0, "skipped").
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CACHE = os.path.join(ROOT, '.cache', 'knowledge-check')
PYPI_SIMPLE = 'https://pypi.org/simple/%s/'
ACCEPT_JSON = 'application/vnd.pypi.simple.v1+json'
FIRST_MINOR = (2, 4)   # TORCH_RELEASES starts at torch 2.4
TIMEOUT = 60
SHARED_RESEARCH = os.environ.get('DLSTACK_SHARED_RESEARCH', '/work/shared/research')
TSV_NAME = 'nvidia_pci_ids_from_pciids_2026-08-22.tsv'
ARCH_FLAGS_RE = re.compile(rb'(?:(?:sm|compute)_\d+[a-z]?[ ;]){1,}(?:sm|compute)_\d+[a-z]?')
WHEEL_RE = re.compile(r'^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$')


class Unreachable(Exception):
    """PyPI (or files.pythonhosted.org) did not answer."""


# ---------------------------------------------------------------------------------------------------
# the collection's tables
# ---------------------------------------------------------------------------------------------------

def import_collection():
    """(_gpu_knowledge, _pytorch_env) of this checkout, importable as ansible_collections.labops.dlstack."""
    try:
        from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as gk  # noqa: F401
        from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env as pe  # noqa: F401
        return gk, pe
    except ImportError:
        pass
    root = tempfile.mkdtemp(prefix='dlstack-kc-')
    os.makedirs(os.path.join(root, 'ansible_collections', 'labops'))
    os.symlink(ROOT, os.path.join(root, 'ansible_collections', 'labops', 'dlstack'))
    sys.path.insert(0, root)
    from ansible_collections.labops.dlstack.plugins.module_utils import _gpu_knowledge as gk
    from ansible_collections.labops.dlstack.plugins.module_utils import _pytorch_env as pe
    return gk, pe


def tables():
    gk, pe = import_collection()
    return {'torch_releases': gk.TORCH_RELEASES, 'domain_libraries': pe.DOMAIN_LIBRARIES}


# ---------------------------------------------------------------------------------------------------
# versions
# ---------------------------------------------------------------------------------------------------

def vkey(version):
    """'2.14.1+cu130' -> (2, 14, 1); pre-releases ('2.15.0rc1') -> None."""
    base = str(version).split('+', 1)[0]
    if not re.match(r'^\d+(\.\d+)*$', base):
        return None
    return tuple(int(p) for p in base.split('.'))


def spec_admits(spec, version):
    """Does a Requires-Dist specifier ('torch (==2.4.1)', 'torch>=2.11', 'torch ==2.4.0') admit version?"""
    text = re.sub(r'^\s*torch\s*', '', spec).split(';', 1)[0].strip().strip('()')
    want = vkey(version)
    for clause in [c.strip() for c in text.split(',') if c.strip()]:
        match = re.match(r'^(==|>=|<=|!=|~=|>|<)\s*([0-9][0-9.]*?)(\.\*)?$', clause)
        if not match or want is None:
            return False
        op, ver, star = match.groups()
        have = vkey(ver)
        size = max(len(want), len(have))
        w, h = want + (0,) * (size - len(want)), have + (0,) * (size - len(have))
        equal = want[:len(have)] == have if star else w == h
        ok = {'==': equal, '!=': not equal, '>=': w >= h, '<=': w <= h, '>': w > h, '<': w < h,
              '~=': w >= h and want[:len(have) - 1] == have[:-1]}[op]
        if not ok:
            return False
    return True


def python_range(tags):
    """{'cp310', 'cp314', 'cp314t'} -> '3.10-3.14' (free-threaded 't' builds and abi3 not counted)."""
    minors = sorted(int(t[3:]) for t in tags if re.match(r'^cp3\d+$', t))
    return '3.%d-3.%d' % (minors[0], minors[-1]) if minors else None


# ---------------------------------------------------------------------------------------------------
# PyPI: index pages, and members of remote wheels read with HTTP range requests
# ---------------------------------------------------------------------------------------------------

def _get(url, headers=None, byte_range=None):
    request = urllib.request.Request(url, headers=dict(headers or {}, **({'Range': 'bytes=%d-%d' % byte_range} if byte_range else {})))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable('%s: %s' % (url, exc)) from exc


class RemoteFile(io.RawIOBase):
    """A read-only, seekable view of a remote file through HTTP range requests."""

    def __init__(self, url, size):
        super().__init__()
        self.url, self.size, self.pos = url, size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        self.pos = offset if whence == 0 else (self.pos + offset if whence == 1 else self.size + offset)
        return self.pos

    def readinto(self, buffer):
        if self.pos >= self.size or not len(buffer):
            return 0
        end = min(self.size, self.pos + len(buffer)) - 1
        data = _get(self.url, byte_range=(self.pos, end))
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)


def wheel_members(url, size, wanted):
    """{member name: bytes} of the members whose name matches one of the regexes in wanted."""
    archive = zipfile.ZipFile(io.BufferedReader(RemoteFile(url, size), buffer_size=1 << 20))
    out = {}
    for name in archive.namelist():
        if any(re.search(pattern, name) for pattern in wanted):
            out[name] = archive.read(name)
    return out


class Cache:
    """Facts read from immutable wheels, keyed by sha256, in .cache/knowledge-check/wheels.json.

    get() records what is missing (a job); run() computes the jobs in parallel threads; the second pass
    of observe() then finds everything in the cache.
    """

    def __init__(self, directory):
        self.path = os.path.join(directory, 'wheels.json') if directory else None
        self.data = {}
        self.jobs = {}
        if self.path and os.path.exists(self.path):
            with open(self.path, encoding='utf-8') as handle:
                self.data = json.load(handle)

    def get(self, key, compute):
        if key not in self.data:
            self.jobs[key] = compute
            return None
        return self.data[key]

    def run(self, workers=8):
        jobs, self.jobs = self.jobs, {}
        if not jobs:
            return
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = dict((pool.submit(compute), key) for key, compute in jobs.items())
            for future in concurrent.futures.as_completed(futures):
                self.data[futures[future]] = future.result()
        self.save()

    def save(self):
        if self.path:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path + '.tmp', 'w', encoding='utf-8') as handle:
                json.dump(self.data, handle, indent=1, sort_keys=True)
            os.replace(self.path + '.tmp', self.path)


def simple_page(project):
    return json.loads(_get(PYPI_SIMPLE % project, {'Accept': ACCEPT_JSON}).decode('utf-8'))


def releases(page):
    """{version: {'files': [...], 'uploaded': iso date}} of the final, not yanked releases with wheels."""
    out = {}
    for item in page.get('files') or []:
        match = WHEEL_RE.match(item.get('filename') or '')
        if not match or item.get('yanked'):
            continue
        version = match.group('version')
        if vkey(version) is None:
            continue
        rel = out.setdefault(version, {'files': [], 'uploaded': None})
        info = dict(item, py=match.group('py'), abi=match.group('abi'), plat=match.group('plat'))
        rel['files'].append(info)
        uploaded = (item.get('upload-time') or '')[:10] or None
        if uploaded and (rel['uploaded'] is None or uploaded < rel['uploaded']):
            rel['uploaded'] = uploaded
    return out


def linux_wheels(files, machine):
    return [f for f in files if 'linux' in f['plat'] and f['plat'].endswith('_' + machine)]


def _pick_wheel(files, machine):
    """One Linux wheel to read (cp311/cp312 first: the common interpreters), or None."""
    wheels = linux_wheels(files, machine)
    wheels.sort(key=lambda f: (f['abi'] not in ('cp312', 'cp311', 'none'), f['filename']))
    return wheels[0] if wheels else None


def torch_wheel_facts(wheel, cache):
    """{'version', 'cuda', 'arch_flags'} of one torch wheel (version.py and libtorch_python.so's arch flags)."""
    def compute():
        members = wheel_members(wheel['url'], wheel['size'], [r'^torch/version\.py$', r'^torch/lib/libtorch_python\.so$'])
        version_py = members.get('torch/version.py', b'').decode('utf-8', 'replace')
        version = re.search(r"__version__ = '([^']+)'", version_py)
        cuda = re.search(r"^cuda(?:: Optional\[str\])? = '([^']+)'", version_py, re.M)
        flags = sorted(set(m.decode() for m in ARCH_FLAGS_RE.findall(members.get('torch/lib/libtorch_python.so', b''))))
        longest = max(flags, key=len) if flags else ''
        return {'version': version.group(1) if version else None, 'cuda': cuda.group(1) if cuda else None,
                'arch_flags': longest.replace(';', ' ').split()}
    return cache.get(wheel['hashes']['sha256'] + ':torch', compute)


def metadata_facts(wheel, cache):
    """{'requires_torch': 'torch (==2.14.0)' or None, 'requires_python'} of a torchvision / torchaudio wheel."""
    def compute():
        members = wheel_members(wheel['url'], wheel['size'], [r'\.dist-info/METADATA$'])
        text = next(iter(members.values()), b'').decode('utf-8', 'replace')
        torch = [line.split(':', 1)[1].strip() for line in text.splitlines()
                 if re.match(r'^Requires-Dist:\s*torch\b(?![-_.a-z])', line)]
        python = [line.split(':', 1)[1].strip() for line in text.splitlines() if line.startswith('Requires-Python:')]
        return {'requires_torch': torch[0] if torch else None, 'requires_python': python[0] if python else None}
    return cache.get(wheel['hashes']['sha256'] + ':metadata', compute)


def observe(cache_dir=CACHE, log=None):
    """Everything compare() needs, read from PyPI now. Raises Unreachable when PyPI does not answer."""
    log = log or (lambda text: None)
    cache = Cache(cache_dir)
    pages = dict((project, simple_page(project)) for project in ('torch', 'torchvision', 'torchaudio'))
    _observe(pages, cache, lambda text: None)   # first pass: find the wheels not read yet
    if cache.jobs:
        log('reading %d wheel member sets (HTTP range requests)' % len(cache.jobs))
        cache.run()
    return _observe(pages, cache, log)


def _observe(pages, cache, log):
    observed = {'date': datetime.date.today().isoformat(), 'torch': {}, 'torchvision': {}, 'torchaudio': {}}
    torch = releases(pages['torch'])
    for version in sorted(torch, key=vkey):
        key = vkey(version)
        if key[:2] < FIRST_MINOR:
            continue
        files = torch[version]['files']
        entry = {'uploaded': torch[version]['uploaded'], 'python': {}, 'wheel': {}}
        for machine in ('x86_64', 'aarch64'):
            entry['python'][machine] = python_range(set(f['abi'] for f in linux_wheels(files, machine)))
            wheel = _pick_wheel(files, machine)
            if wheel:
                log('torch %s %s (%s)' % (version, machine, wheel['filename']))
                entry['wheel'][machine] = torch_wheel_facts(wheel, cache)
        observed['torch'][version] = entry
    for project in ('torchvision', 'torchaudio'):
        rels = releases(pages[project])
        for version in sorted(rels, key=vkey):
            wheel = _pick_wheel(rels[version]['files'], 'x86_64')
            if wheel is None or rels[version]['uploaded'] < '2024-07-01':  # older than torch 2.4
                continue
            log('%s %s METADATA' % (project, version))
            facts = metadata_facts(wheel, cache) or {}
            observed[project][version] = {'uploaded': rels[version]['uploaded'], 'requires_torch': facts.get('requires_torch'),
                                          'python': python_range(set(f['abi'] for f in linux_wheels(rels[version]['files'], 'x86_64')))
                                          or ('py3' if any(f['py'] == 'py3' for f in rels[version]['files']) else None)}
    return observed


# ---------------------------------------------------------------------------------------------------
# comparison
# ---------------------------------------------------------------------------------------------------

def variant_of(wheel_facts):
    """'cu130' from version.py's '2.11.0+cu130' / cuda '13.0'; 'cpu' without CUDA."""
    version = wheel_facts.get('version') or ''
    if '+' in version and re.match(r'^(cu\d+|cpu)$', version.split('+', 1)[1]):
        return version.split('+', 1)[1]
    if wheel_facts.get('cuda'):
        return 'cu' + ''.join(wheel_facts['cuda'].split('.')[:2])
    return 'cpu'


def arch_split(flags):
    """['sm_75', ..., 'compute_120'] -> (('7.5', ...), '12.0' or None)."""
    def cc(tag):
        digits = re.sub(r'[a-z]$', '', tag.split('_', 1)[1])
        return '%d.%d' % (int(digits[:-1]), int(digits[-1]))
    cubins = tuple(cc(f) for f in flags if f.startswith('sm_'))
    ptx = [cc(f) for f in flags if f.startswith('compute_')]
    return cubins, (ptx[-1] if ptx else None)


def expected_library(project_releases, torch_version, torch_uploaded):
    """The torchvision / torchaudio release that goes with a torch release (see the module docstring)."""
    pinned = [v for v, r in project_releases.items() if r.get('requires_torch') and
              re.search(r'==\s*%s\b(?![.\d])' % re.escape(torch_version), r['requires_torch'])]
    if pinned:
        return max(pinned, key=vkey)
    admitting = [v for v, r in project_releases.items()
                 if (r.get('requires_torch') is None or spec_admits(r['requires_torch'], torch_version))]
    limit = (datetime.date.fromisoformat(torch_uploaded) + datetime.timedelta(days=1)).isoformat() if torch_uploaded else None
    before = [v for v in admitting if limit is None or project_releases[v]['uploaded'] <= limit]
    if before:
        return max(before, key=vkey)
    after = sorted(admitting, key=lambda v: project_releases[v]['uploaded'])
    return after[0] if after else None


def compare(tbl, observed):
    """Lines describing every way the tables differ from what PyPI says ([] = current)."""
    out = []
    torch_releases = tbl['torch_releases']
    domain = tbl['domain_libraries']
    minors = {}
    for version, entry in observed['torch'].items():
        minors.setdefault('%d.%d' % vkey(version)[:2], []).append(version)
    for minor in sorted(minors, key=vkey):
        patches = sorted(minors[minor], key=vkey)
        newest = patches[-1]
        if minor not in torch_releases:
            out.append('torch %s is on PyPI (%s, uploaded %s) but not in TORCH_RELEASES'
                       % (minor, ', '.join(patches), observed['torch'][patches[0]]['uploaded']))
            continue
        row = torch_releases[minor]
        if tuple(row.get('patches') or ()) != tuple(patches):
            out.append('torch %s: PyPI has the patch releases %s, TORCH_RELEASES lists %s'
                       % (minor, ', '.join(patches), ', '.join(row.get('patches') or ()) or 'none'))
        for machine, key in (('x86_64', 'python'), ('aarch64', 'python_aarch64')):
            wheels_range = _union_range([observed['torch'][p]['python'].get(machine) for p in patches])
            table_range = row.get(key) or row['python']
            if wheels_range and wheels_range != table_range:
                out.append('torch %s: PyPI has %s wheels for Python %s, TORCH_RELEASES says %s (%s)'
                           % (minor, machine, wheels_range, table_range, key if key in row else 'python'))
        for machine, key in (('x86_64', 'default'), ('aarch64', 'default_aarch64')):
            facts = observed['torch'][newest]['wheel'].get(machine)
            if not facts:
                continue
            variant = variant_of(facts)
            if variant != row.get(key):
                out.append('torch %s: the PyPI %s wheel is %s (%s), TORCH_RELEASES %s is %s'
                           % (newest, machine, variant, facts.get('version'), key, row.get(key)))
                continue
            if variant == 'cpu' or not facts.get('arch_flags'):
                continue
            spec = row['variants'].get(variant) or {}
            cubins, ptx = arch_split(facts['arch_flags'])
            want = (spec.get('archs'), spec.get('ptx')) if machine == 'x86_64' else (spec.get('archs_aarch64'), spec.get('ptx_aarch64'))
            if (tuple(want[0] or ()), want[1]) != (cubins, ptx):
                out.append('torch %s %s %s: the wheel carries %s, TORCH_RELEASES says %s%s'
                           % (newest, machine, variant, ' '.join(facts['arch_flags']),
                              ' '.join('sm_' + a.replace('.', '') for a in want[0] or ()) or 'no wheel',
                              ' + PTX compute_' + want[1].replace('.', '') if want[1] else ' (no PTX)'))
        for patch in patches:
            if patch not in domain:
                out.append('torch %s is on PyPI but has no DOMAIN_LIBRARIES row (torchvision / torchaudio)' % patch)
    for patch, (vision, audio, _src) in sorted(domain.items(), key=lambda kv: vkey(kv[0])):
        if patch not in observed['torch']:
            out.append('DOMAIN_LIBRARIES %s: torch %s is not on PyPI' % (patch, patch))
            continue
        uploaded = observed['torch'][patch]['uploaded']
        for project, have in (('torchvision', vision), ('torchaudio', audio)):
            rels = observed[project]
            if have not in rels:
                out.append('DOMAIN_LIBRARIES %s: %s %s is not on PyPI' % (patch, project, have))
                continue
            want = expected_library(rels, patch, uploaded)
            if want != have:
                out.append('DOMAIN_LIBRARIES %s: %s is %s, PyPI says %s (%s)'
                           % (patch, project, have, want, rels.get(want, {}).get('requires_torch') or 'no torch requirement'))
    for project, index in (('torchvision', 0), ('torchaudio', 1)):
        known = [row[index] for row in domain.values()]
        newest_known = max(known, key=vkey)
        for version in sorted(observed[project], key=vkey):
            if vkey(version) > vkey(newest_known):
                out.append('%s %s is on PyPI (uploaded %s, %s) and newer than any DOMAIN_LIBRARIES row'
                           % (project, version, observed[project][version]['uploaded'],
                              observed[project][version]['requires_torch'] or 'no torch requirement'))
    return out


def _union_range(ranges):
    lows, highs = [], []
    for text in ranges:
        if text:
            low, high = text.split('-')
            lows.append(int(low.split('.')[1]))
            highs.append(int(high.split('.')[1]))
    return '3.%d-3.%d' % (min(lows), max(highs)) if lows else None


def pci_differences():
    """Lines for the PCI table: generated module vs its TSV sources, fixture TSV vs shared/research's."""
    out = []
    spec = importlib.util.spec_from_file_location('gen_pci_ids', os.path.join(ROOT, 'tools', 'gen_pci_ids.py'))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with open(gen.TARGET, encoding='utf-8') as handle:
        current = handle.read()
    if current != gen.render(gen.read_tsv(gen.TSV), gen.read_first_driver_tsv(gen.FIRST_DRIVER_TSV)):
        out.append('plugins/module_utils/_gpu_pci_ids.py differs from what tools/gen_pci_ids.py makes of its '
                   'TSVs: run python3 tools/gen_pci_ids.py')
    notes = []
    shared = os.path.join(SHARED_RESEARCH, TSV_NAME)
    if os.path.exists(shared):
        with open(shared, encoding='utf-8', newline='') as handle:
            original = handle.read().replace('\r\n', '\n')
        with open(gen.TSV, encoding='utf-8') as handle:
            copy = handle.read()
        if original != copy:
            out.append('%s differs from the shared research TSV %s (line endings aside)' % (os.path.relpath(gen.TSV, ROOT), shared))
        notes.append('PCI TSV compared with %s' % shared)
    else:
        notes.append('PCI TSV: %s not on this machine, the copy was not compared with it' % shared)
    return out, notes


# ---------------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--warn', action='store_true', help='report differences as a warning and exit 0')
    parser.add_argument('--observed', help='compare with a recorded observation (JSON) instead of asking PyPI')
    parser.add_argument('--save-observed', help='write what PyPI said to this JSON file')
    parser.add_argument('--cache', default=CACHE, help='cache directory for facts of immutable wheels')
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    log = (lambda text: sys.stderr.write('knowledge-check: %s\n' % text)) if args.verbose else None
    if args.observed:
        with open(args.observed, encoding='utf-8') as handle:
            observed = json.load(handle)
    else:
        try:
            observed = observe(args.cache, log)
        except Unreachable as exc:
            sys.stdout.write('knowledge-check: PyPI does not answer (%s): %s\n' % (exc, 'skipped' if args.warn else 'cannot check'))
            return 0 if args.warn else 2
    if args.save_observed:
        with open(args.save_observed, 'w', encoding='utf-8') as handle:
            json.dump(observed, handle, indent=1, sort_keys=True)
            handle.write('\n')
    differences = compare(tables(), observed)
    pci, notes = pci_differences()
    differences += pci
    source = args.observed or 'PyPI, %s' % observed.get('date')
    sys.stdout.write('knowledge-check: torch %s, torchvision %s, torchaudio %s releases compared (%s)\n'
                     % (len(observed['torch']), len(observed['torchvision']), len(observed['torchaudio']), source))
    for note in notes + ['not compared (not reachable from here): the non-default torch variants on '
                         'download.pytorch.org, NVIDIA\'s driver and CUDA repositories']:
        sys.stdout.write('knowledge-check: %s\n' % note)
    if not differences:
        sys.stdout.write('knowledge-check: the tables match\n')
        return 0
    prefix = 'WARNING: ' if args.warn else ''
    sys.stdout.write('%sknowledge-check: %d difference(s), the tables are stale or wrong:\n' % (prefix, len(differences)))
    for line in differences:
        sys.stdout.write('%s  - %s\n' % (prefix, line))
    return 0 if args.warn else 1


if __name__ == '__main__':
    sys.exit(main())

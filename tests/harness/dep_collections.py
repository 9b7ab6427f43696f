# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collections labops.dlstack depends on, offline, from the pinned `ansible` package.

Galaxy is not reachable from the test machines, but the developer venv's `ansible` package
(requirements-dev.txt) carries community.general, community.docker and their dependencies. This
script takes the dependencies galaxy.yml declares (plus any named on the command line), follows
their own MANIFEST.json dependencies, checks each version against the range asked for, and makes:

    --tree DIR       DIR/ansible_collections/NS/NAME -> the venv's copy (symlinks), a collections path
                     that holds only the dependencies (galaxy-importer's ansible-lint, docs lint)
    --artifacts DIR  DIR/NS-NAME-VERSION.tar.gz, collection artifacts rebuilt from the installed copy
                     (the files the package holds, with their published checksums, which
                     ansible-galaxy verifies on install): the execution environment's offline
                     `type: file` requirements

Run it with the developer venv's python (it reads that venv's site-packages):
    .venv/bin/python tests/harness/dep_collections.py --tree .cache/dep-collections [--artifacts DIR] [community.docker]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import sysconfig
import tarfile

import yaml
from ansible.galaxy.dependency_resolution.versioning import meets_requirements

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def installed(site, fqcn):
    ns, name = fqcn.split('.', 1)
    path = os.path.join(site, 'ansible_collections', ns, name)
    manifest = os.path.join(path, 'MANIFEST.json')
    if not os.path.isfile(manifest):
        raise SystemExit('dep-collections: %s is not in %s (the pinned ansible package of requirements-dev.txt)' % (fqcn, site))
    with open(manifest, encoding='utf-8') as handle:
        info = json.load(handle)['collection_info']
    return path, info['version'], info.get('dependencies') or {}


def resolve(site, wanted):
    """{fqcn: (path, version)} for the wanted {fqcn: range} and everything they depend on."""
    found, queue = {}, list(wanted.items())
    while queue:
        fqcn, req = queue.pop(0)
        path, version, deps = installed(site, fqcn)
        if not meets_requirements(version, req or '*'):
            raise SystemExit('dep-collections: %s %s does not satisfy %s (asked for by galaxy.yml or a dependency)' % (fqcn, version, req))
        if fqcn not in found:
            found[fqcn] = (path, version)
            queue.extend(deps.items())
    return found


def write_tree(tree, found):
    for fqcn, (path, _version) in sorted(found.items()):
        ns, name = fqcn.split('.', 1)
        link = os.path.join(tree, 'ansible_collections', ns, name)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.islink(link) and os.readlink(link) == path:
            continue
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(path, link)


def _add(tar, arcname, data):
    """A directory (data None) or a file, owned by root, mtime 0: the same bytes on every run."""
    info = tarfile.TarInfo(arcname)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, '', ''
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def write_artifact(artifacts, fqcn, path, version):
    """A collection artifact of the installed copy. The ansible package drops each collection's tests
    and CI files but keeps FILES.json whole, so the artifact's FILES.json lists the files that are
    there (their published checksums, verified here) and MANIFEST.json records its new checksum."""
    ns, name = fqcn.split('.', 1)
    out = os.path.join(artifacts, '%s-%s-%s.tar.gz' % (ns, name, version))
    if os.path.exists(out):
        return out
    with open(os.path.join(path, 'FILES.json'), encoding='utf-8') as handle:
        files = json.load(handle)
    with open(os.path.join(path, 'MANIFEST.json'), encoding='utf-8') as handle:
        manifest = json.load(handle)
    present = []
    for entry in files['files']:
        full = os.path.join(path, entry['name'])
        if entry['name'] == '.' or (entry['ftype'] == 'dir' and os.path.isdir(full)):
            present.append(entry)
        elif entry['ftype'] == 'file' and os.path.isfile(full):
            with open(full, 'rb') as handle:
                if hashlib.sha256(handle.read()).hexdigest() != entry['chksum_sha256']:
                    raise SystemExit('dep-collections: %s in %s differs from its FILES.json checksum' % (entry['name'], fqcn))
            present.append(entry)
    files_json = (json.dumps(dict(files, files=present), indent=4) + '\n').encode('utf-8')
    manifest['file_manifest_file']['chksum_sha256'] = hashlib.sha256(files_json).hexdigest()
    manifest_json = (json.dumps(manifest, indent=4) + '\n').encode('utf-8')
    os.makedirs(artifacts, exist_ok=True)
    tmp = out + '.tmp'
    with open(tmp, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode='w', format=tarfile.GNU_FORMAT) as tar:
        _add(tar, 'MANIFEST.json', manifest_json)
        _add(tar, 'FILES.json', files_json)
        for entry in present:
            if entry['name'] != '.':
                full = os.path.join(path, entry['name'])
                _add(tar, entry['name'], None if entry['ftype'] == 'dir' else open(full, 'rb').read())
    os.replace(tmp, out)
    return out


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--tree')
    parser.add_argument('--artifacts')
    parser.add_argument('extra', nargs='*', help='further collections (the demo lab needs community.docker)')
    args = parser.parse_args(argv)
    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as handle:
        wanted = dict(yaml.safe_load(handle).get('dependencies') or {})
    wanted.update({name: '*' for name in args.extra})
    site = sysconfig.get_paths()['purelib']
    found = resolve(site, wanted)
    if args.tree:
        write_tree(args.tree, found)
    for fqcn, (path, version) in sorted(found.items()):
        where = write_artifact(args.artifacts, fqcn, path, version) if args.artifacts else path
        print('%s %s %s' % (fqcn, version, where))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

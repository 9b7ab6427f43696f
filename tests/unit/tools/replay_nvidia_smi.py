# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replay recorded nvidia-smi output: `replay_nvidia_smi.py SPEC.json <nvidia-smi arguments>`.

SPEC (JSON):
  valid_fields: the --query-gpu fields this driver knows (from a recorded --help-query-gpu), or null
  gpus:         one dict per GPU, field -> value as --format=csv,noheader,nounits prints it (recorded)
  version:      {"rc": 0, "stdout": "..."} answer to --version, or null (rc 2, nothing printed)
  failure:      {"rc": N, "stdout": "...", "stderr": "..."} printed for every call (a broken driver), or null
  xml:          recorded `-q -x` output, or null

Only the behaviour the module relies on is replayed: an unknown query field prints the recorded
error text `Field "<name>" is not a valid field to query.` and exits 2 (h200-driver580/misc.txt).
"""

from __future__ import annotations

import json
import sys


def respond(spec, argv):
    """(rc, stdout, stderr) for nvidia-smi arguments argv (without the program name)."""
    failure = spec.get('failure')
    if failure:
        return failure.get('rc', 255), failure.get('stdout', ''), failure.get('stderr', '')
    query = [a for a in argv if a.startswith('--query-gpu=')]
    if query:
        fields = query[0].split('=', 1)[1].split(',')
        valid = spec.get('valid_fields')
        for field in fields:
            if valid is not None and field not in valid:
                return 2, 'Field "%s" is not a valid field to query.\n\n' % field, ''
        lines = []
        for gpu in spec.get('gpus', []):
            lines.append(', '.join(gpu[f] for f in fields))
        if not lines:
            return 6, 'No devices were found\n', ''
        return 0, '\n'.join(lines) + '\n', ''
    if argv[:1] == ['--version']:
        version = spec.get('version')
        if not version:
            return 2, '', ''
        return version.get('rc', 0), version['stdout'], ''
    if argv[:2] == ['-q', '-x']:
        if spec.get('xml') is None:
            return 2, '', ''
        return 0, spec['xml'], ''
    return 2, '', 'replay: arguments not recorded: %r\n' % (argv,)


def main(argv):
    with open(argv[1], encoding='utf-8') as handle:
        spec = json.load(handle)
    rc, out, err = respond(spec, argv[2:])
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))

# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replay recorded nvidia-smi output: `replay_nvidia_smi.py SPEC.json <nvidia-smi arguments>`.

SPEC (JSON):
  valid_fields: the --query-gpu fields this driver knows (from a recorded --help-query-gpu), or null
  gpus:         one dict per GPU, field -> value as --format=csv,noheader,nounits prints it (recorded)
  version:      {"rc": 0, "stdout": "..."} answer to --version, or null (rc 2, nothing printed)
  failure:      {"rc": N, "stdout": "...", "stderr": "..."} printed for every call (a broken driver), or null
  xml:          recorded `-q -x` output, or null
  compute_apps: one dict per process for --query-compute-apps, field -> value as --format=csv,noheader,nounits
                prints it (gpu_bus_id, pid, process_name, used_gpu_memory); null or [] = no process
  compute_apps_fields: the --query-compute-apps fields this driver knows (a recorded --help-query-compute-apps), or null
  call_log:     a file each call appends its arguments to (one line), or null

Only the behaviour the module relies on is replayed: an unknown query field prints the recorded
error text `Field "<name>" is not a valid field to query.` and exits 2 (h200-driver580/misc.txt).
"""

from __future__ import annotations

import json
import sys


# --query-compute-apps aliases (`nvidia-smi --help-query-compute-apps`: "process_name" or "name",
# "used_gpu_memory" or "used_memory")
COMPUTE_APPS_ALIASES = {'name': 'process_name', 'used_memory': 'used_gpu_memory'}


def query_fields(argv, option):
    """['a', 'b'] for `option=a,b` in argv (the first one); None when argv does not ask it."""
    query = [a for a in argv if a.startswith(option + '=')]
    return query[0].split('=', 1)[1].split(',') if query else None


def unknown_field(fields, valid):
    """nvidia-smi's answer to the first of fields it does not know (valid: the recorded fields, None = any), or None."""
    for field in fields:
        if valid is not None and field not in valid:
            return 2, 'Field "%s" is not a valid field to query.\n\n' % field, ''
    return None


def respond(spec, argv):
    """(rc, stdout, stderr) for nvidia-smi arguments argv (without the program name)."""
    failure = spec.get('failure')
    if failure:
        return failure.get('rc', 255), failure.get('stdout', ''), failure.get('stderr', '')
    fields = query_fields(argv, '--query-gpu')
    if fields is not None:
        refusal = unknown_field(fields, spec.get('valid_fields'))
        if refusal:
            return refusal
        lines = []
        for gpu in spec.get('gpus', []):
            lines.append(', '.join(gpu[f] for f in fields))
        if not lines:
            return 6, 'No devices were found\n', ''
        return 0, '\n'.join(lines) + '\n', ''
    fields = query_fields(argv, '--query-compute-apps')
    if fields is not None:
        refusal = unknown_field(fields, spec.get('compute_apps_fields'))
        if refusal:
            return refusal
        lines = [', '.join(row[COMPUTE_APPS_ALIASES.get(f, f)] for f in fields) for row in spec.get('compute_apps') or []]
        return 0, ''.join(line + '\n' for line in lines), ''
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
    if spec.get('call_log'):
        with open(spec['call_log'], 'a', encoding='utf-8') as handle:
            handle.write(' '.join(argv[2:]) + '\n')
    rc, out, err = respond(spec, argv[2:])
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))

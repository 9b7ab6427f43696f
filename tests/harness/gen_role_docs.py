# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/roles.md from every role's meta/argument_specs.yml (the one source of the variables).

    python tests/harness/gen_role_docs.py          # rewrite docs/roles.md
    python tests/harness/gen_role_docs.py --check  # exit 1 when docs/roles.md is out of date

tests/unit/test_role_interfaces.py runs the check, so the page cannot drift from the specs.
"""

from __future__ import annotations

import os
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'docs', 'roles.md')


def _cell(text):
    return ' '.join(str(text).split()).replace('|', '\\|')


def _default(spec):
    if 'default' not in spec:
        return '*required*' if spec.get('required') else ''
    value = spec['default']
    if isinstance(value, str):
        return '`"%s"`' % value if value == '' else '`%s`' % value
    return '`%s`' % yaml.safe_dump(value, default_flow_style=True, width=10000).strip().replace('...', '').strip()


def _type(spec):
    kind = spec.get('type', 'str')
    if kind == 'list' and spec.get('elements'):
        kind = 'list of %s' % spec['elements']
    if spec.get('choices'):
        kind += ': ' + ', '.join('`%s`' % c for c in spec['choices'])
    return kind


def _options(options, prefix=''):
    rows = []
    for name in sorted(options):
        spec = options[name] or {}
        desc = spec.get('description', '')
        if isinstance(desc, list):
            desc = ' '.join(desc)
        rows.append('| `%s%s` | %s | %s | %s |' % (prefix, name, _cell(_type(spec)), _cell(_default(spec)), _cell(desc)))
        if spec.get('options'):
            rows.extend(_options(spec['options'], prefix='%s%s[].' % (prefix, name) if spec.get('type') == 'list' else '%s%s.' % (prefix, name)))
    return rows


def render():
    lines = ['# Role variables', '',
             'Generated from each role\'s `meta/argument_specs.yml` by `tests/harness/gen_role_docs.py`; do not edit.',
             'The same text is what `ansible-doc -t role labops.dlstack.ROLE` shows, and what Ansible',
             'validates every run against before the role changes anything.', '']
    roles = sorted(d for d in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isfile(os.path.join(ROOT, 'roles', d, 'meta', 'argument_specs.yml')))
    lines.append('Roles: ' + ', '.join('[%s](#%s)' % (r, r.replace('_', '_')) for r in roles) + '.')
    lines.append('')
    for role in roles:
        with open(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
            specs = yaml.safe_load(handle)['argument_specs']
        for entry, spec in sorted(specs.items()):
            title = role if entry == 'main' else '%s (tasks_from: %s)' % (role, entry)
            lines += ['## %s' % title, '', '`labops.dlstack.%s`: %s' % (role, _cell(spec.get('short_description', ''))), '']
            desc = spec.get('description') or []
            for para in (desc if isinstance(desc, list) else [desc]):
                lines += [_cell(para), '']
            lines += ['| variable | type | default | description |', '| --- | --- | --- | --- |']
            lines += _options(spec.get('options') or {})
            lines.append('')
    return '\n'.join(lines).rstrip() + '\n'


def main(argv):
    text = render()
    if '--check' in argv:
        current = open(OUT, encoding='utf-8').read() if os.path.exists(OUT) else ''
        if current != text:
            sys.stderr.write('docs/roles.md is out of date: run python tests/harness/gen_role_docs.py\n')
            return 1
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w', encoding='utf-8') as handle:
        handle.write(text)
    print(OUT)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write docs/roles.md and every roles/ROLE/README.md from the roles' meta/argument_specs.yml
(the one source of a role's description, variables and example).

    python tools/gen_role_docs.py          # rewrite docs/roles.md and roles/*/README.md
    python tools/gen_role_docs.py --check  # exit 1 when one of them is out of date

The argument specs are written in Ansible's documentation markup (C(), O(), V(), M(), ...);
antsibull-docs-parser turns it into Markdown here, so the pages show code, not raw markup.
tests/unit/test_role_interfaces.py runs the check, so the pages cannot drift from the specs.
"""

from __future__ import annotations

import os
import re
import sys

import yaml
from antsibull_docs_parser import dom
from antsibull_docs_parser.md import MDFormatter, to_md
from antsibull_docs_parser.parser import Context, parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
COLLECTION = 'labops.dlstack'
ROLES_PAGE = os.path.join('docs', 'roles.md')
# What would turn plain text into Markdown syntax: backslashes, backticks, emphasis, links, HTML
# tags; an underscore only where it could start or end emphasis (not inside a name like conda_users).
_TEXT_ESCAPE = re.compile(r'([\\`*\[\]]|(?<!\w)_|_(?!\w)|<(?=[A-Za-z/!?]))')


def _code(text):
    """A Markdown code span that holds any text (backticks inside get a longer fence)."""
    text = str(text)
    fence = '`'
    while fence in text:
        fence += '`'
    pad = ' ' if text.startswith('`') or text.endswith('`') else ''
    return '%s%s%s%s%s' % (fence, pad, text, pad, fence)


class _Formatter(MDFormatter):
    """Markdown that reads well as plain text too: code spans, not <code> tags and backslashes."""

    @staticmethod
    def _format_option_like(part, url):
        return _code(part.name if part.value is None else '%s=%s' % (part.name, part.value))

    def format_code(self, part):
        return _code(part.text)

    def format_option_value(self, part):
        return _code(part.value)

    def format_env_variable(self, part):
        return _code(part.name)

    def format_module(self, part, url):
        return _code(part.fqcn)

    def format_plugin(self, part, url):
        return _code(part.plugin.fqcn)

    def format_bold(self, part):
        return '**%s**' % _TEXT_ESCAPE.sub(r'\\\1', part.text)

    def format_italic(self, part):
        return '*%s*' % _TEXT_ESCAPE.sub(r'\\\1', part.text)

    def format_link(self, part):
        return '[%s](%s)' % (_TEXT_ESCAPE.sub(r'\\\1', part.text), part.url)

    def format_url(self, part):
        return '<%s>' % part.url

    def format_rst_ref(self, part):
        return _TEXT_ESCAPE.sub(r'\\\1', part.text)

    def format_text(self, part):
        return _TEXT_ESCAPE.sub(r'\\\1', part.text)


_FORMATTER = _Formatter()


def markup(text, role, entry='main'):
    """One paragraph of Ansible doc markup as one line of Markdown."""
    plugin = dom.PluginIdentifier(fqcn='%s.%s' % (COLLECTION, role), type='role')
    paragraphs = parse(' '.join(str(text).split()), Context(current_plugin=plugin, role_entrypoint=entry),
                       errors='exception', strict=True)
    return ' '.join(to_md(paragraphs, formatter=_FORMATTER, current_plugin=plugin).split())


def _paragraphs(value):
    if not value:
        return []
    return value if isinstance(value, list) else [value]


def _default(spec):
    if 'default' not in spec:
        return '*required*' if spec.get('required') else ''
    value = spec['default']
    if isinstance(value, str):
        return _code(value) if value else '`""`'
    return _code(yaml.safe_dump(value, default_flow_style=True, width=10000).strip().replace('...', '').strip())


def _type(spec):
    kind = spec.get('type', 'str')
    if kind == 'list' and spec.get('elements'):
        kind = 'list of %s' % spec['elements']
    if spec.get('choices'):
        kind += ': ' + ', '.join(_code(c) if c != '' else '`""`' for c in spec['choices'])
    return kind


def _cell(text):
    return ' '.join(str(text).split()).replace('|', '\\|')


def _options(options, role, entry, prefix=''):
    rows = []
    for name in sorted(options):
        spec = options[name] or {}
        desc = ' '.join(markup(p, role, entry) for p in _paragraphs(spec.get('description')))
        rows.append('| %s | %s | %s | %s |' % (_code(prefix + name), _cell(_type(spec)), _cell(_default(spec)), _cell(desc)))
        if spec.get('options'):
            sub = '%s%s[].' % (prefix, name) if spec.get('type') == 'list' else '%s%s.' % (prefix, name)
            rows.extend(_options(spec['options'], role, entry, prefix=sub))
    return rows


def _load(role):
    with open(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle)['argument_specs']


def roles():
    base = os.path.join(ROOT, 'roles')
    return sorted(d for d in os.listdir(base) if os.path.isfile(os.path.join(base, d, 'meta', 'argument_specs.yml')))


def _entry_body(role, entry, spec, heading):
    """Description, example, variables and notes of one entry point, headings at level `heading`."""
    lines = []
    for para in _paragraphs(spec.get('description')):
        lines += [markup(para, role, entry), '']
    if spec.get('examples'):
        lines += ['%s Example' % heading, '', '```yaml', spec['examples'].strip('\n'), '```', '']
    lines += ['%s Variables' % heading, '', '| variable | type | default | description |', '| --- | --- | --- | --- |']
    lines += _options(spec.get('options') or {}, role, entry)
    lines.append('')
    notes = _paragraphs(spec.get('notes'))
    if notes:
        lines += ['%s Notes' % heading, '']
        lines += ['- %s' % markup(note, role, entry) for note in notes]
        lines.append('')
    return lines


def render_roles_page():
    lines = ['# Role variables', '',
             'Generated from each role\'s `meta/argument_specs.yml` by `tools/gen_role_docs.py`; do not edit.',
             'The same text is what `ansible-doc -t role labops.dlstack.ROLE` shows, and what Ansible',
             'validates every run against before the role changes anything. Each role\'s README.md holds the same.', '']
    names = roles()
    lines.append('Roles: ' + ', '.join('[%s](#%s)' % (r, r) for r in names) + '.')
    lines.append('')
    for role in names:
        for entry, spec in sorted(_load(role).items()):
            title = role if entry == 'main' else '%s (tasks_from: %s)' % (role, entry)
            lines += ['## %s' % title, '', '`%s.%s`: %s' % (COLLECTION, role, markup(spec.get('short_description', ''), role, entry)), '']
            lines += _entry_body(role, entry, spec, '###')
    return '\n'.join(lines).rstrip() + '\n'


def render_role_readme(role):
    specs = _load(role)
    main = specs.get('main') or {}
    lines = ['# %s.%s' % (COLLECTION, role), '',
             markup(main.get('short_description', ''), role) + '.', '',
             '<!-- Generated from meta/argument_specs.yml by tools/gen_role_docs.py; do not edit. -->',
             '`ansible-doc -t role %s.%s` shows the same. Every variable is validated before the role changes'
             ' anything; invalid input fails with a message naming the variable.' % (COLLECTION, role), '']
    for entry, spec in sorted(specs.items(), key=lambda item: (item[0] != 'main', item[0])):
        if entry != 'main':
            lines += ['## tasks_from: %s' % entry, '', markup(spec.get('short_description', ''), role, entry) + '.', '']
        lines += _entry_body(role, entry, spec, '##' if entry == 'main' else '###')
    lines += ['## Licence', '', 'GPL-3.0-or-later, as the collection.', '']
    return '\n'.join(lines).rstrip() + '\n'


def outputs():
    """{relative path: text} of every generated page."""
    pages = {ROLES_PAGE: render_roles_page()}
    for role in roles():
        pages[os.path.join('roles', role, 'README.md')] = render_role_readme(role)
    return pages


def main(argv):
    stale = []
    for rel, text in sorted(outputs().items()):
        path = os.path.join(ROOT, rel)
        current = open(path, encoding='utf-8').read() if os.path.exists(path) else ''
        if current == text:
            continue
        if '--check' in argv:
            stale.append(rel)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        print(rel)
    if stale:
        sys.stderr.write('out of date (run python tools/gen_role_docs.py): %s\n' % ', '.join(stale))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

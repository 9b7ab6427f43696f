#!/bin/sh
#
# STAND-IN for a conda constructor installer (Miniforge3), used by the molecule scenario `conda`
# where no real installer can be downloaded. It is NOT conda. See molecule/conda/README.md.
#
# NAME:  Miniforge3
# VER:   26.3.2-3
# PLAT:  linux-64
#
# What it follows from conda/constructor's header.sh: the command line (-b batch, -p PREFIX,
# -u update an existing installation, -f no error if the prefix exists, -h help with exit 2), the
# refusal of an existing prefix without -u (same messages), the refusal of prefixes with spaces, and
# the prefix layout (bin/conda, condabin/conda, conda-meta/ with package records and history,
# etc/profile.d/conda.sh, envs/, pkgs/, .condarc written like Miniforge's write_condarc).
# What it does instead of the real thing: no packages are unpacked; bin/python is a venv of the
# system python3; bin/conda is a small Python script that answers --version, info --json,
# shell.<bash|zsh> hook, create -p/-n (a venv of the system python3), env list --json and run.
# The next line is rewritten by the test's prepare step to make other versions of this stand-in.
STANDIN_VERSION=26.3.2-3
# Set to 1 by the prepare step for a stand-in that fails half-way (after creating the prefix).
STANDIN_FAIL_HALFWAY=0

set -eu

CONDA_VERSION=${STANDIN_VERSION%-*}
PREFIX="${HOME:-/opt}/miniforge3"
BATCH=0
FORCE=0
USAGE="
usage: $0 [options]

Installs Miniforge3 $STANDIN_VERSION (stand-in)

-b           run install in batch mode (without manual intervention),
             it is expected the license terms (if any) are agreed upon
-f           no error if install prefix already exists
-h           print this help message and exit
-p PREFIX    install prefix, defaults to $PREFIX, must not contain spaces.
-u           update an existing installation
"

case "$0" in
    *.sh) ;;
    *) printf 'Please run using "bash"/"dash"/"sh"/"zsh", but not "." or "source".\n' >&2; exit 1 ;;
esac

while getopts "bfhp:sutkc" x; do
    case "$x" in
        h) printf '%s\n' "$USAGE"; exit 2 ;;
        b) BATCH=1 ;;
        f) FORCE=1 ;;
        p) PREFIX="$OPTARG" ;;
        u) FORCE=1 ;;
        s|t|k|c) ;;
        ?) printf "ERROR: did not recognize option '%s', please try -h\n" "$x" >&2; exit 1 ;;
    esac
done

if [ "$BATCH" = "0" ]; then
    printf 'stand-in installer: only batch mode (-b) is implemented\n' >&2
    exit 2
fi

case "$PREFIX" in
    *\ *) printf 'ERROR: Cannot install into directories with spaces\n' >&2; exit 1 ;;
esac

if [ "$FORCE" = "0" ] && [ -e "$PREFIX" ]; then
    printf "ERROR: File or directory already exists: '%s'\n" "$PREFIX" >&2
    printf 'If you want to update an existing installation, use the -u option.\n' >&2
    exit 1
fi

if ! mkdir -p "$PREFIX"; then
    printf "ERROR: Could not create directory: '%s'\n" "$PREFIX" >&2
    exit 1
fi
PREFIX=$(cd "$PREFIX"; pwd)
export PREFIX
printf 'PREFIX=%s\n' "$PREFIX"
printf 'Unpacking payload ...\n'

# The base environment's Python: a venv of the system python3 (the real installer unpacks its own).
if [ ! -x "$PREFIX/bin/python" ]; then
    python3 -m venv --without-pip "$PREFIX"
fi
PYVER=$("$PREFIX/bin/python" -c 'import platform; print(platform.python_version())')

if [ "$STANDIN_FAIL_HALFWAY" = "1" ]; then
    printf 'ERROR: stand-in told to fail half-way (after creating %s)\n' "$PREFIX" >&2
    exit 1
fi

mkdir -p "$PREFIX/conda-meta" "$PREFIX/condabin" "$PREFIX/etc/profile.d" "$PREFIX/envs" "$PREFIX/pkgs"
rm -f "$PREFIX"/conda-meta/conda-*.json "$PREFIX"/conda-meta/python-*.json
cat > "$PREFIX/conda-meta/conda-$CONDA_VERSION-standin_0.json" <<EOF
{"name": "conda", "version": "$CONDA_VERSION", "build": "standin_0", "build_number": 0,
 "channel": "https://conda.anaconda.org/conda-forge", "subdir": "linux-64", "files": ["bin/conda", "condabin/conda"]}
EOF
cat > "$PREFIX/conda-meta/python-$PYVER-standin_0.json" <<EOF
{"name": "python", "version": "$PYVER", "build": "standin_0", "build_number": 0,
 "channel": "https://conda.anaconda.org/conda-forge", "subdir": "linux-64", "files": ["bin/python"]}
EOF
printf '==> %s <==\n# cmd: stand-in installer %s -b -p %s\n+conda-forge/linux-64::conda-%s-standin_0\n' \
    "$(date '+%Y-%m-%d %H:%M:%S')" "$STANDIN_VERSION" "$PREFIX" "$CONDA_VERSION" >> "$PREFIX/conda-meta/history"

# bin/conda: a Python entry point, like the real one.
{
    printf '#!%s/bin/python\n' "$PREFIX"
    printf 'CONDA_VERSION = "%s"\n' "$CONDA_VERSION"
    cat <<'PYEOF'
"""STAND-IN conda (labops.dlstack molecule scenario `conda`): answers the few commands the collection
uses, from the layout the stand-in installer made. It resolves, downloads and installs no package."""
import json
import os
import platform
import shutil
import subprocess
import sys

PREFIX = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def condarc_value(key):
    """Top-level scalar or list of PREFIX/.condarc, read without a YAML library (stand-in)."""
    path = os.path.join(PREFIX, '.condarc')
    if not os.path.exists(path):
        return None
    value, items = None, None
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('#') or not line.strip():
                continue
            if items is not None and line.startswith(('  - ', '- ')):
                items.append(line.split('- ', 1)[1].strip())
                continue
            if items is not None:
                return items
            if line.startswith(key + ':'):
                rest = line.split(':', 1)[1].strip()
                if rest:
                    return rest
                items = []
    return items if items is not None else value


def envs():
    root = os.path.join(PREFIX, 'envs')
    found = [PREFIX]
    if os.path.isdir(root):
        found += [os.path.join(root, name) for name in sorted(os.listdir(root))
                  if os.path.isdir(os.path.join(root, name, 'conda-meta'))]
    return found


def info(args):
    data = {
        'conda_version': CONDA_VERSION,
        'python_version': platform.python_version() + '.final.0',
        'root_prefix': PREFIX,
        'active_prefix': os.environ.get('CONDA_PREFIX'),
        'conda_prefix': PREFIX,
        'platform': 'linux-64',
        'channels': ['https://conda.anaconda.org/%s/linux-64' % c for c in (condarc_value('channels') or ['conda-forge'])],
        'envs': envs(),
        'envs_dirs': [os.path.join(PREFIX, 'envs')],
        'pkgs_dirs': [os.path.join(PREFIX, 'pkgs')],
        'sys.version': sys.version,
        'stand_in': True,
    }
    if '--json' in args:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print('     active environment : %s' % (os.environ.get('CONDA_DEFAULT_ENV') or 'None'))
        print('          conda version : %s' % CONDA_VERSION)
        print('       base environment : %s' % PREFIX)
        print('  (stand-in conda: no packages, no channels are reached)')
    return 0


def hook(shell):
    print('. "%s/etc/profile.d/conda.sh"' % PREFIX)
    if str(condarc_value('auto_activate')).lower() == 'true':
        print('conda activate base')
    return 0


def target_prefix(args):
    for flag in ('-p', '--prefix'):
        if flag in args:
            return os.path.abspath(args[args.index(flag) + 1])
    for flag in ('-n', '--name'):
        if flag in args:
            name = args[args.index(flag) + 1]
            return PREFIX if name == 'base' else os.path.join(PREFIX, 'envs', name)
    return None


def create(args):
    target = target_prefix(args)
    if not target:
        sys.stderr.write('stand-in conda create: give -p PREFIX or -n NAME\n')
        return 2
    specs = [a for a in args if not a.startswith('-') and a not in (target, os.path.basename(target))]
    wanted = [s.split('=', 1)[1] for s in specs if s.startswith('python=')]
    have = '%d.%d' % sys.version_info[:2]
    if wanted and not have.startswith(wanted[0].rstrip('.*')) and not wanted[0].startswith(have):
        sys.stderr.write('stand-in conda: python=%s asked; this stand-in only has the system python %s '
                         '(a real conda would install %s)\n' % (wanted[0], have, wanted[0]))
    if os.path.exists(target):
        if '-y' not in args and '--yes' not in args:
            sys.stderr.write('CondaValueError: prefix already exists: %s\n' % target)
            return 1
        shutil.rmtree(target)
    system_python = os.path.realpath(os.path.join(PREFIX, 'bin', 'python'))
    command = [system_python, '-m', 'venv', target]
    if subprocess.call([system_python, '-c', 'import ensurepip'], stderr=subprocess.DEVNULL) != 0:
        command.insert(3, '--without-pip')
    subprocess.check_call(command)
    os.makedirs(os.path.join(target, 'conda-meta'), exist_ok=True)
    with open(os.path.join(target, 'conda-meta', 'history'), 'a', encoding='utf-8') as handle:
        handle.write('# cmd: conda create %s\n# stand-in: venv of %s; specs not installed: %s\n'
                     % (' '.join(args), system_python, ' '.join(specs)))
    if '--json' in args:
        print(json.dumps({'success': True, 'prefix': target, 'actions': {'PREFIX': target}, 'stand_in': True}))
    return 0


def run(args):
    target = target_prefix(args) or PREFIX
    rest = list(args)
    for flag in ('-p', '--prefix', '-n', '--name'):
        if flag in rest:
            index = rest.index(flag)
            del rest[index:index + 2]
    rest = [a for a in rest if a not in ('--no-capture-output', '--live-stream')]
    if not rest:
        sys.stderr.write('stand-in conda run: no command\n')
        return 2
    env = dict(os.environ, CONDA_PREFIX=target, PATH=os.path.join(target, 'bin') + os.pathsep + os.environ.get('PATH', ''))
    return subprocess.call(rest, env=env)


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print('usage: conda [-V] command ...  (stand-in: --version, info, shell.bash hook, create, env list, run)')
        return 0
    if argv[0] in ('-V', '--version'):
        print('conda %s' % CONDA_VERSION)
        return 0
    if argv[0] == 'info':
        return info(argv[1:])
    if argv[0].startswith('shell.') and argv[1:2] == ['hook']:
        return hook(argv[0].split('.', 1)[1])
    if argv[0] == 'create' or argv[:2] == ['env', 'create']:
        return create(argv[1:] if argv[0] == 'create' else argv[2:])
    if argv[:2] == ['env', 'list'] and '--json' in argv:
        print(json.dumps({'envs': envs()}))
        return 0
    if argv[0] == 'run':
        return run(argv[1:])
    sys.stderr.write("stand-in conda: '%s' is not implemented (this is not conda)\n" % ' '.join(argv))
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
PYEOF
} > "$PREFIX/bin/conda"
chmod 0755 "$PREFIX/bin/conda"

cat > "$PREFIX/condabin/conda" <<EOF
#!/bin/sh
exec "$PREFIX/bin/conda" "\$@"
EOF
chmod 0755 "$PREFIX/condabin/conda"

# etc/profile.d/conda.sh: the conda shell function (activate/deactivate change PATH; the rest runs bin/conda).
cat > "$PREFIX/etc/profile.d/conda.sh" <<EOF
export CONDA_EXE='$PREFIX/bin/conda'
export CONDA_PYTHON_EXE='$PREFIX/bin/python'
__conda_standin_path_base="\$PATH"
conda() {
    case "\${1:-}" in
        activate)
            __conda_target="\${2:-base}"
            if [ "\$__conda_target" = base ]; then __conda_target='$PREFIX'; fi
            case "\$__conda_target" in /*) ;; *) __conda_target='$PREFIX/envs/'"\$__conda_target" ;; esac
            export CONDA_PREFIX="\$__conda_target"
            export CONDA_DEFAULT_ENV="\$(basename "\$__conda_target")"
            export PATH="\$__conda_target/bin:$PREFIX/condabin:\$__conda_standin_path_base"
            ;;
        deactivate)
            unset CONDA_PREFIX CONDA_DEFAULT_ENV
            export PATH="$PREFIX/condabin:\$__conda_standin_path_base"
            ;;
        *) "\$CONDA_EXE" "\$@" ;;
    esac
}
case ":\$PATH:" in *":$PREFIX/condabin:"*) ;; *) export PATH="$PREFIX/condabin:\$PATH" ;; esac
EOF
chmod 0644 "$PREFIX/etc/profile.d/conda.sh"

# Miniforge's construct.yaml has write_condarc: True with channels [conda-forge].
if [ ! -e "$PREFIX/.condarc" ]; then
    printf 'channels:\n  - conda-forge\n' > "$PREFIX/.condarc"
fi

printf 'installation finished.\n'
exit 0

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test downloads get-pip.py from ci-files.testing.ansible.com into
~/.ansible/test/cache/get_pip_<version>.py before it builds each sanity-test venv. Where that host
is unreachable (offline labs, CI behind a package proxy) it fails. This shim does the same job from
what every CPython has: ensurepip installs the bundled pip into the venv, then that pip installs the
exact pip version ansible-test asked for from the configured package index, trusting the CA bundle
named by DLSTACK_CA_BUNDLE / PIP_CERT / SSL_CERT_FILE (TLS-intercepting proxies).
See ansible/ansible#77304. Installed by tests/harness/sanity.sh.
"""
import ensurepip
import os
import subprocess
import sys


def main():
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    ensurepip.bootstrap(upgrade=False, default_pip=True)
    cmd = [sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check']
    for var in ('DLSTACK_CA_BUNDLE', 'PIP_CERT', 'SSL_CERT_FILE'):
        if os.environ.get(var) and os.path.isfile(os.environ[var]):
            cmd += ['--cert', os.environ[var]]
            break
    else:
        if os.path.isfile('/etc/ssl/certs/ca-certificates.crt'):
            cmd += ['--cert', '/etc/ssl/certs/ca-certificates.crt']
    subprocess.check_call(cmd + [a for a in args if not a.startswith('--disable-pip-version-check')])


if __name__ == '__main__':
    main()

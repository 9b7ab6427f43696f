# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Invalid inputs across the roles: each run of the site playbook fails before any change, naming the variable.

The cases after pytorch-matmul-size-zero are the classes of issue #12, one each (the rules of every class
have their own unit cases in tests/unit/plugins/module_utils/test_role_inputs.py): a package string that is
not a PEP 508 requirement, a path that must be absolute, an environment and a conda prefix where their
user cannot own them, a value this run does not use (an index URL while offline), a version that is not
a pin, an unbounded size, a controller file that does not exist, a version YAML reads as a number.

One container for the whole module; its state (files, dpkg, holds) is snapshotted once and compared
after every case, so a case that changes anything fails (the container is then replaced by a fresh one,
so the next case starts clean). Each case runs `ansible-playbook labops.dlstack.site --tags <stage>`
(the probe and the controller-side fleet report run with every tag) with the demo-like lab inventory
(conftest.lab_vars) plus the case's variables, on the container as it is (no GPU) or on a recorded GPU
host (tests/unit/tools/gpu_profile.py):
  rtx4090-r535        GeForce RTX 4090 on driver 535.86.05 (proprietary module)
  blackwell-nodriver  RTX PRO 6000 Blackwell Max-Q, no driver
  rtx3090-nouveau     GeForce RTX 3090 bound to nouveau, no driver
"""

from __future__ import annotations

import pytest

from dlstack_faults import gpu_vars, lab_vars, run_playbook, snapshot, snapshot_diff, start_container, write_inventory

PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n'


def case(case_id, stage, expect, profile=None, **variables):
    return pytest.param(stage, profile, variables, expect, id=case_id)


CASES = [
    # ca_trust
    case('ca-src-and-content', 'ca', 'ca_trust_certificates',
         ca_trust_certificates=[{'name': 'lab-ca', 'src': '/etc/ssl/certs/ca-certificates.crt', 'content': PEM}]),
    case('ca-name-with-slash', 'ca', 'ca_trust_certificates', ca_trust_certificates=[{'name': 'lab/ca', 'content': PEM}]),
    case('ca-not-pem', 'ca', 'ca_trust_certificates', ca_trust_certificates=[{'name': 'lab-ca', 'content': 'hello'}]),
    case('ca-configure-pip-not-bool', 'ca', 'ca_trust_configure_pip', ca_trust_configure_pip='sometimes'),
    # nvidia_driver (and apt_components, which it includes for Debian's non-free components)
    # site.yml's driver batches (read from the inventory, one value for the run)
    case('site-serial-not-a-batch-size', 'driver', 'dlstack_serial', 'rtx3090-nouveau', dlstack_serial='quarter'),
    case('site-max-fail-over-100', 'driver', 'dlstack_max_fail_percentage', 'rtx3090-nouveau',
         dlstack_max_fail_percentage=150),
    case('driver-flavour-unknown', 'driver', 'nvidia_driver_flavour', 'rtx3090-nouveau', nvidia_driver_flavour='closed'),
    case('driver-blackwell-proprietary', 'driver', 'nvidia_driver_flavour', 'blackwell-nodriver',
         nvidia_driver_source='nvidia', nvidia_driver_flavour='proprietary'),
    case('driver-blackwell-debian12-distro', 'driver', 'nvidia_driver_source', 'blackwell-nodriver'),
    case('driver-branch-not-a-number', 'driver', 'nvidia_driver_branch', 'rtx3090-nouveau', nvidia_driver_branch='latest'),
    case('driver-branch-too-old-for-blackwell', 'driver', 'nvidia_driver_branch', 'blackwell-nodriver',
         nvidia_driver_source='nvidia', nvidia_driver_branch='470'),
    case('driver-mok-key-without-cert', 'driver', 'nvidia_driver_mok_key', 'rtx3090-nouveau',
         nvidia_driver_mok_key='/root/mok.priv'),
    case('driver-require-gpu-on-cpu-host', 'driver', 'nvidia_driver_require_gpu', nvidia_driver_require_gpu=True),
    case('driver-reboot-timeout-negative', 'driver', 'nvidia_driver_reboot_timeout', 'rtx3090-nouveau',
         nvidia_driver_reboot_timeout=-5),
    case('driver-mirror-not-a-uri', 'driver', 'apt_components_mirror', 'rtx3090-nouveau',
         apt_components_mirror='deb.debian.org/debian'),
    case('driver-keyring-missing', 'driver', 'apt_components_keyring', 'rtx3090-nouveau',
         apt_components_keyring='/usr/share/keyrings/no-such-keyring.gpg'),
    case('driver-branch-not-offered', 'driver', 'nvidia_driver_branch 999 is not available on', nvidia_driver_branch='999'),
    case('driver-branch-470-open', 'driver', 'nvidia_driver_flavour', 'rtx3090-nouveau', nvidia_driver_branch='470',
         nvidia_driver_flavour='open'),
    case('driver-source-unknown', 'driver', 'nvidia_driver_source', nvidia_driver_source='ppa'),
    case('driver-state-unknown', 'driver', 'nvidia_driver_state', nvidia_driver_state='latest'),
    case('driver-hold-not-bool', 'driver', 'nvidia_driver_hold', nvidia_driver_hold=[1, 2]),
    case('driver-reboot-timeout-not-int', 'driver', 'nvidia_driver_reboot_timeout', nvidia_driver_reboot_timeout='soon'),
    # cuda_toolkit
    case('cuda-version-distro-cannot-give', 'cuda', 'cuda_toolkit_versions', cuda_toolkit_versions=['12.8']),
    case('cuda-source-unknown', 'cuda', 'cuda_toolkit_source', cuda_toolkit_source='conda'),
    case('cuda-default-not-listed', 'cuda', 'cuda_toolkit_default_version', cuda_toolkit_default_version='12.9'),
    case('cuda-13-on-r535-driver', 'cuda', 'cuda_toolkit_versions', 'rtx4090-r535',
         cuda_toolkit_source='nvidia', cuda_toolkit_versions=['13.0']),
    # conda
    case('conda-distribution-unknown', 'conda', 'conda_distribution', conda_distribution='mambaforge'),
    case('conda-user-missing', 'conda', 'conda_users', conda_users=['alice', 'mallory']),
    case('conda-sha256-not-hex', 'conda', 'conda_installer_sha256', conda_installer_sha256='abc123'),
    case('conda-src-and-path', 'conda', 'conda_installer_path', conda_installer_path='/srv/Miniforge3-Linux-x86_64.sh'),
    case('conda-miniconda-without-tos', 'conda', 'conda_accept_anaconda_tos', conda_distribution='miniconda'),
    case('conda-install-timeout-negative', 'conda', 'conda_install_timeout', conda_install_timeout=-1),
    case('conda-download-timeout-not-int', 'conda', 'conda_download_timeout', conda_download_timeout='ten minutes'),
    # pytorch_env
    case('pytorch-cu130-on-r535-driver', 'pytorch', 'pytorch_env_variant', 'rtx4090-r535', pytorch_env_variant='cu130'),
    case('pytorch-env-cu130-on-r535-driver', 'pytorch', 'pytorch_env_users[alice].envs[torch].variant', 'rtx4090-r535',
         pytorch_env_users=[{'user': 'alice', 'envs': [{'name': 'torch', 'variant': 'cu130'}]}]),
    case('pytorch-cu126-on-blackwell', 'pytorch', 'pytorch_env_variant', 'blackwell-nodriver', pytorch_env_variant='cu126'),
    case('pytorch-user-missing', 'pytorch', 'pytorch_env_users',
         pytorch_env_users=[{'user': 'alice'}, {'user': 'mallory', 'envs': [{'name': 'torch'}]}]),
    case('pytorch-variant-unknown', 'pytorch', 'pytorch_env_variant', pytorch_env_variant='cu999'),
    case('pytorch-torch-not-in-tables', 'pytorch', 'torch 1.13 is not in the tables', pytorch_env_torch_version='1.13.1'),
    # the live wheel check: offline, the wheelhouse is the only source, it answers and has no 2.12.0+cpu
    case('pytorch-wheel-not-in-wheelhouse', 'pytorch', 'torch==2.12.0+cpu for Python 3.11 on x86_64: no such wheel in',
         pytorch_env_torch_version='2.12.0'),
    case('pytorch-conda-backend-without-conda', 'pytorch', 'pytorch_env_conda_prefixes', pytorch_env_backend='conda'),
    case('pytorch-python-not-on-host', 'pytorch', 'pytorch_env_python', pytorch_env_python='3.13'),
    case('pytorch-install-timeout-negative', 'pytorch', 'pytorch_env_install_timeout', pytorch_env_install_timeout=-10),
    case('pytorch-matmul-size-zero', 'pytorch', 'pytorch_env_matmul_size', pytorch_env_matmul_size=0),
    # each value by what it is (issue #12), before the layer is built, the installer copied or a directory made
    case('pytorch-package-not-pep508', 'pytorch', 'pytorch_env_users[alice].envs[torch].packages[0]',
         pytorch_env_users=[{'user': 'alice', 'envs': [{'name': 'torch', 'packages': ['--index-url=http://pypi.evil.example/simple']}]}]),
    case('pytorch-root-relative', 'pytorch', 'pytorch_env_root', pytorch_env_root='opt/labops-dlstack'),
    case('pytorch-env-in-another-home', 'pytorch', "pytorch_env_users[alice].envs[torch].path: '/home/bob/.venvs/torch' "
                                                   'is not where alice can own it',
         pytorch_env_users=[{'user': 'alice', 'envs': [{'name': 'torch', 'path': '/home/bob/.venvs/torch'}]}]),
    case('conda-prefix-in-another-home', 'conda', "conda_users[bob].prefix: '/home/alice/conda-of-bob' is not where bob can own it",
         conda_users=['alice', {'name': 'bob', 'prefix': '/home/alice/conda-of-bob'}]),
    case('pytorch-index-url-unused-offline', 'pytorch', 'pytorch_env_index_url', pytorch_env_index_url='pypi.lab.example/simple'),
    case('conda-version-latest', 'conda', "conda_version: 'latest' is not a pinned miniforge release", conda_version='latest'),
    case('pytorch-matmul-size-unbounded', 'pytorch', 'pytorch_env_matmul_size: 100000', pytorch_env_matmul_size=100000),
    case('ca-src-missing', 'ca', "ca_trust_certificates[lab-ca].src: '/srv/no-such-lab-ca.pem' does not exist on the controller",
         ca_trust_certificates=[{'name': 'lab-ca', 'src': '/srv/no-such-lab-ca.pem'}]),
    case('cuda-version-unquoted', 'cuda', 'cuda_toolkit_versions[0]: 12.1', cuda_toolkit_versions=[12.1]),
]


class Host(object):
    """The module's container and the snapshot every case is compared with."""

    def __init__(self):
        self.container = None
        self.baseline = None
        self.fresh()

    def fresh(self):
        self.container = start_container('matrix')
        self.baseline = snapshot(self.container)


@pytest.fixture(scope='module')
def host(lab):
    return Host()


@pytest.mark.parametrize('stage,profile,variables,expect', CASES)
def test_bad_input_fails_before_any_change(host, tmp_path, reports, stage, profile, variables, expect):
    common = dict(lab_vars(reports), dlstack_cuda_toolkit=stage == 'cuda')
    inventory = write_inventory(tmp_path / 'inventory.yml',
                                {'ws-bad': (host.container, dict(gpu_vars(profile), **variables))}, common)
    run = run_playbook(tmp_path / 'run.log', inventory, tags=stage)
    diff = snapshot_diff(host.baseline, snapshot(host.container))
    if diff:
        host.fresh()  # the next case starts on an unchanged host
    stats = run.stats.get('ws-bad', {})
    failures = run.failures('ws-bad')
    # it fails ...
    assert run.rc != 0 and stats.get('failures') == 1, run.summary('ws-bad')
    # ... naming the variable ...
    assert expect in ' '.join(msg for _task, msg in failures), run.summary('ws-bad')
    # ... before any change: nothing reported changed, nothing changed
    assert stats.get('changed') == 0, (run.changed_tasks('ws-bad'), run.summary('ws-bad'))
    assert diff == [], diff

# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/_role_inputs.py: one case per rule of every role, exact messages.

Each case gives one role's variables (only those the case is about: the rest keep their defaults,
which are valid, see test_every_default_is_valid) and what the host tells (its user database, the
GPU facts of a real capture, its memory), and the exact messages the role's preflight fails with.
"""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.labops.dlstack.plugins.filter.role_input import role_input_errors
from ansible_collections.labops.dlstack.plugins.module_utils import _role_inputs as ri
from ansible_collections.labops.dlstack.plugins.module_utils._gpu_probe import parse_nvidia_smi_xml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
FILES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'inputs')
PEM = os.path.join(FILES, 'lab-ca.pem')
NOT_PEM = os.path.join(FILES, 'not-a-certificate.txt')
NO_SUCH_SH = os.path.join(FILES, 'Miniforge3-no-such-installer.sh')
GPU_FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'gpu')

# getent passwd of a lab host (name -> [x, uid, gid, gecos, home, shell]), as ansible.builtin.getent returns it
PASSWD = {'root': ['x', '0', '0', 'root', '/root', '/bin/bash'],
          'alice': ['x', '1000', '1000', '', '/home/alice', '/bin/bash'],
          'bob': ['x', '1001', '1001', '', '/home/bob', '/bin/bash']}
CTX = {'passwd': PASSWD, 'search_path': ['/nonexistent-role', '/nonexistent-play']}


def _gpu_facts(*capture):
    """gpu_facts-like facts of a usable GPU host from a real `nvidia-smi -q -x` capture."""
    with open(os.path.join(GPU_FIXTURES, *capture), encoding='utf-8') as handle:
        return {'status': 'ok', 'gpus': parse_nvidia_smi_xml(handle.read())['gpus']}


H200 = _gpu_facts('h200-driver580', 'nvidia-smi-q.xml')  # 143771 MiB
RTX = _gpu_facts('netdata', 'rtx-4090-driver-535.xml')  # 24564 MiB
GT1030 = _gpu_facts('telegraf', 'gt-1030.xml')  # 1998 MiB
CPU = {'status': 'no_gpu', 'gpus': []}

CASES = [
    ('ca-pip-not-bool', 'ca_trust', {'ca_trust_configure_pip': 'sometimes'}, {},
     ["ca_trust_configure_pip: 'sometimes' is not a boolean; accepted: true or false"]),
    ('ca-not-list', 'ca_trust', {'ca_trust_certificates': {'name': 'x'}}, {},
     ["ca_trust_certificates: {'name': 'x'} is not a list; accepted: a list of {name, src or content}"]),
    ('ca-unknown-key', 'ca_trust', {'ca_trust_certificates': [{'name': 'lab-ca', 'content': '-----BEGIN CERTIFICATE-----', 'path': '/x'}]}, {},
     ['ca_trust_certificates[lab-ca]: unknown keys path; accepted keys: name, src, content']),
    ('ca-bad-name', 'ca_trust', {'ca_trust_certificates': [{'name': 'lab/ca', 'content': '-----BEGIN CERTIFICATE-----'}]}, {},
     ['ca_trust_certificates[lab/ca].name: \'lab/ca\' is not valid; accepted: a file name of letters, digits, ".", "_" or "-"']),
    ('ca-dup-name', 'ca_trust',
     {'ca_trust_certificates': [{'name': 'a', 'content': '-----BEGIN CERTIFICATE-----'}, {'name': 'a', 'content': '-----BEGIN CERTIFICATE-----'}]}, {},
     ['ca_trust_certificates[a].name: is used by two certificates; accepted: a name of its own']),
    ('ca-both', 'ca_trust', {'ca_trust_certificates': [{'name': 'a', 'src': PEM, 'content': '-----BEGIN CERTIFICATE-----'}]}, {},
     ['ca_trust_certificates[a]: needs exactly one of src (a PEM file on the controller) or content (PEM text)']),
    ('ca-content-not-pem', 'ca_trust', {'ca_trust_certificates': [{'name': 'a', 'content': 'hello'}]}, {},
     ['ca_trust_certificates[a].content: holds no PEM certificate; accepted: text with -----BEGIN CERTIFICATE-----']),
    ('ca-src-missing', 'ca_trust', {'ca_trust_certificates': [{'name': 'lab-ca', 'src': '/no/such/lab-ca.pem'}]}, {},
     ["ca_trust_certificates[lab-ca].src: '/no/such/lab-ca.pem' does not exist on the controller; accepted: a readable file on the controller"]),
    ('ca-src-relative-missing', 'ca_trust', {'ca_trust_certificates': [{'name': 'lab-ca', 'src': 'lab-ca.pem'}]}, CTX,
     ["ca_trust_certificates[lab-ca].src: 'lab-ca.pem' does not exist on the controller (looked in files/ and the directory of /nonexistent-role, "
      '/nonexistent-play); accepted: a readable file on the controller']),
    ('ca-src-relative-found', 'ca_trust', {'ca_trust_certificates': [{'name': 'lab-ca', 'src': 'lab-ca.pem'}]}, {'search_path': [FILES]},
     []),
    ('ca-src-not-pem', 'ca_trust', {'ca_trust_certificates': [{'name': 'lab-ca', 'src': NOT_PEM}]}, {},
     ["ca_trust_certificates[lab-ca].src: '@NOT_PEM@' holds no PEM certificate; accepted: a file with -----BEGIN CERTIFICATE-----"]),
    ('apt-mirror-no-scheme', 'apt_components', {'apt_components_mirror': 'deb.debian.org/debian'}, {},
     ["apt_components_mirror: 'deb.debian.org/debian' is not an apt URI; accepted: an apt URI such as http://deb.debian.org/debian, https://..., "
      'file:/srv/mirror or mirror+file:/... or ""']),
    ('apt-mirror-credentials', 'apt_components', {'apt_components_security_mirror': 'https://lab:s3cret@mirror.lab/debian-security'}, {},
     ["apt_components_security_mirror: 'https://***@mirror.lab/debian-security' carries credentials (user:password@ or token@): the apt source file it "
      'is written into is readable by every user; keep the URI without credentials and put them in /etc/apt/auth.conf.d/<name>.conf (mode 0600, '
      'apt_auth.conf(5))']),
    ('apt-keyring-relative', 'apt_components', {'apt_components_keyring': 'keyrings/debian.gpg'}, {},
     ['apt_components_keyring: \'keyrings/debian.gpg\' is not an absolute path; accepted: auto, "" (no Signed-By) or the absolute path of a keyring '
      '(starting with /, no "..")']),
    ('apt-ok', 'apt_components', {'apt_components_mirror': 'mirror+file:/etc/apt/mirrors/debian.list', 'apt_components_keyring': ''}, {},
     []),
    ('repo-base-not-url', 'nvidia_repo', {'nvidia_repo_base_url': 'developer.download.nvidia.com/compute/cuda/repos'}, {},
     ["nvidia_repo_base_url: 'developer.download.nvidia.com/compute/cuda/repos' is not a URL; accepted: an http://, https:// or file:// URL"]),
    ('repo-key-not-armoured', 'nvidia_repo', {'nvidia_repo_key_content': 'mQINBGJ...'}, {},
     ['nvidia_repo_key_content: is not an ASCII-armoured key; accepted: "" or text from -----BEGIN PGP PUBLIC KEY BLOCK----- to -----END PGP PUBLIC KEY '
      'BLOCK-----']),
    ('repo-checksum', 'nvidia_repo', {'nvidia_repo_key_checksum': 'md5:abc'}, {},
     ["nvidia_repo_key_checksum: 'md5:abc' is not a checksum; accepted: sha256:<64 hex digits> (or sha384:, sha512:)"]),
    ('repo-fingerprint-spaces', 'nvidia_repo', {'nvidia_repo_key_fingerprint': 'EB69 3B30 35CD 5710 E231  E123 A4B4 6996 3BF8 63CC'}, {},
     ["nvidia_repo_key_fingerprint: 'EB69 3B30 35CD 5710 E231  E123 A4B4 6996 3BF8 63CC' is not valid; accepted: \"\" (the platform's key) or the 40 "
      'hexadecimal digits of the key fingerprint, without spaces']),
    ('busy-poll-longer-than-timeout', 'nvidia_driver', {'nvidia_driver_busy_wait_timeout': 60, 'nvidia_driver_busy_wait_poll': 600}, {},
     ['nvidia_driver_busy_wait_poll: 600 is longer than nvidia_driver_busy_wait_timeout (60); accepted: seconds up to the timeout']),
    ('busy-policy-unknown', 'nvidia_driver', {'nvidia_driver_busy_policy': 'kill'}, {},
     ["nvidia_driver_busy_policy: 'kill' is not one of the accepted values; accepted: defer, wait, proceed"]),
    ('numpy-not-bool', 'pytorch_env', {'pytorch_env_numpy': 'maybe'}, {},
     ["pytorch_env_numpy: 'maybe' is not a boolean; accepted: true or false"]),
    ('repo-priority', 'nvidia_repo', {'nvidia_repo_priority': 40000}, {},
     ['nvidia_repo_priority: 40000 is out of range; accepted: an integer from -32768 to 32767 (apt pin priority)']),
    ('repo-pref', 'nvidia_repo', {'nvidia_repo_preferences': [{'name': 'driver branch', 'package': '', 'pin': '580.*', 'priority': 'high', 'note': 1}]}, {},
     ['nvidia_repo_preferences[driver branch]: unknown keys note; accepted keys: name, package, pin, priority',
      'nvidia_repo_preferences[driver branch].name: \'driver branch\' is not valid; accepted: letters, digits and "-" (the preferences file name)',
      'nvidia_repo_preferences[driver branch].package: is empty; accepted: a non-empty string',
      'nvidia_repo_preferences[driver branch].pin: \'580.*\' is not valid; accepted: an apt Pin line such as "version 580.*", "release l=NVIDIA CUDA" '
      'or "origin host.example"',
      "nvidia_repo_preferences[driver branch].priority: 'high' is not an integer; accepted: an integer from -32768 to 32767 (apt pin priority)"]),
    ('driver-branch-word', 'nvidia_driver', {'nvidia_driver_branch': 'latest'}, {},
     ['nvidia_driver_branch: \'latest\' is not valid; accepted: auto, or a driver branch number such as "580"']),
    ('driver-branch-int', 'nvidia_driver', {'nvidia_driver_branch': 580}, {},
     []),
    ('driver-kernel-release', 'nvidia_driver', {'nvidia_driver_kernel_release': 'linux-image-amd64'}, {},
     ['nvidia_driver_kernel_release: \'linux-image-amd64\' is not valid; accepted: empty (the running kernel), or the '
      '`uname -r` of an installed kernel such as "6.1.0-40-amd64"']),
    ('driver-kernel-release-ok', 'nvidia_driver', {'nvidia_driver_kernel_release': '6.12.48+deb13-amd64'}, {}, []),
    ('driver-without-gpu-word', 'nvidia_driver', {'nvidia_driver_install_without_gpu': 'sometimes'}, {},
     ["nvidia_driver_install_without_gpu: 'sometimes' is not a boolean; accepted: true or false"]),
    ('driver-timeout', 'nvidia_driver', {'nvidia_driver_reboot_timeout': 0}, {},
     ['nvidia_driver_reboot_timeout: 0 is out of range; accepted: an integer from 1 to 86400 seconds']),
    ('driver-batch-group-ok', 'nvidia_driver', {'nvidia_driver_batch_group': 'dlstack_driver_batches'}, {}, []),
    ('driver-batch-group-empty', 'nvidia_driver', {'nvidia_driver_batch_group': ''}, {}, []),
    ('driver-batch-group-dash', 'nvidia_driver', {'nvidia_driver_batch_group': 'driver-batches'}, {},
     ['nvidia_driver_batch_group: \'driver-batches\' is not valid; accepted: empty, or a group name of letters, digits '
      'and underscores such as "dlstack_driver_batches"']),
    ('driver-batch-group-all', 'nvidia_driver', {'nvidia_driver_batch_group': 'all'}, {},
     ['nvidia_driver_batch_group: \'all\' is a group of every inventory; accepted: a group of its own such as '
      '"dlstack_driver_batches"']),
    ('driver-mok-relative', 'nvidia_driver', {'nvidia_driver_mok_key': 'mok.priv', 'nvidia_driver_mok_cert': '/root/mok.der'}, {},
     ['nvidia_driver_mok_key: \'mok.priv\' is not an absolute path; accepted: the absolute path of the file on the host (starting with /, no "..") or ""']),
    ('driver-mok-alone', 'nvidia_driver', {'nvidia_driver_mok_key': '/root/mok.priv', 'nvidia_driver_mok_cert': ''}, {},
     ['nvidia_driver_mok_key / nvidia_driver_mok_cert: set both (the enrolled MOK on the host) or neither']),
    ('driver-report-dir', 'nvidia_driver', {'nvidia_driver_report_path': '/etc/labops-dlstack/'}, {},
     ["nvidia_driver_report_path: '/etc/labops-dlstack/' names a directory; accepted: the path of a file"]),
    ('driver-includes-repo', 'nvidia_driver', {'nvidia_driver_source': 'distro', 'nvidia_repo_url': 'not-a-url'}, {},
     ['nvidia_repo_url: \'not-a-url\' is not a URL; accepted: an http://, https:// or file:// URL or ""']),
    ('cuda-float', 'cuda_toolkit', {'cuda_toolkit_versions': [12.1]}, {},
     ['cuda_toolkit_versions[0]: 12.1 is not valid; accepted: a quoted "X.Y" CUDA version such as "12.8" (unquoted, YAML reads 12.10 as the number 12.1)']),
    ('cuda-twice', 'cuda_toolkit', {'cuda_toolkit_versions': ['12.8', '12.8']}, {},
     ['cuda_toolkit_versions: lists 12.8 twice; accepted: each version once']),
    ('cuda-default', 'cuda_toolkit', {'cuda_toolkit_default_version': '12'}, {},
     ['cuda_toolkit_default_version: \'12\' is not valid; accepted: "" or a quoted "X.Y" CUDA version such as "12.8" (unquoted, YAML reads 12.10 as the '
      'number 12.1)']),
    ('conda-latest', 'conda', {'conda_distribution': 'miniforge', 'conda_version': 'latest'}, {},
     ['conda_version: \'latest\' is not a pinned miniforge release; accepted: a Miniforge release tag such as 26.3.2-3, or "" for the collection\'s pin']),
    ('conda-miniconda-form', 'conda', {'conda_distribution': 'miniconda', 'conda_version': '26.7.1-1'}, {},
     ['conda_version: \'26.7.1-1\' is not a pinned miniconda release; accepted: a Miniconda release such as py313_26.7.1-1, or "" for the collection\'s '
      'pin']),
    ('conda-anaconda-empty', 'conda', {'conda_distribution': 'anaconda', 'conda_version': ''}, {},
     ['conda_version: is empty, and the collection pins no anaconda release; accepted: an Anaconda release such as 2025.06-0']),
    ('conda-custom-word', 'conda', {'conda_distribution': 'custom', 'conda_version': 'stable'}, {},
     ["conda_version: 'stable' is not a pinned custom release; accepted: the installer's release tag, with its version number"]),
    ('conda-mirror-offline', 'conda', {'conda_installer_src': NO_SUCH_SH, 'conda_installer_mirror': 'mirror.lab/miniforge'}, {},
     ['conda_installer_mirror: \'mirror.lab/miniforge\' is not a URL; accepted: an http://, https://, ftp:// or file:// URL or ""',
      "conda_installer_src: '@NO_SUCH_SH@' does not exist on the controller; accepted: a readable file on the controller"]),
    ('conda-url-not-sh', 'conda', {'conda_installer_url': 'https://mirror.lab/miniforge/latest'}, {},
     ["conda_installer_url: 'https://mirror.lab/miniforge/latest' does not name a constructor installer; accepted: a URL ending in .sh"]),
    ('conda-src-missing', 'conda', {'conda_installer_src': '/srv/Miniforge3-26.3.2-3-Linux-x86_64.sh'}, {},
     ["conda_installer_src: '/srv/Miniforge3-26.3.2-3-Linux-x86_64.sh' does not exist on the controller; accepted: a readable file on the controller"]),
    ('conda-path-relative', 'conda', {'conda_installer_path': 'Miniforge3.sh'}, {},
     ["conda_installer_path: 'Miniforge3.sh' is not an absolute path; accepted: the absolute path of a *.sh installer on the host (starting with /, no "
      '"..") or ""']),
    ('conda-cache-root', 'conda', {'conda_cache_dir': '/var/cache'}, {},
     ["conda_cache_dir: '/var/cache' is a system directory as a whole; accepted: a directory of its own under it"]),
    ('conda-timeout', 'conda', {'conda_download_timeout': 'ten minutes', 'conda_install_timeout': 100000}, {},
     ["conda_download_timeout: 'ten minutes' is not an integer; accepted: an integer from 1 to 86400 seconds",
      'conda_install_timeout: 100000 is out of range; accepted: an integer from 1 to 86400 seconds']),
    ('conda-channels', 'conda', {'conda_channels': ['conda-forge', '']}, {},
     ["conda_channels: ['conda-forge', ''] is not a list of channels; accepted: a list of channel names or URLs"]),
    ('conda-custom-channels', 'conda', {'conda_custom_channels': {'bioconda': 'mirror.lab'}}, {},
     ["conda_custom_channels[bioconda]: 'mirror.lab' is not a URL; accepted: an http://, https:// or file:// URL"]),
    ('conda-pkgs-dirs', 'conda', {'conda_pkgs_dirs': ['pkgs', '~/../x']}, {},
     ['conda_pkgs_dirs[0]: \'pkgs\' is not an absolute path; accepted: an absolute path or ~/... (starting with /, no "..")',
      'conda_pkgs_dirs[1]: \'~/../x\' does not stay below its base; accepted: a directory below ~ (relative, no "..")']),
    ('conda-proxy', 'conda', {'conda_proxy_servers': {'https': 'proxy.lab:3128', 'ftp': 'http://u:pw@proxy.lab:3128'}}, {},
     ["conda_proxy_servers[ftp]: 'ftp' is not valid; accepted: keys http, https, all or scheme://host",
      "conda_proxy_servers[https]: 'proxy.lab:3128' is not a URL; accepted: an http://, https://, socks5:// or socks5h:// URL"]),
    ('conda-ssl-verify', 'conda', {'conda_ssl_verify': 'certs/ca.pem'}, {},
     ['conda_ssl_verify: \'certs/ca.pem\' is not an absolute path; accepted: true, false, "" or the absolute path of a CA bundle (starting with /, no '
      '"..")']),
    ('conda-condarc-extra', 'conda', {'conda_condarc_extra': {'proxy_servers': {}, 'always_yes': True}}, {},
     ['conda_condarc_extra[proxy_servers]: is written by the role from conda_proxy_servers; accepted: set conda_proxy_servers instead']),
    ('conda-granted-home', 'conda', {'conda_allowed_prefix_dirs': ['/home', 'scratch/{user}']}, {},
     ["conda_allowed_prefix_dirs[0]: '/home' would let every user own files in a directory the system or other users own; accepted: a directory of the "
      "lab's own (/scratch) or one per user (/scratch/{user})",
      "conda_allowed_prefix_dirs[1]: 'scratch/{user}' is not an absolute path; accepted: an absolute directory ({user} = the user name, as in "
      '/scratch/{user}) (starting with /, no "..")']),
    ('conda-users-not-list', 'conda', {'conda_users': 'alice'}, {},
     ["conda_users: 'alice' is not a list; accepted: a list of user names or {name, prefix, channels, state}"]),
    ('conda-user-unknown-key', 'conda', {'conda_users': [{'name': 'alice', 'path': '/x'}]}, CTX,
     ['conda_users[alice]: unknown keys path; accepted keys: name, prefix, channels, state']),
    ('conda-user-missing', 'conda', {'conda_users': ['alice', 'mallory']}, CTX,
     ['conda_users[mallory]: user mallory does not exist on this host; accepted: an existing user, or set conda_create_users: true']),
    ('conda-user-missing-created', 'conda', {'conda_users': ['carol'], 'conda_create_users': True}, CTX,
     []),
    ('conda-user-twice', 'conda', {'conda_users': ['alice', {'name': 'alice'}]}, CTX,
     ['conda_users[alice]: the user is listed twice; accepted: each user once']),
    ('conda-prefix-other-home', 'conda', {'conda_users': [{'name': 'bob', 'prefix': '/home/alice/conda'}]}, CTX,
     ["conda_users[bob].prefix: '/home/alice/conda' is not where bob can own it; accepted: a path below /home/bob (the home directory of bob), or a "
      'directory granted in conda_allowed_prefix_dirs (for example /scratch/{user})']),
    ('conda-prefix-granted', 'conda',
     {'conda_users': [{'name': 'bob', 'prefix': '/scratch/bob/conda'}], 'conda_allowed_prefix_dirs': ['/scratch/{user}']}, CTX,
     []),
    ('conda-prefix-granted-other', 'conda',
     {'conda_users': [{'name': 'bob', 'prefix': '/scratch/alice/conda'}], 'conda_allowed_prefix_dirs': ['/scratch/{user}']}, CTX,
     ["conda_users[bob].prefix: '/scratch/alice/conda' is not where bob can own it; accepted: a path below /home/bob (the home directory of bob), in "
      '/scratch/bob, or a directory granted in conda_allowed_prefix_dirs (for example /scratch/{user})']),
    ('conda-prefix-escape', 'conda', {'conda_users': [{'name': 'bob', 'prefix': '../alice/conda'}]}, CTX,
     ['conda_users[bob].prefix: \'../alice/conda\' goes up with ".."; accepted: a path without ".."']),
    ('conda-prefix-shared', 'conda',
     {'conda_users': [{'name': 'alice', 'prefix': '/data/conda'}, {'name': 'bob', 'prefix': '/data/conda'}], 'conda_allowed_prefix_dirs': ['/data']}, CTX,
     ['conda_users[bob].prefix: /data/conda is also the prefix of alice; accepted: a prefix of its own per user']),
    ('conda-prefix-absent-anywhere', 'conda', {'conda_users': [{'name': 'bob', 'prefix': '/opt/old-conda', 'state': 'absent'}]}, CTX,
     []),
    ('conda-user-state', 'conda', {'conda_users': [{'name': 'bob', 'state': 'gone'}]}, CTX,
     ["conda_users[bob].state: 'gone' is not one of the accepted values; accepted: present, absent"]),
    ('pt-root-relative', 'pytorch_env', {'pytorch_env_root': 'opt/labops-dlstack'}, {},
     ['pytorch_env_root: \'opt/labops-dlstack\' is not an absolute path; accepted: an absolute directory on the host (starting with /, no "..")']),
    ('pt-cache-root', 'pytorch_env', {'pytorch_env_cache_dir': '/'}, {},
     ["pytorch_env_cache_dir: '/' is a system directory as a whole; accepted: a directory of its own under it"]),
    ('pt-venv-dir-escape', 'pytorch_env', {'pytorch_env_venv_dir': '../shared'}, {},
     ['pytorch_env_venv_dir: \'../shared\' does not stay below its base; accepted: a directory below the home directory (relative, no "..")']),
    ('pt-package-option', 'pytorch_env', {'pytorch_env_packages': ['--index-url=https://evil.example/simple']}, {},
     ["pytorch_env_packages[0]: '--index-url=https://evil.example/simple' is a pip option, not a requirement; accepted: a PEP 508 requirement such as "
      'numpy, numpy>=2.1 or "pandas[excel]==2.3.1" (sources go in the index and find-links variables)']),
    ('pt-package-not-pep508', 'pytorch_env', {'pytorch_env_packages': ['numpy>=2,,']}, {},
     ["pytorch_env_packages[0]: 'numpy>=2,,' is not a requirement (Expected comma (within version specifier), semicolon (after version specifier) or "
      'end); accepted: a PEP 508 requirement such as numpy, numpy>=2.1 or "pandas[excel]==2.3.1"']),
    ('pt-package-torch', 'pytorch_env', {'pytorch_env_packages': ['Torch>=2']}, {},
     ["pytorch_env_packages[0]: 'Torch>=2' is installed by the shared layer; accepted: other packages (set pytorch_env_torch_version instead)"]),
    ('pt-packages-ok', 'pytorch_env',
     {'pytorch_env_packages': ['numpy>=2.1', 'pandas[excel]==2.3.1', 'mylib @ https://wheels.lab/mylib-1.0-py3-none-any.whl',
                               'tomli; python_version < "3.11"']}, {},
     []),
    ('pt-index-offline', 'pytorch_env', {'pytorch_env_offline': True, 'pytorch_env_index_url': 'pypi.lab/simple'}, {},
     ['pytorch_env_index_url: \'pypi.lab/simple\' is not a URL; accepted: an http://, https:// or file:// URL or ""']),
    ('pt-index-credentials', 'pytorch_env', {'pytorch_env_index_url': 'https://ci:t0ken@pypi.lab/simple'}, {},
     ["pytorch_env_index_url: 'https://***@pypi.lab/simple' carries credentials (user:password@ or token@): it would be written into the shared layer's "
      'record (<pytorch_env_root>/pytorch/layers/*/labops-dlstack-layer.json, readable by every user) and shown in the process list; keep the URL '
      'without credentials and put them in ~/.netrc (mode 0600) of root, who builds the layers, and of each user, whose pip installs the extra packages '
      '(uv and pip read it)']),
    ('pt-template', 'pytorch_env', {'pytorch_env_index_url_template': 'https://download.pytorch.org/whl/{cuda}'}, {},
     ["pytorch_env_index_url_template: 'https://download.pytorch.org/whl/{cuda}' has placeholders other than {variant}; accepted: a URL where only "
      '{variant} is replaced']),
    ('pt-extra-index', 'pytorch_env', {'pytorch_env_extra_index_urls': ['https://pypi.lab/simple', 'ftp://x']}, {},
     ["pytorch_env_extra_index_urls[1]: 'ftp://x' is not a URL; accepted: an http://, https:// or file:// URL"]),
    ('pt-find-links', 'pytorch_env', {'pytorch_env_find_links': ['wheelhouse', '/srv/wheels', 'https://wheels.lab/']}, {},
     ["pytorch_env_find_links[0]: 'wheelhouse' is neither an absolute directory nor a URL; accepted: /srv/wheelhouse or https://..."]),
    ('pt-uv-latest', 'pytorch_env', {'pytorch_env_uv_version': 'latest'}, {},
     ["pytorch_env_uv_version: 'latest' is not a version pin; accepted: one exact release such as 0.13.9 (PEP 440), not a word or a range"]),
    ('pt-uv-range', 'pytorch_env', {'pytorch_env_uv_version': '>=0.13'}, {},
     ["pytorch_env_uv_version: '>=0.13' is not a version pin; accepted: one exact release such as 0.13.9 (PEP 440), not a word or a range"]),
    ('pt-torch-version', 'pytorch_env', {'pytorch_env_torch_version': '2.13'}, {},
     ['pytorch_env_torch_version: \'2.13\' is not valid; accepted: a full torch release such as "2.13.0" (no variant tag)']),
    ('pt-variant', 'pytorch_env', {'pytorch_env_variant': 'cuda12'}, {},
     ["pytorch_env_variant: 'cuda12' is not valid; accepted: auto, cpu or a CUDA variant such as cu128"]),
    ('pt-python', 'pytorch_env', {'pytorch_env_python': '3'}, {},
     ['pytorch_env_python: \'3\' is not valid; accepted: "" or a Python version such as "3.12"']),
    ('pt-site-relative', 'pytorch_env', {'pytorch_env_system_site_packages_from': 'usr/lib/python3/dist-packages'}, {},
     ["pytorch_env_system_site_packages_from: 'usr/lib/python3/dist-packages' is not an absolute path; accepted: the absolute path of a site-packages "
      'directory holding torch (starting with /, no "..") or ""']),
    ('pt-conda-prefixes', 'pytorch_env', {'pytorch_env_conda_prefixes': {'alice': 'miniforge3'}}, {},
     ['pytorch_env_conda_prefixes[alice]: \'miniforge3\' is not an absolute path; accepted: an absolute path (starting with /, no "..")']),
    ('pt-ca-bundle', 'pytorch_env', {'pytorch_env_ca_bundle': 'ca.pem'}, {},
     ['pytorch_env_ca_bundle: \'ca.pem\' is not an absolute path; accepted: the absolute path of a CA bundle on the host (starting with /, no "..") or '
      '""']),
    ('pt-timeout', 'pytorch_env', {'pytorch_env_install_timeout': -10}, {},
     ['pytorch_env_install_timeout: -10 is out of range; accepted: an integer from 1 to 172800 seconds']),
    ('pt-matmul-zero', 'pytorch_env', {'pytorch_env_matmul_size': 0}, {},
     ['pytorch_env_matmul_size: 0 is out of range; accepted: an integer from 1 to 16384 (matrix side)']),
    ('pt-matmul-huge', 'pytorch_env', {'pytorch_env_matmul_size': 100000}, {'gpu': H200},
     ['pytorch_env_matmul_size: 100000 is out of range; accepted: an integer from 1 to 16384 (matrix side); 100000 needs 111.8 GiB for two float32 '
      'matrices and their product']),
    ('pt-matmul-fits-rtx4090', 'pytorch_env', {'pytorch_env_matmul_size': 16384}, {'gpu': RTX},
     []),
    ('pt-matmul-fits-h200', 'pytorch_env', {'pytorch_env_matmul_size': 16384}, {'gpu': H200},
     []),
    ('pt-matmul-cpu-bound', 'pytorch_env', {'pytorch_env_matmul_size': 8192}, {'gpu': CPU, 'memtotal_mb': 2048},
     ["pytorch_env_matmul_size: 8192 needs 0.8 GiB for two float32 matrices and their product, more than a quarter of the host's 2048 MiB (the matmul "
      'runs on the CPU here); accepted on this host: 1 to 6688']),
    ('pt-report-dir', 'pytorch_env', {'pytorch_env_report_dir': ''}, {},
     ['pytorch_env_report_dir: is empty; accepted: a non-empty string']),
    ('pt-granted', 'pytorch_env', {'pytorch_env_allowed_env_dirs': ['/']}, {},
     ["pytorch_env_allowed_env_dirs[0]: '/' would let every user own files in a directory the system or other users own; accepted: a directory of the "
      "lab's own (/scratch) or one per user (/scratch/{user})"]),
    ('pt-users-not-list', 'pytorch_env', {'pytorch_env_users': {'user': 'alice'}}, CTX,
     ["pytorch_env_users: {'user': 'alice'} is not a list; accepted: a list of {user, envs}"]),
    ('pt-user-missing', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice'}, {'user': 'mallory'}]}, CTX,
     ['pytorch_env_users[mallory]: user mallory does not exist on this host; accepted: an existing user (create it first, for example with '
      'ansible.builtin.user)']),
    ('pt-user-twice', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice'}, {'user': 'alice', 'envs': [{'name': 'b'}]}]}, CTX,
     ['pytorch_env_users[alice]: the user is listed twice; accepted: each user once, with all their envs']),
    ('pt-user-unknown-key', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'env': [{'name': 'b'}]}]}, CTX,
     ['pytorch_env_users[alice]: unknown keys env; accepted keys: user, envs']),
    ('pt-envs-empty', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'envs': []}]}, CTX,
     ['pytorch_env_users[alice].envs: is empty; accepted: leave it out for one env "pytorch", or list the envs']),
    ('pt-env-keys', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'cuda': True}]}]}, CTX,
     ['pytorch_env_users[alice].envs[t]: unknown keys cuda; accepted keys: name, backend, python, interpreter, torch_version, variant, torchvision, '
      'torchaudio, packages, jupyter_kernel, path']),
    ('pt-env-name-twice', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't'}, {'name': 't', 'path': '/home/alice/t2'}]}]}, CTX,
     ['pytorch_env_users[alice].envs[t]: the name is used twice; accepted: a name of its own']),
    ('pt-env-values', 'pytorch_env',
     {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'backend': 'pip', 'python': 'py3.12', 'torch_version': 'latest',
                                                        'variant': 'gpu', 'interpreter': 'python3', 'torchvision': 'maybe'}]}]}, CTX,
     ["pytorch_env_users[alice].envs[t].backend: 'pip' is not one of the accepted values; accepted: venv, conda",
      'pytorch_env_users[alice].envs[t].python: \'py3.12\' is not valid; accepted: a Python version such as "3.12"',
      'pytorch_env_users[alice].envs[t].torch_version: \'latest\' is not valid; accepted: a full torch release such as "2.13.0" (no variant tag)',
      "pytorch_env_users[alice].envs[t].variant: 'gpu' is not valid; accepted: auto, cpu or a CUDA variant such as cu128",
      'pytorch_env_users[alice].envs[t].interpreter: \'python3\' is not an absolute path; accepted: an absolute path (starting with /, no "..")',
      "pytorch_env_users[alice].envs[t].torchvision: 'maybe' is not a boolean; accepted: true or false"]),
    ('pt-env-package', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'packages': ['-r requirements.txt']}]}]}, CTX,
     ["pytorch_env_users[alice].envs[t].packages[0]: '-r requirements.txt' is a pip option, not a requirement; accepted: a PEP 508 requirement such as "
      'numpy, numpy>=2.1 or "pandas[excel]==2.3.1" (sources go in the index and find-links variables)']),
    ('pt-env-path-relative', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'path': 'envs/t'}]}]}, CTX,
     ['pytorch_env_users[alice].envs[t].path: \'envs/t\' is not an absolute path; accepted: an absolute path on the host (starting with /, no "..")']),
    ('pt-env-path-other-home', 'pytorch_env', {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'path': '/home/bob/.venvs/t'}]}]}, CTX,
     ["pytorch_env_users[alice].envs[t].path: '/home/bob/.venvs/t' is not where alice can own it; accepted: a path below /home/alice (the home "
      'directory of alice), or a directory granted in pytorch_env_allowed_env_dirs (for example /scratch/{user})']),
    ('pt-env-path-granted', 'pytorch_env',
     {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'path': '/scratch/alice/t'}]}], 'pytorch_env_allowed_env_dirs': ['/scratch/{user}']}, CTX,
     []),
    ('pt-env-conda-prefix', 'pytorch_env',
     {'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'backend': 'conda'}]}],
      'pytorch_env_conda_prefixes': {'alice': '/home/bob/miniforge3'}}, CTX,
     ["pytorch_env_users[alice].envs[t].path (default <conda prefix>/envs/t): '/home/bob/miniforge3/envs/t' is not where alice can own it; accepted: a "
      'path below /home/alice (the home directory of alice), or a directory granted in pytorch_env_allowed_env_dirs (for example /scratch/{user})']),
    ('pt-env-in-conda-prefix', 'pytorch_env',
     {
         'pytorch_env_users': [{'user': 'alice', 'envs': [{'name': 't', 'path': '/data/alice-conda/envs/t'}]}],
         'pytorch_env_conda_prefixes': {'alice': '/data/alice-conda'},
     }, CTX,
     []),
    ('fleet-name', 'fleet_report', {'fleet_report_name': 'reports/site', 'fleet_report_dir': ''}, {},
     ['fleet_report_dir: is empty; accepted: a non-empty string',
      'fleet_report_name: \'reports/site\' is not valid; accepted: a file base name of letters, digits, ".", "_" or "-" (no directory)']),
    ('fleet-hosts', 'fleet_report', {'fleet_report_hosts': 'all'}, {},
     ["fleet_report_hosts: 'all' is not a list; accepted: a list of inventory host names"]),
    ('pt-matmul-gt1030', 'pytorch_env', {'pytorch_env_matmul_size': 8192}, {'gpu': GT1030},
     ["pytorch_env_matmul_size: 8192 needs 0.8 GiB for two float32 matrices and their product, more than a quarter of the smallest GPU's 1998 MiB; "
      'accepted on this host: 1 to 6606']),
]


def _paths(text):
    return text.replace('@NOT_PEM@', NOT_PEM).replace('@NO_SUCH_SH@', NO_SUCH_SH)


@pytest.mark.parametrize('role, values, context, expected', [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_rule(role, values, context, expected):
    assert ri.input_errors(role, values, context) == [_paths(e) for e in expected]


def test_cases_cover_every_role():
    assert sorted(set(c[1] for c in CASES)) == sorted(ri.ROLES)


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def _role_yaml(role, *parts):
    with open(os.path.join(ROOT, 'roles', role, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize('role', sorted(ri.ROLES))
def test_every_public_variable_has_rules(role):
    """The rules of a role cover exactly the variables of its argument_specs (so a new one cannot go unchecked)."""
    options = _role_yaml(role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    assert sorted(ri.VARIABLES[role]) == sorted(options)


@pytest.mark.parametrize('role', sorted(ri.ROLES))
def test_every_default_is_valid(role):
    defaults = _role_yaml(role, 'defaults', 'main.yml')
    # defaults that are templates take their value from a fact at run time: fill in what they give when it is unset
    resolved = {'fleet_report_hosts': ['ws1', 'ws2'], 'pytorch_env_conda_prefixes': {}, 'pytorch_env_ca_bundle': '',
                'fleet_report_dir': '/srv/lab/inventory/reports', 'pytorch_env_report_dir': '/srv/lab/inventory/reports/pytorch_env'}
    values = dict((k, resolved.get(k, val)) for k, val in defaults.items())
    assert [k for k, val in values.items() if isinstance(val, str) and '{{' in val] == []
    assert ri.input_errors(role, values, {'passwd': PASSWD, 'gpu': H200, 'memtotal_mb': 64000}) == []


def test_includes_check_the_included_roles_variables():
    values = {'nvidia_driver_source': 'distro', 'nvidia_repo_priority': 'high', 'apt_components_keyring': 'debian.gpg',
              'cuda_toolkit_versions': 12.8}
    assert role_input_errors(values, 'nvidia_driver') == [
        'apt_components_keyring: \'debian.gpg\' is not an absolute path; accepted: auto, "" (no Signed-By) or the absolute '
        'path of a keyring (starting with /, no "..")',
        "nvidia_repo_priority: 'high' is not an integer; accepted: an integer from -32768 to 32767 (apt pin priority)",
    ]  # cuda_toolkit_versions is not nvidia_driver's: only cuda_toolkit checks it
    assert ri.role_prefixes('cuda_toolkit') == ['cuda_toolkit', 'apt_components', 'nvidia_repo']


def test_names_the_role_does_not_know_are_ignored():
    # the facts a role publishes (ca_trust_bundle, conda_prefixes) share its prefix
    assert role_input_errors({'ca_trust_bundle': 42, 'ca_trust_configure_pip': True}, 'ca_trust') == []


def test_filter_refuses_what_is_not_a_role_or_a_dict():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match='no rules for role'):
        role_input_errors({}, 'docker')
    with pytest.raises(AnsibleFilterError, match='must be a dict'):
        role_input_errors(['conda_users'], 'conda')


def test_filter_ignores_context_of_the_wrong_type():
    # memtotal_mb given as a string (an inventory override) is not taken for the host's memory
    values = {'pytorch_env_matmul_size': 8192}
    assert role_input_errors(values, 'pytorch_env', gpu=CPU, memtotal_mb='2048') == []
    assert role_input_errors(values, 'pytorch_env', gpu=CPU, memtotal_mb=2048) != []


def test_messages_never_show_a_password():
    values = {'conda_proxy_servers': {'https': 'htp://lab:s3cret@proxy.lab:3128'},
              'conda_installer_mirror': 'ftp:/lab:s3cret@x', 'conda_channel_alias': 'https://lab:s3cret@ bad'}
    errors = role_input_errors(values, 'conda')
    assert len(errors) == 3 and not any('s3cret' in e for e in errors), errors


FEDORA = {'distribution': 'Fedora', 'distribution_version': '41'}


@pytest.mark.parametrize('role, start', [
    ('ca_trust', 'ca_trust: no trust-store layout is known for Fedora 41; supported are Debian and Ubuntu.'),
    ('apt_components', 'apt_components: no archive layout is known for Fedora 41;'),
    ('conda', 'conda: Fedora 41 is not supported; supported are Debian and Ubuntu'),
    ('cuda_toolkit', 'cuda_toolkit: Fedora 41 is not supported;'),
    ('nvidia_driver', 'nvidia_driver: supported are Debian 12/13 and Ubuntu 22.04/24.04, not Fedora 41.'),
])
def test_platform_refusal_comes_first(role, start):
    values = {'conda_state': 'sideways'} if role == 'conda' else {}
    errors = role_input_errors(values, role, platform={'supported': False}, facts=FEDORA)
    assert errors[0].startswith(start), errors
    assert role_input_errors({}, role, platform={'supported': True}, facts=FEDORA) == []
    assert role_input_errors({}, role) == []  # no platform data given: no platform check


def test_pytorch_env_needs_a_python_version_where_none_is_known():
    refused = role_input_errors({'pytorch_env_python': ''}, 'pytorch_env', platform={'default_python': ''}, facts=FEDORA)
    assert refused == ['pytorch_env_python: no default Python version is known for Fedora 41; set pytorch_env_python '
                       '(for example "3.12").']
    assert role_input_errors({'pytorch_env_python': '3.12'}, 'pytorch_env', platform={'default_python': ''}) == []
    assert role_input_errors({'pytorch_env_python': ''}, 'pytorch_env', platform={'default_python': '3.11'}) == []


@pytest.mark.parametrize('role, name', [('fleet_report', 'fleet_report_dir'), ('pytorch_env', 'pytorch_env_report_dir')])
def test_report_dir_inside_an_inventory_directory_is_refused_before_anything(tmp_path, role, name):
    inventory = tmp_path / 'inventory'
    inventory.mkdir()
    errors = role_input_errors({name: str(inventory / 'reports')}, role, inventory_sources=[str(inventory)])
    assert len(errors) == 1 and errors[0].startswith('%s (%s) is inside the inventory directory' % (name, inventory / 'reports'))
    hosts = inventory / 'hosts.yml'
    hosts.write_text('all: {}\n')
    assert role_input_errors({name: str(tmp_path / 'reports')}, role, inventory_sources=[str(inventory)]) == []
    assert role_input_errors({name: str(inventory / 'reports')}, role, inventory_sources=str(hosts)) == []  # a file


def test_pytorch_env_report_dir_not_checked_when_it_does_not_verify(tmp_path):
    values = {'pytorch_env_report_dir': str(tmp_path), 'pytorch_env_verify': False}
    assert role_input_errors(values, 'pytorch_env', inventory_sources=[str(tmp_path)]) == []


# What nvidia_driver's preflight read on the host (tasks/preflight.yml hands it over in the context): the MOK files not
# found (missing_files) and the kernels under /lib/modules (installed_kernels, None when not read).
MOK = {'nvidia_driver_mok_key': '/root/mok.priv', 'nvidia_driver_mok_cert': '/root/mok.der'}
KERNELS = ['6.12.48+deb13-amd64', '6.1.0-57-amd64', '6.1.0-40-amd64']


@pytest.mark.parametrize('values, context, expected', [
    pytest.param(MOK, {'missing_files': ['/root/mok.priv', '/root/mok.der']},
                 ['nvidia_driver_mok_key / nvidia_driver_mok_cert: /root/mok.priv, /root/mok.der not found on the host.'],
                 id='mok-both-missing'),
    pytest.param(MOK, {'missing_files': ['/root/mok.der']},
                 ['nvidia_driver_mok_key / nvidia_driver_mok_cert: /root/mok.der not found on the host.'], id='mok-cert-missing'),
    pytest.param(MOK, {'missing_files': []}, [], id='mok-present'),
    pytest.param(MOK, {}, [], id='mok-not-read'),
    # only the files the MOK variables name are the MOK's
    pytest.param(dict(MOK, nvidia_driver_mok_cert='/root/other.der'), {'missing_files': ['/root/mok.der']}, [], id='mok-other-file'),
    pytest.param({'nvidia_driver_mok_key': '', 'nvidia_driver_mok_cert': ''}, {'missing_files': ['']}, [], id='mok-unset'),
    pytest.param({'nvidia_driver_kernel_release': '6.1.0-40-amd64'}, {'installed_kernels': KERNELS}, [], id='kernel-installed'),
    pytest.param({'nvidia_driver_kernel_release': '6.1.0-41-amd64'}, {'installed_kernels': KERNELS},
                 ['nvidia_driver_kernel_release: kernel 6.1.0-41-amd64 is not installed here (no /lib/modules/6.1.0-41-amd64); '
                  'installed: 6.1.0-40-amd64, 6.1.0-57-amd64, 6.12.48+deb13-amd64. Install its linux-image package first, or '
                  'leave the variable empty for the running kernel.'], id='kernel-not-installed'),
    pytest.param({'nvidia_driver_kernel_release': '6.1.0-41-amd64'}, {'installed_kernels': []},
                 ['nvidia_driver_kernel_release: kernel 6.1.0-41-amd64 is not installed here (no /lib/modules/6.1.0-41-amd64); '
                  'installed: none. Install its linux-image package first, or leave the variable empty for the running kernel.'],
                 id='kernel-none-installed'),
    pytest.param({'nvidia_driver_kernel_release': '6.1.0-41-amd64'}, {'installed_kernels': None}, [], id='kernel-not-read'),
    pytest.param({'nvidia_driver_kernel_release': ''}, {'installed_kernels': KERNELS}, [], id='kernel-running'),
    # the MOK first, then the kernel (the order of the reads in preflight)
    pytest.param(dict(MOK, nvidia_driver_kernel_release='6.1.0-41-amd64'),
                 {'missing_files': ['/root/mok.priv'], 'installed_kernels': ['6.1.0-57-amd64']},
                 ['nvidia_driver_mok_key / nvidia_driver_mok_cert: /root/mok.priv not found on the host.',
                  'nvidia_driver_kernel_release: kernel 6.1.0-41-amd64 is not installed here (no /lib/modules/6.1.0-41-amd64); '
                  'installed: 6.1.0-57-amd64. Install its linux-image package first, or leave the variable empty for the '
                  'running kernel.'], id='mok-then-kernel'),
])
def test_nvidia_driver_refuses_what_the_host_lacks(values, context, expected):
    assert ri.input_errors('nvidia_driver', values, context) == expected
    assert role_input_errors(values, 'nvidia_driver', **context) == expected  # the filter hands the context over


def test_what_the_host_lacks_is_said_after_the_variables_own_errors_only():
    """A wrong variable is said alone: the MOK file or kernel it names may be wrong because of it."""
    context = {'missing_files': ['mok.priv'], 'installed_kernels': ['6.1.0-57-amd64']}
    values = dict(MOK, nvidia_driver_mok_key='mok.priv', nvidia_driver_kernel_release='linux-image-amd64')
    assert ri.input_errors('nvidia_driver', values, context) == [
        'nvidia_driver_kernel_release: \'linux-image-amd64\' is not valid; accepted: empty (the running kernel), or the '
        '`uname -r` of an installed kernel such as "6.1.0-40-amd64"',
        'nvidia_driver_mok_key: \'mok.priv\' is not an absolute path; accepted: the absolute path of the file on the host '
        '(starting with /, no "..") or ""']
    # an included role's variable counts too, and so does the platform's refusal
    assert ri.input_errors('nvidia_driver', dict(MOK, apt_components_keyring='debian.gpg'),
                           {'missing_files': ['/root/mok.der']})[0].startswith('apt_components_keyring:')
    assert ri.input_errors('nvidia_driver', MOK, {'missing_files': ['/root/mok.der'], 'platform': {'supported': False},
                                                  'host': 'Fedora 41'}) == [
        'nvidia_driver: supported are Debian 12/13 and Ubuntu 22.04/24.04, not Fedora 41.']


def test_only_nvidia_driver_rules_on_the_host_reads():
    assert sorted(ri.HOST_RULES) == ['nvidia_driver']
    assert ri.input_errors('cuda_toolkit', {}, {'missing_files': ['/x'], 'installed_kernels': []}) == []
    # the filter ignores reads of the wrong type (a string is not a list of files)
    assert role_input_errors(MOK, 'nvidia_driver', missing_files='/root/mok.der') == []

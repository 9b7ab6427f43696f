"""Real state of the default scenario's containers (testinfra, docker connection)."""
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

CA_FILE = "/usr/local/share/ca-certificates/labops-dlstack/test-host-ca.crt"


def test_ca_file_installed(host):
    f = host.file(CA_FILE)
    assert f.is_file
    assert f.user == "root"
    assert f.mode == 0o644
    assert "-----BEGIN CERTIFICATE-----" in f.content_string


def test_ca_in_system_bundle(host):
    # update-ca-certificates appended the installed file's certificates to the system bundle:
    # the last certificate of our file must appear in the bundle.
    ours = host.file(CA_FILE).content_string.strip().split("-----BEGIN CERTIFICATE-----")[-1]
    assert ours.strip()
    assert ours.strip() in host.file("/etc/ssl/certs/ca-certificates.crt").content_string


def test_pip_config_points_at_system_bundle(host):
    assert host.file("/etc/pip.conf").contains("^cert = /etc/ssl/certs/ca-certificates.crt$")


def test_tls_to_package_index_works(host):
    # The reason for the role: TLS through the lab's proxy. Python's ssl uses the system bundle.
    cmd = host.run(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=30).status)\""
    )
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.strip() == "200"


def test_gpu_probe_in_container(host):
    # The probe module run on the container itself (testinfra's ansible backend; facts modules
    # change nothing, so check mode is what a read-only probe is).
    result = host.ansible("labops.dlstack.gpu_facts", "torch_version=2.11", check=True)
    facts = result["ansible_facts"]["dlstack_gpu"]
    assert facts["status"] == "no_gpu"
    assert facts["in_container"] is True
    assert facts["gpus"] == []
    assert facts["driver"]["installed"] is False
    assert facts["torch"]["recommended_variant"] == "cpu"
    assert result["changed"] is False

"""Real state of the pytorch_env scenario (testinfra, docker connection): two users, one shared layer."""
import glob
import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")

ALICE = "/home/alice/.venvs/torch"
BOB = "/home/bob/.venvs/torch"
LAYERS = "/opt/labops-dlstack/pytorch/layers"
CACHE = "/var/cache/labops-dlstack/uv"
PY = "/lib/python3.11/site-packages"


def _layer(host):
    layers = host.check_output("ls -1 %s" % LAYERS).split()
    assert len(layers) == 1, layers  # two users, one wheel set: one layer
    return "%s/%s" % (LAYERS, layers[0])


def as_user(host, user, cmd):
    return host.run("sudo -u %s -H bash -c %s" % (user, json.dumps(cmd)))


def test_torch_as_each_user(host):
    for user, env in (("alice", ALICE), ("bob", BOB)):
        cmd = as_user(host, user, "%s/bin/python -W ignore -c 'import torch; print(torch.__version__, "
                                  "torch.cuda.is_available(), int((torch.ones(64, 64) @ torch.ones(64, 64)).sum()))'" % env)
        assert cmd.rc == 0, cmd.stderr
        assert cmd.stdout.split() == ["2.13.0+cpu", "False", "262144"]


def test_numpy_round_trip_as_each_user(host):
    # NumPy comes with torch in the shared layer: torch.from_numpy shares memory, .numpy() comes back
    code = ("import json, numpy, torch; a = numpy.arange(6, dtype=numpy.float32); t = torch.from_numpy(a); a[0] = 7; "
            "print(json.dumps([numpy.__version__, float(t[0]), (t * 2).numpy().tolist(), numpy.__file__]))")
    for user, env in (("alice", ALICE), ("bob", BOB)):
        cmd = as_user(host, user, "%s/bin/python -W error::UserWarning -c %s" % (env, json.dumps(code)))
        assert cmd.rc == 0, cmd.stderr
        version, first, doubled, where = json.loads(cmd.stdout)
        assert version.startswith("2.")  # numpy>=1.26.2,<3 for torch 2.13 on Python 3.11: the newest 2.x there is
        assert (first, doubled) == (7.0, [14.0, 2.0, 4.0, 6.0, 8.0, 10.0])
        assert where == _layer(host) + PY + "/numpy/__init__.py"
    assert host.file(_layer(host) + PY + "/numpy/__init__.py").user == "root"


def test_dlstack_check_as_each_user(host):
    # the command each user runs: exit 0, every check passed, the same code as the verification
    for user, env in (("alice", ALICE), ("bob", BOB)):
        cmd = as_user(host, user, env + "/bin/dlstack-check")
        assert cmd.rc == 0, cmd.stdout + cmd.stderr
        lines = cmd.stdout.splitlines()
        assert lines[0] == "dlstack-check: %s (python 3.11.2, user %s)" % (env, user)
        assert lines[1].startswith("torch     2.13.0+cpu, variant cpu (what the GPU probe recommends for this host), "
                                   "from %s%s   import " % (_layer(host), PY))
        assert lines[2].startswith("CUDA      not available: this torch is the cpu build, compiled without CUDA; "
                                   "as expected here: gpu_facts status no_gpu")
        assert lines[4].startswith("numpy     ok    NumPy 2.")
        assert lines[5].startswith("autograd  ok    y = sum(x**2) at x = [1, 2, 3]: y.backward() gives x.grad = [2, 4, 6] on cpu   ")
        assert lines[6].startswith("matmul    ok    256x256 ones @ ones on cpu: checksum 16777216 = 256**3   ")
        assert lines[7] == "PASS      3 of 3 checks passed"
        result = json.loads(as_user(host, user, env + "/bin/dlstack-check --json --size 16").stdout)
        assert (result["passed"], result["failures"], result["variant"]) == (True, [], "cpu")
        assert result["autograd"]["grad"] == [2.0, 4.0, 6.0]
        assert result["matmul"]["checksum"] == 16 ** 3
        assert result["numpy"]["shares_memory"] is True
        assert result["numpy"]["round_trip"] == [[0.0, 2.0, 4.0, 6.0], [8.0, 10.0, 12.0, 14.0]]


def test_dlstack_check_fails_without_numpy(host):
    # a NumPy that cannot be imported (shadowed for this run only): non-zero exit, naming numpy
    as_user(host, "bob", "mkdir -p /tmp/no-numpy/numpy && echo 'raise ModuleNotFoundError(\"No module named numpy\", "
                         "name=\"numpy\")' > /tmp/no-numpy/numpy/__init__.py")
    cmd = as_user(host, "bob", "PYTHONPATH=/tmp/no-numpy %s/bin/dlstack-check" % BOB)
    assert cmd.rc == 1, cmd.stdout + cmd.stderr
    assert "numpy     FAIL  ModuleNotFoundError: No module named numpy" in cmd.stdout
    assert cmd.stdout.splitlines()[-1] == "FAIL      1 problem(s): numpy: ModuleNotFoundError: No module named numpy"
    assert as_user(host, "bob", "rm -r /tmp/no-numpy").rc == 0


def test_one_copy_of_the_check_per_host(host):
    # root-owned, read-only for the users, and the very file of the collection the probe module sends
    check = host.file("/opt/labops-dlstack/pytorch/dlstack_check.py")
    assert (check.user, check.group, check.mode) == ("root", "root", 0o644)
    source = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "plugins", "module_utils", "_pytorch_env_check.py")
    with open(source, encoding="utf-8") as handle:
        assert check.content_string == handle.read()
    for user, env in (("alice", ALICE), ("bob", BOB)):
        command = host.file(env + "/bin/dlstack-check")
        assert (command.user, command.mode) == (user, 0o755)
        assert "exec %s/bin/python /opt/labops-dlstack/pytorch/dlstack_check.py \"$@\"" % env in command.content_string
        expect = host.file(env + "/labops-dlstack-check.json")
        assert (expect.user, expect.mode) == (user, 0o644)
        assert json.loads(expect.content_string)["variant"] == "cpu"
        assert as_user(host, user, "echo x >> /opt/labops-dlstack/pytorch/dlstack_check.py").rc != 0


def test_owners_and_modes(host):
    layer = _layer(host)
    for user, env in (("alice", ALICE), ("bob", BOB)):
        assert host.file(env).user == user
        assert host.file(env + "/pyvenv.cfg").user == user
        pth = host.file(env + PY + "/labops-dlstack-pytorch.pth")
        assert pth.user == user and pth.mode == 0o644
        assert layer + PY in pth.content_string
    assert host.file(layer).user == "root" and host.file(layer).mode == 0o755
    assert host.file(layer + PY + "/torch/__init__.py").user == "root"
    assert host.file(CACHE).user == "root" and host.file(CACHE).mode == 0o700


def test_one_download_shared(host):
    layer = _layer(host)
    # the big library is hardlinked from the root cache into the layer: one copy on disk
    lib = host.check_output("ls %s%s/torch/lib/libtorch_cpu.so" % (layer, PY))
    assert int(host.check_output("stat -c %%h %s" % lib)) >= 2
    # each user's own environment is tiny next to the layer (bob has no extra packages)
    bob_kb = int(host.check_output("du -sk %s" % BOB).split()[0])
    layer_kb = int(host.check_output("du -sk --count-links %s" % layer).split()[0])
    assert bob_kb < 1024, bob_kb
    assert layer_kb > 300 * 1024, layer_kb
    # one torch wheel in the cache (the one download of this host)
    assert host.check_output("find %s -name 'torch-2.13.0+cpu*.dist-info' -type d | grep -c archive" % CACHE) == "1"


def test_users_cannot_write_shared_or_each_other(host):
    layer = _layer(host)
    for user, other in (("alice", BOB), ("bob", ALICE)):
        assert as_user(host, user, "touch %s/intruder" % other).rc != 0
        assert as_user(host, user, "touch %s%s/intruder" % (other, PY)).rc != 0
        assert as_user(host, user, "echo x >> %s%s/torch/__init__.py" % (layer, PY)).rc != 0
        assert as_user(host, user, "touch %s%s/intruder" % (layer, PY)).rc != 0
        assert as_user(host, user, "ls %s" % CACHE).rc != 0


def test_user_adds_and_removes_packages_in_own_env(host):
    pip = BOB + "/bin/python -m pip --disable-pip-version-check"
    cmd = as_user(host, "bob", pip + " install --no-input six==1.17.0")
    assert cmd.rc == 0, cmd.stderr
    assert host.file(BOB + PY + "/six.py").user == "bob"
    assert as_user(host, "bob", BOB + "/bin/python -c 'import six'").rc == 0
    assert as_user(host, "alice", ALICE + "/bin/python -c 'import six'").rc != 0  # bob's, not alice's
    cmd = as_user(host, "bob", pip + " uninstall -y six")
    assert cmd.rc == 0, cmd.stderr
    assert not host.file(BOB + PY + "/six.py").exists
    # torch is seen as installed by pip (from the layer), so packages needing it do not fetch it again
    assert "Location: %s" % _layer(host) in as_user(host, "bob", pip + " show torch").stdout


def test_jupyter_kernel_of_alice(host):
    kernel = host.file("/home/alice/.local/share/jupyter/kernels/pytorch-torch/kernel.json")
    assert kernel.user == "alice" and kernel.mode == 0o644
    spec = json.loads(kernel.content_string)
    assert spec["argv"][:3] == [ALICE + "/bin/python", "-m", "ipykernel_launcher"]
    assert as_user(host, "alice", ALICE + "/bin/python -c 'import ipykernel'").rc == 0
    assert not host.file("/home/bob/.local/share/jupyter/kernels/pytorch-torch").exists


def test_report_on_the_controller():
    paths = glob.glob(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "reports", "pytorch_env", "*.json"))
    assert len(paths) == 1
    with open(paths[0], encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["ok"] is True
    assert report["gpu"]["status"] == "no_gpu" and report["gpu"]["in_container"] is True
    assert [(e["user"], e["env"], e["torch_version"], e["variant"], e["variant_source"]) for e in report["envs"]] == [
        ("alice", "torch", "2.13.0+cpu", "cpu", "auto"), ("bob", "torch", "2.13.0+cpu", "cpu", "auto")]
    for env in report["envs"]:
        assert env["cuda_available"] is False and env["cuda_expected"] is False
        assert env["cuda_reason"].startswith("gpu_facts status no_gpu: no NVIDIA GPU is visible on this host")
        assert env["matmul"] == {"device": "cpu", "size": 256, "ok": True, "checksum": 16777216}
        assert env["autograd"] == {"device": "cpu", "ok": True, "grad": [2.0, 4.0, 6.0], "expected": [2.0, 4.0, 6.0]}
        assert (env["numpy"]["ok"], env["numpy"]["device"], env["numpy_expected"]) == (True, "cpu", True)
        assert env["numpy"]["version"].startswith("2.")
        assert env["variant_note"] == ""  # cpu is what the probe recommends in a container without GPU
        assert "NumPy %s round trip on cpu ok; autograd backward() on cpu ok" % env["numpy"]["version"] in env["message"]
        # the after-install architecture check ran, and says what it compared: a CPU wheel names none
        assert env["arch_check"] == "nothing: a CPU build of torch has no CUDA architectures"

#!/usr/bin/env bash
# Rehearsal of tests/gpu/reference-host.sh without a GPU (make gpu-rehearsal): the same script, run
# the same way (as root, from the root of a copy of the working tree, with the offline kit), in a
# container shaped like the reference host, so that only the GPU-specific parts can fail there.
#
#   bash tests/gpu/rehearse.sh          # report in reports/gpu-rehearsal/ (summary.txt first)
#
# The container (labops-dlstack/debian:12, Python 3.11: the kit is cp311 here, cp312 there) has, like
# the reference host: a user `ubuntu` with uid 1000 that root reaches with su; no sudo; no systemd;
# no python3-apt (whether the host has it is not known, so the rehearsal does without); a C++
# compiler from Debian's archive; the checkout in root's home, unreadable to ubuntu; a torch in
# /opt/torch/.venv, the first python3 on PATH.
# STOOD IN, and labelled so in every summary line of the rehearsal (REHEARSED, not PASS):
#   - the GPU: the recorded H200 of tests/unit/tools/gpu_profile.py (sysfs/procfs captured on a real
#     H200 with driver 580.159.04, a replayed nvidia-smi), laid out as a host, not a container; the
#     probe reads it through the fleet playbooks' dlstack_gpu_probe_* options;
#   - CUDA 13.0 in /usr/local/cuda-13.0: NVIDIA's own nvcc, nvvm, crt and cudart 13.0 from their PyPI
#     wheels (the versions of the reference host's cuda-nvcc-13-0 / cuda-cudart-13-0 packages), not
#     the cuda-toolkit-13-0 packages; the compile for sm_90 is real, running the kernel is not
#     possible, so the rehearsal expects the run to fail for want of a device;
#   - torch: 2.13.0+cpu from the offline wheelhouse (make wheelhouse), not 2.11.0+cu130, so the
#     environment is checked with variant cpu and CUDA not required.
# Not rehearsed at all: torch.cuda.is_available() True, the device name, the matmul on cuda:0, the
# kernel's run, the live probe of a real GPU (the bench's live row probes the container).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
name=dlstack-gpuhost-rehearsal
image=${DLSTACK_GPU_REHEARSAL_IMAGE:-labops-dlstack/debian:12}
out=${DLSTACK_GPU_REHEARSAL_OUT:-$repo/reports/gpu-rehearsal}
wheelhouse=${DLSTACK_WHEELHOUSE:-$repo/.cache/wheelhouse}
standin=$repo/.cache/gpu-rehearsal
venv=${DLSTACK_VENV:-$repo/.venv}

bash tests/gpu/fetch-kit.sh 3.11
# NVIDIA's CUDA 13.0 compiler and runtime wheels, at the versions of the reference host's packages
# (cuda-nvcc-13-0 13.0.88-1, cuda-cudart-13-0 13.0.96-1: tests/unit/fixtures/gpu/h200-driver580/gpu-probe.txt).
mkdir -p "$standin/cuda"
"$venv/bin/python" -m pip download --disable-pip-version-check --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$standin/cuda" \
  nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-cuda-runtime==13.0.96
torch_wheel=$(compgen -G "$wheelhouse/torch-*+cpu-cp311-*.whl" | head -n 1) || {
  echo "rehearse: no CPU torch wheel for cp311 in $wheelhouse: run make wheelhouse" >&2; exit 2; }

cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
cleanup
trap cleanup EXIT
docker run -d --name "$name" --hostname reference-host-rehearsal \
  --mount "type=bind,source=$(realpath "$wheelhouse"),target=/opt/wheelhouse,readonly" \
  --mount "type=bind,source=$standin/cuda,target=/opt/cuda-wheels,readonly" \
  "$image" sleep infinity >/dev/null

echo "== rehearse: shaping the container like the reference host"
docker exec -i "$name" bash -euo pipefail -s "$(basename "$torch_wheel")" <<'PREPARE'
torch_wheel=$1
useradd --create-home --uid 1000 --shell /bin/bash ubuntu
# no sudo (the reference host has none); no python3-apt (not known to be there)
SUDO_FORCE_REMOVE=yes dpkg --remove sudo python3-apt >/dev/null
# a C++ compiler, as on the reference host (its nvcc builds there)
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++ >/dev/null
# STAND-IN torch: the preinstalled torch of the image, here the CPU build of the offline wheelhouse
/usr/bin/python3 -m venv --without-pip /opt/torch/.venv
/opt/torch/.venv/bin/python "$(ls /opt/wheelhouse/pip-*.whl | head -n 1)/pip" install --quiet --disable-pip-version-check \
  --no-index --find-links /opt/wheelhouse "/opt/wheelhouse/$torch_wheel" numpy
# STAND-IN CUDA 13.0: NVIDIA's wheels unpacked as the toolkit tree (nvidia/cu13/{bin,nvvm,include,lib})
/usr/bin/python3 - <<'PY'
import glob, os, zipfile
dest = '/usr/local/cuda-13.0'
for wheel in sorted(glob.glob('/opt/cuda-wheels/*.whl')):
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if not info.filename.startswith('nvidia/cu13/') or info.is_dir():
                continue
            target = os.path.join(dest, info.filename[len('nvidia/cu13/'):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(info) as src, open(target, 'wb') as dst:
                dst.write(src.read())
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, mode or 0o644)
PY
ln -s lib /usr/local/cuda-13.0/lib64
ln -s /usr/local/cuda-13.0 /usr/local/cuda
mkdir -p /opt/labops-rehearsal
cat > /opt/labops-rehearsal/STAND-IN.txt <<'EOF'
REHEARSAL, not the reference host. Stood in here:
- GPU: recorded NVIDIA H200 (tests/unit/tools/gpu_profile.py h200: sysfs/procfs captured on a real H200,
  driver 580.159.04 open, CUDA 13.0; replayed nvidia-smi) in /opt/labops-rehearsal/gpu, laid out as a host.
- /usr/local/cuda-13.0: NVIDIA's nvcc/nvvm/crt 13.0.88 and cudart 13.0.96 from their PyPI wheels, not the
  cuda-toolkit-13-0 packages. Compiling is real; no kernel can run (no GPU).
- /opt/torch/.venv: torch 2.13.0+cpu from the offline wheelhouse, not 2.11.0+cu130.
EOF
PREPARE

echo "== rehearse: the checkout as the device tool sends it (tracked and untracked files, the kit)"
docker exec "$name" mkdir -p /root/repo
{ git ls-files -z -co --exclude-standard; printf '%s\0' .cache/gpu-kit/cp311; } \
  | tar --null -T - -cf - | docker exec -i "$name" tar -C /root/repo -xf -
docker exec -w /root/repo "$name" sh -c 'python3 tests/unit/tools/gpu_profile.py h200 /opt/labops-rehearsal/gpu >/dev/null &&
  rm /opt/labops-rehearsal/gpu/.dockerenv && chmod -R a+rX /opt/labops-rehearsal'

echo "== rehearse: tests/gpu/reference-host.sh (DLSTACK_GPU_REHEARSAL=/opt/labops-rehearsal)"
start=$SECONDS
rc=0
docker exec -w /root/repo -e OUT=/out -e DLSTACK_GPU_REHEARSAL=/opt/labops-rehearsal \
  -e PATH=/opt/torch/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "$name" bash tests/gpu/reference-host.sh > /dev/null || rc=$?
took=$((SECONDS - start))
rm -rf "$out"
mkdir -p "$out"
docker cp "$name:/out/." "$out/"
echo "== rehearse: reference-host.sh took ${took}s here (exit $rc); files: $(cd "$out" && echo *)"
cat "$out/summary.txt"
exit "$rc"

#!/usr/bin/env bash
# Proof on the reference GPU host (issue 18): the collection run on a real NVIDIA H200, in one go.
# Run it as root from the repository root of a checkout; everything it reports goes to $OUT:
#
#   OUT=/some/dir bash tests/gpu/reference-host.sh
#
# Needs the offline kit of tests/gpu/fetch-kit.sh for the host's /usr/bin/python3 (make gpu-kit:
# .cache/gpu-kit/cp312 for the reference host; carry that path): the host has no network, no sudo,
# no systemd. Steps, each judged by tests/gpu/judge.py, each run even when an earlier one failed:
#   0 prepare   host facts; ansible-core from the kit into a venv of /usr/bin/python3; the collection
#               resolving from this checkout; community.general from the kit
#   1 facts     labops.dlstack.gpu_facts live (against nvidia-smi's own answer), bench/gpu_facts_bench.py
#   2 report    playbooks/gpu_report.yml on localhost: JSON and HTML
#   3 driver    nvidia_driver on the installed driver: --check, then for real: satisfied, changed=0
#   4 cuda      cuda_toolkit with CUDA 13.0 in /usr/local/cuda-13.0: found, nothing installed, the
#               test kernel compiled for the GPU's sm_XY and run on it; --check, real, real again
#   5 torch     molecule/gpu's converge (and its idempotence run) for the lab user (ubuntu, become su):
#               an environment layered on the image's torch, verified as that user, CUDA required
#   6 verify    playbooks/verify.yml on localhost: the fleet report with the host green
# $OUT then holds (8 files, the device tool's limit): summary.txt, summary.json, run.log,
# gpu_report.{json,html}, verify_report.{json,html}, details.tar.gz (every step's log and record).
#
# Knobs: DLSTACK_GPU_USER (ubuntu), DLSTACK_GPU_PYTHON (/usr/bin/python3), DLSTACK_GPU_KIT
# (.cache/gpu-kit/cpXY for that python), DLSTACK_GPU_WORK (/tmp/dlstack-gpu), DLSTACK_GPU_CUDA
# (13.0), DLSTACK_GPU_STEP_TIMEOUT (seconds per command, 240), DLSTACK_GPU_BUDGET (seconds for the
# whole run, 270: commands that would start later are not run, and say so, so the summary and
# details.tar.gz are written inside a device call of 300 s).
# DLSTACK_GPU_REHEARSAL=DIR: the rehearsal (tests/gpu/rehearse.sh, in a container): the probe reads the
# recorded H200 in DIR/gpu instead of /sys, and the parts only a GPU can do are stood in and judged
# as such (REHEARSED in the summary), everything else is the same code path.
set -uo pipefail   # no -e: every step runs, and each one's result is recorded

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 2
OUT=${OUT:-$repo/reports/gpu-host}
user=${DLSTACK_GPU_USER:-ubuntu}
py=${DLSTACK_GPU_PYTHON:-/usr/bin/python3}
work=${DLSTACK_GPU_WORK:-/tmp/dlstack-gpu}
cuda=${DLSTACK_GPU_CUDA:-13.0}
tmo=${DLSTACK_GPU_STEP_TIMEOUT:-240}
budget=${DLSTACK_GPU_BUDGET:-270}
rehearsal=${DLSTACK_GPU_REHEARSAL:-}
venv=$work/venv
mkdir -p "$OUT"
rm -rf "$work"
mkdir -p "$work"/{logs,proofs,reports}
exec > >(tee -a "$OUT/run.log") 2>&1
t_all=$EPOCHREALTIME
mode=${rehearsal:+REHEARSAL (recorded H200 in $rehearsal/gpu, no GPU)}
echo "== labops.dlstack on the reference GPU host: $(date -u +%FT%TZ) ${mode:-REAL HOST}"
echo "   checkout $repo ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo 'no git')), work $work, out $OUT"

# ---- bookkeeping ---------------------------------------------------------------------------------
steps_tsv=$work/steps.tsv
: > "$steps_tsv"
judge_py=$py
write_summary() {
  "$judge_py" - "$steps_tsv" "$OUT" "${mode:-REAL HOST}" <<'PY'
import json, sys
rows = [line.rstrip('\n').split('\t', 4) for line in open(sys.argv[1], encoding='utf-8') if line.strip()]
head = 'labops.dlstack on the reference GPU host: %s' % sys.argv[3]
with open(sys.argv[2] + '/summary.txt', 'w', encoding='utf-8') as out:
    out.write(head + '\n')
    for step, name, result, secs, detail in rows:
        out.write('%-2s %-8s %-9s %7.1fs  %s\n' % (step, name, result, float(secs), detail))
with open(sys.argv[2] + '/summary.json', 'w', encoding='utf-8') as out:
    json.dump({'mode': sys.argv[3], 'steps': [dict(step=int(s), name=n, result=r, seconds=float(t), detail=d)
                                              for s, n, r, t, d in rows]}, out, indent=2)
    out.write('\n')
PY
}
record() {  # record STEP NAME RESULT START DETAIL
  local secs
  secs=$(awk -v a="$4" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$secs" "$(tr '\n\t' '  ' <<<"$5")" >> "$steps_tsv"
  echo "== step $1 $2: $3 (${secs}s) $5"
  write_summary
}
judged() {  # judged STEP NAME START JUDGE-ARGS...: run the judge, record its verdict
  local step=$1 name=$2 start=$3 out rc result
  shift 3
  out=$(PYTHONPATH=$work/collections "$judge_py" "$repo/tests/gpu/judge.py" "$@" ${rehearsal:+--rehearsal} 2>&1)
  rc=$?
  echo "$out"
  case $rc in 0) result=PASS ;; 2) result=REHEARSED ;; *) result=FAIL ;; esac
  record "$step" "$name" "$result" "$start" "$(tail -n 1 <<<"$out")"
  [ "$rc" -ne 1 ]
}
left() {  # seconds for the next command: the step timeout, or what is left of the budget if less
  awk -v a="$t_all" -v b="$EPOCHREALTIME" -v budget="$budget" -v tmo="$tmo" \
    'BEGIN { l = int(budget - (b - a)); if (l > tmo) l = tmo; if (l < 1) l = 1; print l }'
}
playbook() {  # playbook LOG ARGS...: ansible-playbook with the step's log; its exit status
  local log=$1 secs
  shift
  secs=$(left)
  echo "-- ansible-playbook $* (time left: ${secs}s)"
  if [ "$secs" -lt 15 ]; then
    echo "NOT RUN: the time budget of ${budget}s (DLSTACK_GPU_BUDGET) is spent" | tee "$log"
    return 124
  fi
  timeout "$secs" "$venv/bin/python" "$venv/bin/ansible-playbook" "$@" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

# ---- 0 prepare -----------------------------------------------------------------------------------
t0=$EPOCHREALTIME
echo "== step 0 prepare: host facts, ansible-core from the kit, the collection from this checkout"
pyver=$("$py" -c 'import sys; print("%d%d" % sys.version_info[:2])' 2>/dev/null)
kit=${DLSTACK_GPU_KIT:-$repo/.cache/gpu-kit/cp$pyver}
torch_py=$(command -v python3)
smi=$(command -v nvidia-smi || ls /usr/local/nvidia/bin/nvidia-smi 2>/dev/null || echo nvidia-smi)
[ -n "$rehearsal" ] && smi=$rehearsal/gpu/bin/nvidia-smi
{
  echo "## id; uname; os-release"; id; uname -a; grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release
  echo "## nproc $(nproc), memory $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
  echo "## $user: $(getent passwd "$user" || echo 'no such user')"
  echo "## sudo: $(command -v sudo || echo absent); systemctl: $(command -v systemctl || echo absent); pid 1: $(cat /proc/1/comm)"
  echo "## container marks: $(for f in /.dockerenv /run/.containerenv; do [ -e "$f" ] && printf '%s ' "$f"; done)cgroup of pid 1: $(head -c 200 /proc/1/cgroup | tr '\n' ' ')"
  echo "## $py: $("$py" --version 2>&1); python3-apt: $("$py" -c 'import apt; print("importable")' 2>&1 | tail -n 1)"
  echo "## first python3 on PATH: $torch_py"
  echo "## nvidia-smi: $smi"; "$smi" --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1
  echo "## /usr/local/cuda -> $(readlink -f /usr/local/cuda 2>&1); $(echo /usr/local/cuda-*)"
  echo "## nvcc: $(/usr/local/cuda-"$cuda"/bin/nvcc --version 2>&1 | grep release)"
  echo "## dpkg: $(dpkg-query -W -f='${Package}=${Version} ' g++ gcc build-essential "cuda-nvcc-${cuda/./-}" python3-apt 2>&1)"
  echo "## kit $kit:"; cat "$kit/MANIFEST" 2>&1
  [ -n "$rehearsal" ] && { echo "## REHEARSAL stand-ins:"; cat "$rehearsal"/STAND-IN* 2>&1; }
} > "$work/host.txt" 2>&1
cat "$work/host.txt"
# The preinstalled torch: what the lab user's environment is layered on (and its release for the probe).
timeout "$tmo" "$torch_py" -c 'import os, sys, torch
print(os.path.dirname(os.path.dirname(torch.__file__)))
print(torch.__version__)
print("%d.%d" % sys.version_info[:2])
print("%s as %s: torch %s, CUDA build %s, torch.cuda.is_available() %s" % (sys.executable, os.getuid(),
      torch.__version__, torch.version.cuda, torch.cuda.is_available()))' > "$work/torch.txt" 2> "$work/torch.err"
cat "$work/torch.txt" "$work/torch.err"
site_packages=$(sed -n 1p "$work/torch.txt")
torch_full=$(sed -n 2p "$work/torch.txt")
torch_python=$(sed -n 3p "$work/torch.txt")
torch_release=${torch_full%%+*}
torch_variant=${torch_full#*+}
[ "$torch_variant" = "$torch_full" ] && torch_variant=""
prepared=true
if ! { "$py" -m venv --without-pip "$venv" &&
       pipwhl=$(compgen -G "$kit/pip-*.whl" | head -n 1) &&
       "$venv/bin/python" "$pipwhl/pip" install --quiet --disable-pip-version-check \
         --no-index --find-links "$kit" -c "$kit/constraints.txt" ansible-core &&
       mkdir -p "$work/collections/ansible_collections/labops" &&
       ln -sfn "$repo" "$work/collections/ansible_collections/labops/dlstack" &&
       tar -C "$work/collections/ansible_collections" -xzf "$(compgen -G "$kit/community-general-*.tar.gz" | head -n 1)" &&
       "$venv/bin/python" "$venv/bin/ansible" --version; } > "$work/logs/0-prepare.log" 2>&1; then
  prepared=false
fi
cat "$work/logs/0-prepare.log"
export ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_HOME=$work/ansible-home
export ANSIBLE_LOCAL_TEMP=$work/ansible-home/tmp ANSIBLE_INJECT_FACT_VARS=false ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=false ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_RETRY_FILES_ENABLED=false PY_COLORS=0 PYTHONUNBUFFERED=1
# Variables of every play: modules run by the host's own python3, root becomes the lab user with su.
{
  echo "ansible_python_interpreter: $py"
  echo "ansible_become_method: su"
  echo "dlstack_torch_version: \"$torch_release\""
  if [ -n "$rehearsal" ]; then
    echo "dlstack_gpu_probe_sysfs_root: $rehearsal/gpu/sys"
    echo "dlstack_gpu_probe_procfs_root: $rehearsal/gpu/proc"
    echo "dlstack_gpu_probe_nvidia_smi: $rehearsal/gpu/bin/nvidia-smi"
  fi
} > "$work/extra.yml"
# What the lab user's environment is made of (steps 5 and 6): the image's torch, CUDA required. The
# rehearsal's torch is a CPU build, so there the variant is cpu and CUDA is not required.
if [ -n "$rehearsal" ]; then
  torch_vars='{"pytorch_env_variant": "cpu", "pytorch_env_require_cuda": false}'
else
  torch_vars='{"pytorch_env_variant": "auto", "pytorch_env_require_cuda": true}'
fi
if $prepared && [ -n "$site_packages" ]; then
  judge_py=$venv/bin/python
  record 0 prepare PASS "$t0" "ansible-core $("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)') in $venv ($py); torch $torch_full at $site_packages ($torch_py); nvidia-smi $smi"
else
  why=installed
  $prepared || why=$(tail -n 1 "$work/logs/0-prepare.log")
  record 0 prepare FAIL "$t0" "ansible-core from $kit: $why; torch: $(cat "$work/torch.txt" "$work/torch.err" | tail -n 1)"
fi
inv=(-i "$repo/inventories/localhost" -e "@$work/extra.yml")

# ---- 1 facts -------------------------------------------------------------------------------------
t1=$EPOCHREALTIME
echo "== step 1 facts: labops.dlstack.gpu_facts live, then bench/gpu_facts_bench.py"
margs="torch_version=$torch_release"
[ -n "$rehearsal" ] && margs+=" sysfs_root=$rehearsal/gpu/sys procfs_root=$rehearsal/gpu/proc nvidia_smi_path=$smi"
ta=$EPOCHREALTIME
timeout "$(left)" "$venv/bin/python" "$venv/bin/ansible" localhost "${inv[@]}" -m labops.dlstack.gpu_facts -a "$margs" \
  --tree "$work/proofs/gpu_facts" > "$work/logs/1-facts.log" 2>&1
secs=$(awk -v a="$ta" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
cat "$work/logs/1-facts.log"
smi_answer=$(timeout 60 "$smi" --query-gpu=name,compute_cap,driver_version --format=csv,noheader 2>&1 | head -n 1)
timeout "$(left)" "$venv/bin/python" bench/gpu_facts_bench.py --runs 7 --json "$work/proofs/gpu_facts_bench.json" 2>&1 | tee "$work/logs/1-bench.log"
judged 1 facts "$t1" facts --facts "$work/proofs/gpu_facts/localhost" --smi "$smi_answer" --seconds "$secs" \
  --bench "$work/proofs/gpu_facts_bench.json" --expect-variant "$([ -n "$rehearsal" ] || echo "$torch_variant")"

# ---- 2 report ------------------------------------------------------------------------------------
t2=$EPOCHREALTIME
echo "== step 2 report: playbooks/gpu_report.yml on localhost"
playbook "$work/logs/2-report.log" "${inv[@]}" playbooks/gpu_report.yml -e "fleet_report_dir=$work/reports"
cp "$work/reports/gpu_report.json" "$work/reports/gpu_report.html" "$OUT/" 2>/dev/null
judged 2 report "$t2" report --log "$work/logs/2-report.log" --json "$work/reports/gpu_report.json" \
  --html "$work/reports/gpu_report.html"

# ---- 3 driver ------------------------------------------------------------------------------------
t3=$EPOCHREALTIME
echo "== step 3 driver: nvidia_driver against the installed driver, --check first, then for real"
drv=(tests/gpu/playbooks/role.yml -e dlstack_gpu_proof_role=nvidia_driver
     -e '{"dlstack_gpu_proof_vars": ["nvidia_driver_result", "__nvidia_driver_plan"]}')
playbook "$work/logs/3-driver-check.log" "${inv[@]}" "${drv[@]}" --check -e "dlstack_gpu_proof_file=$work/proofs/driver-check.json"
real=(--log "$work/logs/3-driver.log" --proof "$work/proofs/driver.json")
if "$judge_py" tests/gpu/judge.py driver --check-log "$work/logs/3-driver-check.log" \
     --check-proof "$work/proofs/driver-check.json" --log "" ${rehearsal:+--rehearsal} 2>/dev/null | grep -q '^  FAIL check'; then
  echo "-- check mode says the role would change or fail here: the real run is not done"
  real=(--why-not "check mode said it would change or fail: see 3-driver-check.log")
else
  playbook "$work/logs/3-driver.log" "${inv[@]}" "${drv[@]}" -e "dlstack_gpu_proof_file=$work/proofs/driver.json"
fi
judged 3 driver "$t3" driver --check-log "$work/logs/3-driver-check.log" --check-proof "$work/proofs/driver-check.json" "${real[@]}"

# ---- 4 cuda --------------------------------------------------------------------------------------
t4=$EPOCHREALTIME
echo "== step 4 cuda: cuda_toolkit with the installed CUDA $cuda (--check, real, real again)"
sm=$(cut -d, -f2 <<<"$smi_answer" | tr -d ' .')
cu=(tests/gpu/playbooks/role.yml -e dlstack_gpu_proof_role=cuda_toolkit
    -e "{\"cuda_toolkit_source\": \"nvidia\", \"cuda_toolkit_versions\": [\"$cuda\"],
         \"dlstack_gpu_proof_vars\": [\"__cuda_toolkit_plan\", \"__cuda_toolkit_compiled\", \"__cuda_toolkit_dpkg\"]}")
playbook "$work/logs/4-cuda-check.log" "${inv[@]}" "${cu[@]}" --check -e "dlstack_gpu_proof_file=$work/proofs/cuda-check.json"
playbook "$work/logs/4-cuda.log" "${inv[@]}" "${cu[@]}" -e "dlstack_gpu_proof_file=$work/proofs/cuda.json"
playbook "$work/logs/4-cuda-again.log" "${inv[@]}" "${cu[@]}" -e "dlstack_gpu_proof_file=$work/proofs/cuda-again.json"
judged 4 cuda "$t4" cuda --check-log "$work/logs/4-cuda-check.log" --check-proof "$work/proofs/cuda-check.json" \
  --log "$work/logs/4-cuda.log" --proof "$work/proofs/cuda.json" --again-log "$work/logs/4-cuda-again.log" \
  --again-proof "$work/proofs/cuda-again.json" --version "$cuda" --home "/usr/local/cuda-$cuda" --sm "$sm" \
  --gpu-name "$(cut -d, -f1 <<<"$smi_answer")"

# ---- 5 torch -------------------------------------------------------------------------------------
t5=$EPOCHREALTIME
echo "== step 5 torch: molecule/gpu's converge for $user (become su), then its idempotence run"
# molecule/gpu/molecule.yml's own inventory (molecule itself is not on the host: same playbook, same hosts)
"$judge_py" -c 'import sys, yaml
inv = yaml.safe_load(open(sys.argv[1]))["provisioner"]["inventory"]["hosts"]
yaml.safe_dump(inv, open(sys.argv[2], "w"))' molecule/gpu/molecule.yml "$work/molecule-inventory.yml"
export MOLECULE_EPHEMERAL_DIRECTORY=$work/molecule DLSTACK_GPU_USER=$user
mol=(-i "$work/molecule-inventory.yml" -e "@$work/extra.yml" -e "$torch_vars" molecule/gpu/converge.yml)
playbook "$work/logs/5-torch.log" "${mol[@]}"
playbook "$work/logs/5-torch-again.log" "${mol[@]}"
judged 5 torch "$t5" torch --log "$work/logs/5-torch.log" --again-log "$work/logs/5-torch-again.log" \
  --report "$work/molecule/reports/pytorch_env/gpu-host.json" --user "$user" --uid "$(id -u "$user" 2>/dev/null || echo -1)" \
  --site-packages "$site_packages" --gpu-name "$(cut -d, -f1 <<<"$smi_answer")"

# ---- 6 verify ------------------------------------------------------------------------------------
t6=$EPOCHREALTIME
echo "== step 6 verify: playbooks/verify.yml on localhost, $user's environment checked as $user"
users="{\"pytorch_env_users\": [{\"user\": \"$user\", \"envs\": [{\"name\": \"gpu-check\"}]}],
        \"pytorch_env_system_site_packages_from\": \"$site_packages\", \"pytorch_env_python\": \"$torch_python\",
        \"pytorch_env_torch_version\": \"$torch_release\", \"pytorch_env_report_dir\": \"$work/reports/pytorch_env\"}"
playbook "$work/logs/6-verify.log" "${inv[@]}" playbooks/verify.yml -e "$users" -e "$torch_vars" -e "fleet_report_dir=$work/reports"
cp "$work/reports/verify_report.json" "$work/reports/verify_report.html" "$OUT/" 2>/dev/null
judged 6 verify "$t6" verify --log "$work/logs/6-verify.log" --json "$work/reports/verify_report.json" \
  --html "$work/reports/verify_report.html"

# ---- the rest of the evidence --------------------------------------------------------------------
cp "$work/host.txt" "$work/torch.txt" "$work/torch.err" "$work/extra.yml" "$work/logs/" 2>/dev/null
tar -C "$work" -czf "$OUT/details.tar.gz" logs proofs reports molecule 2>/dev/null
total=$(awk -v a="$t_all" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
echo "== done in ${total}s: $OUT/summary.txt"
cat "$OUT/summary.txt"
! cut -f3 "$steps_tsv" | grep -q FAIL

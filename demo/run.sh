#!/usr/bin/env bash
# The README's main command (`make demo`): a throwaway lab of three containers, the whole stack
# (labops.dlstack.site) run against it, and the fleet report. `make demo-down` removes the lab.
# Needs what `make setup` provides: the venv, Docker, the test image, the offline wheelhouse.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$PWD/.cache/collections}
export ANSIBLE_INJECT_FACT_VARS=false ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_DEPRECATION_WARNINGS=false
reports=${DLSTACK_DEMO_REPORTS:-$PWD/reports/demo}
extra=(-e "fleet_report_dir=$reports" -e "pytorch_env_report_dir=$reports/pytorch_env")

echo "== demo: starting the lab (3 containers from labops-dlstack/debian:12)"
ansible-playbook demo/lab.yml

# conda needs an installer: Miniforge is downloaded from GitHub, which a machine without internet
# (like the project's test machines) cannot reach. There the demo runs the conda stage with the
# stand-in installer the tests use (molecule/conda/files, see molecule/conda/README.md), and says
# SIMULATED wherever it shows it, like the recorded GPUs.
standin=$PWD/molecule/conda/files/Miniforge3-standin-Linux-x86_64.sh
if [ -n "${DLSTACK_DEMO_CONDA_INSTALLER:-}" ]; then
  echo "== demo: conda for alice and bob from $DLSTACK_DEMO_CONDA_INSTALLER"
  extra+=(-e "{\"conda_users\": [\"alice\", \"bob\"], \"conda_installer_src\": \"$DLSTACK_DEMO_CONDA_INSTALLER\"}")
elif timeout 8 curl -fsSI -o /dev/null https://github.com/conda-forge/miniforge/releases 2>/dev/null; then
  echo "== demo: conda for alice and bob (Miniforge downloaded from GitHub)"
  extra+=(-e '{"conda_users": ["alice", "bob"]}')
else
  version=$(sed -n 's/^STANDIN_VERSION=//p' "$standin")
  echo "== demo: conda for alice and bob from the STAND-IN installer [SIMULATED] (conda: stand-in installer):"
  echo "   no Miniforge installer is downloadable here. It lays out each user's prefix like Miniforge $version"
  echo "   but installs no package. For the real one: DLSTACK_DEMO_CONDA_INSTALLER=/path/to/Miniforge3-Linux-x86_64.sh"
  echo "   make demo (in a real inventory: conda_installer_src, conda_installer_path or conda_installer_mirror)."
  extra+=(-e "{\"conda_users\": [\"alice\", \"bob\"], \"conda_installer_src\": \"$standin\",
              \"conda_version\": \"$version\", \"conda_installer_sha256\": \"$(sha256sum "$standin" | cut -d' ' -f1)\"}")
fi

echo "== demo: labops.dlstack.site on the lab (GPUs of ws1/ws2 are SIMULATED from recorded captures)"
start=$SECONDS
ansible-playbook -i demo/inventory.yml labops.dlstack.site "${extra[@]}" "$@"
echo "== demo: site.yml took $((SECONDS - start))s"
echo "== demo: fleet report: $reports/site_report.html (and .json); per-host torch checks in $reports/pytorch_env/"
echo "== demo: what alice gets on dlstack-demo-ws1 (GPU facts SIMULATED): her own check, run as her"
echo "   \$ docker exec -u alice dlstack-demo-ws1 /home/alice/.venvs/torch/bin/dlstack-check"
docker exec -u alice dlstack-demo-ws1 /home/alice/.venvs/torch/bin/dlstack-check | sed 's/^/   /'
echo "== demo: look around: docker exec -it -u alice dlstack-demo-ws1 bash; remove the lab: make demo-down"

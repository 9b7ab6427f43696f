# labops.dlstack developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# The collection resolves as labops.dlstack from this checkout (no install step);
# community.* come from the venv's `ansible` package.
COLLECTIONS_DIR := $(CURDIR)/.cache/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
export ANSIBLE_INJECT_FACT_VARS := false
# The CA bundle the test containers trust (the host's: apt/pip behind an intercepting proxy).
export DLSTACK_CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0
# A complete offline wheelhouse (CPU torch, its dependencies, uv), built once by `make wheelhouse`
# from this machine's package sources and mounted read-only into test and demo containers, which
# install from it with no index (see tests/harness/ensure-wheelhouse.sh).
export DLSTACK_WHEELHOUSE ?= $(CURDIR)/.cache/wheelhouse
# Every scenario under molecule/, less those that need what CI lacks: gpu (a real GPU host) and
# conda_online (internet to download Miniforge). Run those by name: make molecule MOLECULE_SCENARIOS=gpu
MOLECULE_NOT_IN_CI := gpu conda_online vm vm_secureboot kernel_upgrade
# The VM lab (make vm): one Debian release per VM, one after the other
VM_RELEASES ?= 12 13
MOLECULE_SCENARIOS ?= $(filter-out $(MOLECULE_NOT_IN_CI),$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

# The publishing tools (galaxy-importer, antsibull-docs, ansible-navigator) in their own venv:
# their pins clash with the developer tool chain's (tests/harness/requirements-publish.txt).
PUBLISH_VENV := $(CURDIR)/.cache/venv-publish
# ansible-core releases the version matrix runs sanity and the unit tests on, besides the venv's 2.19
# (2.20 and 2.21 need Python 3.12+: they run in the Debian 13 image, whose python3 is 3.13).
MATRIX_CORE_VERSIONS ?= 2.20.10 2.21.5

.PHONY: faults help test setup venv publish-venv tools docker images wheelhouse collection unit lint sanity changelog knowledge-check knowledge-warn release molecule build publish ee ee-run matrix demo demo-down clean gpu-kit gpu-rehearsal vm vm-images vm-secureboot kernel-upgrade docs pci-ids

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: setup unit lint sanity changelog knowledge-warn build publish ee matrix ee-run molecule faults  ## everything CI runs, failing on the first failure
	@echo "make test: all stages passed"

setup: venv publish-venv tools docker images wheelhouse collection  ## venvs, host tools, Docker engine, test images, wheelhouse, collection path

venv:  ## project-local .venv from the pinned requirements-dev.txt (reused while unchanged)
	bash tests/harness/ensure-venv.sh

publish-venv:  ## .cache/venv-publish: galaxy-importer, antsibull-docs, ansible-navigator (tests/harness/requirements-publish.txt)
	bash tests/harness/ensure-venv.sh $(PUBLISH_VENV) tests/harness/requirements-publish.txt

tools:  ## host tools the tests use (shellcheck for sanity, debootstrap for images), from apt when missing
	bash tests/harness/ensure-tools.sh

docker:  ## a Docker engine that answers (installs docker.io and starts dockerd where none runs)
	bash tests/harness/ensure-docker.sh

images: docker  ## labops-dlstack/debian:12 and :13 test images, and :debian-kernel ones with a Debian kernel (cached by recipe)
	bash tests/harness/ensure-images.sh
	bash tests/harness/ensure-kernel-images.sh

wheelhouse: venv  ## the offline wheelhouse in .cache/wheelhouse (CPU torch + dependencies + uv)
	bash tests/harness/ensure-wheelhouse.sh "$(DLSTACK_WHEELHOUSE)"

collection:
	@mkdir -p $(COLLECTIONS_DIR)/ansible_collections/labops
	@ln -sfn $(CURDIR) $(COLLECTIONS_DIR)/ansible_collections/labops/dlstack

unit: venv collection  ## pytest unit tests
	python -m pytest tests/unit -q -p no:cacheprovider

# ansible-lint --offline installs the collection into $$ANSIBLE_HOME/collections unless a symlink to
# this checkout is already there: give it a project-local home holding that symlink, so it neither
# writes to ~/.ansible nor lints a stale copy.
LINT_HOME := $(CURDIR)/.cache/lint-home
lint: venv collection  ## ansible-lint, production profile
	@mkdir -p $(LINT_HOME)/collections/ansible_collections/labops
	@ln -sfn $(CURDIR) $(LINT_HOME)/collections/ansible_collections/labops/dlstack
	ANSIBLE_HOME=$(LINT_HOME) ansible-lint --offline --profile production

sanity: venv tools  ## ansible-test sanity (offline-safe pip bootstrap, see tests/harness/sanity.sh)
	bash tests/harness/sanity.sh

changelog: venv  ## antsibull-changelog lint, CHANGELOG.rst current, the release tried in a scratch copy
	bash tests/harness/changelog.sh check

release: venv  ## the release of galaxy.yml's version: changelog.yaml, CHANGELOG.rst (then commit and tag)
	bash tests/harness/changelog.sh release

# Generated files (the generators live in tools/; unit tests fail when what they write is stale).
docs: venv  ## regenerate docs/roles.md and roles/*/README.md from the roles' meta/argument_specs.yml (tools/gen_role_docs.py)
	python tools/gen_role_docs.py

pci-ids: venv  ## regenerate plugins/module_utils/_gpu_pci_ids.py from the PCI TSVs in tests/unit/fixtures/gpu (tools/gen_pci_ids.py)
	python tools/gen_pci_ids.py

knowledge-check: venv collection  ## compare the knowledge tables with PyPI (torch/torchvision/torchaudio) and the PCI table with its sources; fails listing what differs
	python tests/harness/knowledge_check.py

# In `make test` a new upstream release must not block unrelated work: what is stale is printed as a
# WARNING, and where PyPI does not answer the check says so and is skipped.
knowledge-warn: venv collection
	python tests/harness/knowledge_check.py --warn

build: venv  ## ansible-galaxy collection build, and check nothing from tests or caches is inside
	bash tests/harness/check-build.sh

publish: build publish-venv  ## galaxy-importer and antsibull-docs lint-collection-docs (0 errors), a new user's install from the tarball
	bash tests/harness/publish-check.sh
	bash tests/harness/install-check.sh

ee: build  ## ansible-builder create: the shipped execution-environment.yml and the offline build context
	bash tests/harness/ee.sh create

ee-run: build publish-venv images wheelhouse  ## build the execution environment, run the demo lab's site.yml through it (ansible-navigator)
	bash tests/harness/ee.sh run

matrix: venv images  ## ansible-test sanity and the unit tests on ansible-core $(MATRIX_CORE_VERSIONS) (Debian 13 containers)
	bash tests/harness/matrix.sh $(MATRIX_CORE_VERSIONS)

molecule: setup  ## every Molecule scenario under molecule/
	@for s in $(MOLECULE_SCENARIOS); do echo "=== molecule test -s $$s"; molecule test -s $$s || exit 1; done

vm-images: setup  ## the VM lab's Debian disk images (debootstrap, GRUB, kernel; cached by recipe in .cache/vm)
	DLSTACK_VM_RELEASES="$(VM_RELEASES)" bash tests/harness/ensure-vm-images.sh

vm: vm-images  ## VM lab: labops.dlstack.site over SSH on Debian VMs booting their own kernel, reboot and (Debian 12) kernel upgrade included (root; not in make test)
	@for r in $(VM_RELEASES); do echo "=== molecule test -s vm (Debian $$r)"; DLSTACK_VM_RELEASE=$$r molecule test -s vm || exit 1; done

vm-secureboot: vm-images  ## VM lab, Debian 12 under UEFI Secure Boot (shim, signed GRUB and kernel): the role refuses an unsigned module with the MOK steps, and signs it with the lab's MOK (root; not in make test)
	bash tests/harness/ensure-vm-sb-image.sh
	molecule test -s vm_secureboot

kernel-upgrade: setup  ## Debian 12: nvidia_driver's host path, then the kernel upgraded from bookworm-backports; the module is there for the new kernel (two DKMS builds, about 15 min; not in make test)
	molecule test -s kernel_upgrade

faults: setup  ## fault and bad-input tests: check mode, 53 invalid inputs, interrupts, dpkg killed, host dies, checksum, archive down
	python -m pytest tests/integration -q -p no:cacheprovider

gpu-kit: venv  ## offline kit for the reference GPU host (cp312 wheels of ansible-core, pip, community.general) in .cache/gpu-kit/cp312
	bash tests/gpu/fetch-kit.sh 3.12

gpu-rehearsal: setup  ## tests/gpu/reference-host.sh rehearsed in a container against the recorded H200 (no GPU; see tests/gpu/README.md)
	bash tests/gpu/rehearse.sh

demo: setup  ## main job: a throwaway demo lab of three containers, site.yml on it, the fleet report
	bash demo/run.sh

demo-down:  ## remove the demo lab's containers
	ansible-playbook demo/lab.yml -e demo_state=absent

clean:  ## remove the venv, caches and test containers (images are kept; docker rmi them by hand)
	-for s in $(MOLECULE_SCENARIOS); do molecule destroy -s $$s; done
	rm -rf $(VENV) .cache labops-dlstack-*.tar.gz

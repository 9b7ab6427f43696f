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
MOLECULE_NOT_IN_CI := gpu conda_online vm
# The VM lab (make vm): one Debian release per VM, one after the other
VM_RELEASES ?= 12 13
MOLECULE_SCENARIOS ?= $(filter-out $(MOLECULE_NOT_IN_CI),$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: faults help test setup venv tools docker images wheelhouse collection unit lint sanity changelog molecule build ee demo demo-down clean vm vm-images

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: setup unit lint sanity changelog build ee molecule faults  ## everything CI runs, failing on the first failure
	@echo "make test: all stages passed"

setup: venv tools docker images wheelhouse collection  ## venv, host tools, Docker engine, test images, wheelhouse, collection path

venv:  ## project-local .venv from the pinned requirements.txt (reused while unchanged)
	bash tests/harness/ensure-venv.sh

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

changelog: venv  ## antsibull-changelog lint
	antsibull-changelog lint

build: venv  ## ansible-galaxy collection build, and check nothing from tests or caches is inside
	bash tests/harness/check-build.sh

ee: build  ## ansible-builder create: check execution-environment.yml and write its build context
	cp .cache/build/labops-dlstack-$$(sed -n 's/^version: *//p' galaxy.yml).tar.gz .cache/build/labops-dlstack.tar.gz
	ansible-builder create -f execution-environment.yml -c .cache/ee >/dev/null
	@test -s .cache/ee/Dockerfile && test -s .cache/ee/_build/collections/labops-dlstack.tar.gz
	@echo "ee: build context in .cache/ee (build it with: ansible-builder build -f execution-environment.yml -t labops/dlstack-ee)"

molecule: setup  ## every Molecule scenario under molecule/
	@for s in $(MOLECULE_SCENARIOS); do echo "=== molecule test -s $$s"; molecule test -s $$s || exit 1; done

vm-images: setup  ## the VM lab's Debian disk images (debootstrap, GRUB, kernel; cached by recipe in .cache/vm)
	DLSTACK_VM_RELEASES="$(VM_RELEASES)" bash tests/harness/ensure-vm-images.sh

vm: vm-images  ## VM lab: labops.dlstack.site over SSH on Debian VMs booting their own kernel, reboot included (root; not in make test)
	@for r in $(VM_RELEASES); do echo "=== molecule test -s vm (Debian $$r)"; DLSTACK_VM_RELEASE=$$r molecule test -s vm || exit 1; done

faults: setup  ## fault and bad-input tests: check mode, 34 invalid inputs, interrupts, checksum, archive down
	python -m pytest tests/integration -q -p no:cacheprovider

demo: setup  ## main job: a throwaway demo lab of three containers, site.yml on it, the fleet report
	bash demo/run.sh

demo-down:  ## remove the demo lab's containers
	ansible-playbook demo/lab.yml -e demo_state=absent

clean:  ## remove the venv, caches and test containers (images are kept; docker rmi them by hand)
	-for s in $(MOLECULE_SCENARIOS); do molecule destroy -s $$s; done
	rm -rf $(VENV) .cache labops-dlstack-*.tar.gz

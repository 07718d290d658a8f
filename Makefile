# edgefleet.k3s — developer and CI entry points. Every target installs what it needs into .venv first.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

ROOT       := $(abspath .)
VENV       := $(ROOT)/.venv
PY         := $(VENV)/bin/python
BUILD      := $(ROOT)/.build
COLL_ROOT  := $(BUILD)/collections
COLL_LINK  := $(COLL_ROOT)/ansible_collections/edgefleet/k3s
LAB_NAME   ?= edgefleet
# The release the lab installs, and where its release directories come from. RELEASES defaults to the test runtime
# built from tests/k3s_runtime; point it at a directory holding <version>/{k3s,sha256sum-amd64.txt} to run everything
# against a real k3s binary instead (then nothing is built).
K3S_VERSION ?= v1.36.1+k3s1
RELEASES   ?= $(BUILD)/releases
# Where molecule installs the collection under test (removed again: the checkout is what every target uses).
STALE_COPY := $(HOME)/.ansible/collections/ansible_collections/edgefleet/k3s
LAB        := PYTHONPATH=$(ROOT)/tests/lab $(PY) -m edgefleet_lab --lab $(LAB_NAME)
export CONTAINERS_CONF := $(ROOT)/tests/lab/containers.conf
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(COLL_ROOT)
export PATH := $(VENV)/bin:$(PATH)
# Tests and molecule scenarios read these, so each of them also runs against a supplied real k3s release.
export EDGEFLEET_RELEASES := $(RELEASES)
export EDGEFLEET_K3S_VERSION := $(K3S_VERSION)

.PHONY: help host-deps venv collection releases image lab lab-up lab-down lab-status test lint sanity unit runtime-test integration \
        molecule build clean

help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

host-deps: ## install the system packages the lab and the tests need (apt; quiet when present)
	bash $(ROOT)/tests/lab/host-deps.sh

$(VENV)/.installed: requirements-dev.txt | host-deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

venv: host-deps $(VENV)/.installed ## create the pinned toolchain virtualenv

collection: ## make ansible_collections/edgefleet/k3s point at this checkout
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn $(ROOT) $(COLL_LINK)

releases: venv ## build the test runtime releases (+ sha256sum files) into .build/releases
	if [ "$(RELEASES)" = "$(BUILD)/releases" ]; then $(PY) tests/k3s_runtime/build.py --out $(BUILD)/releases; \
	else test -f "$(RELEASES)/$(K3S_VERSION)/sha256sum-amd64.txt"; fi

image: venv host-deps ## build (or reuse) the lab host image
	$(LAB) image

lab-up: venv releases image ## bring the default lab fleet up and publish the releases on its mirror
	$(LAB) up
	$(LAB) mirror publish $(RELEASES)

lab: venv collection lab-up ## the main job: lab fleet + site.yml + cluster report
	$(LAB) inventory --output $(ROOT)/.lab/$(LAB_NAME)/inventory.yml
	ansible-playbook -i $(ROOT)/.lab/$(LAB_NAME)/inventory.yml playbooks/site.yml -e k3s_version=$(K3S_VERSION)

lab-down: venv host-deps ## remove every lab host, network and process
	$(LAB) down

lab-status: venv
	$(LAB) status

test: host-deps lint sanity unit runtime-test integration molecule ## everything CI runs

lint: venv collection ## ansible-lint (production), yamllint, ruff
	# molecule installs the collection under test into ~/.ansible/collections; a copy left there by an earlier run
	# would shadow this checkout for ansible-lint (a module added since would be "unknown").
	rm -rf $(STALE_COPY)
	yamllint --strict .
	ruff check .
	ruff format --check .
	ansible-lint --profile production

sanity: venv ## ansible-test sanity on a correctly placed copy of the collection
	# ansible-test bootstraps pip from a host that is unreachable here: give it a local stand-in (see the script).
	pipv=$$($(PY) -c "import re,ansible_test._internal.python_requirements as m,inspect;print(re.search(r\"pip='([0-9.]+)'\",inspect.getsource(m)).group(1))")
	install -D -m 0644 .ci/ansible-test-get-pip.py ~/.ansible/test/cache/get_pip_$${pipv//./_}.py
	rm -rf $(BUILD)/sanity && mkdir -p $(BUILD)/sanity/ansible_collections/edgefleet
	git ls-files -z --cached --others --exclude-standard | \
	  rsync -a --from0 --files-from=- ./ $(BUILD)/sanity/ansible_collections/edgefleet/k3s/
	# The copy lives inside this repository's ignored .build/: give it its own git so ansible-test lists its files.
	cd $(BUILD)/sanity/ansible_collections/edgefleet/k3s && git init -q && \
	  ansible-test sanity --python 3.11 --local --color no \
	    --exclude tests/k3s_runtime/ --exclude tests/lab/ --exclude tests/lab_tests/ --exclude tests/runtime/ \
	    --exclude tests/edgefleet_testing/

unit: venv collection ## pytest unit tests of modules and module_utils
	$(PY) -m pytest -q tests/unit

runtime-test: venv host-deps releases image ## contract tests of the k3s-compatible test runtime (local + on the lab)
	$(PY) -m pytest -q tests/runtime

integration: venv collection releases image ## lab tests: the lab itself, roles and scenarios on real hosts
	$(PY) -m pytest -q tests/lab_tests tests/integration

molecule: venv collection releases image ## molecule scenarios (all, or SCENARIO=name)
	status=0
	if [ -n "$${SCENARIO:-}" ]; then molecule test -s "$$SCENARIO" || status=$$?; else molecule test --all || status=$$?; fi
	rm -rf $(STALE_COPY)  # the copy of the collection molecule installed
	exit $$status

build: venv ## build the collection tarball into .build/
	ansible-galaxy collection build --force --output-path $(BUILD) .

clean:
	rm -rf $(BUILD)

# Two commands for a newcomer on a fresh Debian machine, as root:
#   make demo   installs what is needed and runs a container
#   make test   installs what is needed and runs the whole test suite
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV ?= .venv
BIN := $(VENV)/bin

# System packages: the kernel-facing tools, the peers we compare against, test images' source.
APT_PACKAGES := python3 python3-venv busybox-static iproute2 nftables libseccomp2 \
	runc crun skopeo umoci docker-registry util-linux procps e2fsprogs btrfs-progs xfsprogs zstd tar podman

.PHONY: deps apt venv demo test bench clean

apt:
	@export DEBIAN_FRONTEND=noninteractive; \
	dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || \
	apt-get install -y -q $(APT_PACKAGES) >/dev/null || \
	{ apt-get update -q >/dev/null && apt-get install -y -q $(APT_PACKAGES) >/dev/null; }

venv: apt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
	@# pip's console script imports `re` and runs `site` first (~12 ms of every container start): replace
	@# it with a script run by `python -I -S` that finds this checkout itself (see pallet/runtime/launcher.py;
	@# `pallet` the same way, pallet/cli/launcher.py).
	@for s in pallet-runtime:runtime pallet:cli; do \
		rm -f $(BIN)/$${s%%:*}; \
		printf '#!%s -IS\n%s\nimport sys\nsys.path.insert(0, "%s")\nfrom pallet.%s.launcher import run\nsys.exit(run())\n' \
			"$(abspath $(BIN))/python" "# $${s%%:*}, written by make venv: pallet/$${s#*:}/launcher.py says why" \
			"$(CURDIR)" "$${s#*:}" > $(BIN)/$${s%%:*}; \
		chmod 755 $(BIN)/$${s%%:*}; \
	done
	@$(BIN)/python -IS -c 'import sys; sys.path.insert(0, "$(CURDIR)"); from pallet.runtime.bundle import build; build()'

deps: venv

demo: deps
	@$(BIN)/python tools/demo.py

test: deps
	$(BIN)/python -m pytest -q tests

bench: deps
	$(BIN)/python bench/run_true.py

clean:
	rm -rf $(VENV) build *.egg-info

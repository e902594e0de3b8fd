# OneNet image: the broker, the onenet CLI, onenet-seed and the department
# adapters, for docker-compose.yml (docs/OPERATIONS.md is the runbook).
#
#   docker compose build          # or: docker build -t onenet:0.1.0 .
#
# Two stages: "build" installs exactly what scripts/deps.sh lists (the same
# script developers and CI run, so the image cannot drift from them),
# builds without tests and installs with `cmake --install` into a staging
# tree; "runtime" is debian:bookworm-slim with only the shared libraries
# those binaries load, running as the unprivileged user onenet.

# ---- build ----
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
# deps.sh also lists test, benchmark and tooling packages (cmocka,
# redis-server, chromium, clang, nats-server and libnats-dev,
# docker-compose): harmless here, this stage is thrown away.
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /tmp/build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONENET_TESTS=OFF \
          -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /tmp/build -j"$(nproc)" \
 && DESTDIR=/staging cmake --install /tmp/build

# ---- runtime ----
FROM debian:bookworm-slim AS runtime
# The runtime halves of deps.sh's -dev packages (ldd of every installed
# binary), nothing else: no compiler, no shell tools beyond Debian's base.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libzmq5 libprotobuf-c1 libjansson4 libconfig9 libhiredis0.14 libsqlite3-0 libxml2 \
      libmicrohttpd12 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/ /
# Directories the volumes are mounted on are created here, owned by onenet,
# so a fresh named volume starts with that ownership.
RUN ldconfig \
 && groupadd --system --gid 10001 onenet \
 && useradd --system --uid 10001 --gid onenet --home-dir /var/lib/onenet --no-create-home \
      --shell /usr/sbin/nologin onenet \
 && mkdir -p /var/lib/onenet /data/stores /etc/onenet/keys \
 && chown onenet:onenet /var/lib/onenet /data/stores \
 && onenet-broker --version && onenet --help >/dev/null
USER onenet:onenet
WORKDIR /var/lib/onenet
# 5570 broker (ROUTER), 5571 alert subscribers (XPUB), 9570 /healthz /readyz /metrics
EXPOSE 5570 5571 9570
CMD ["onenet-broker", "-c", "/etc/onenet/broker.cfg"]

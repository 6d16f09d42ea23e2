# The enclave image: enclave-app, built static (musl), alone in an empty file system.
# `scripts/build-enclave` builds it and turns it into an enclave image file (EIF) with
# `nitro-cli build-enclave`; PCR0 measures what is in here, so the build is
# reproducible: base image pinned by digest, Cargo.lock (--locked), every path
# remapped (scripts/build-enclave-binary), file times pinned to SOURCE_DATE_EPOCH.
# Anyone can rebuild it and compare PCR0 (docs/verification.md).
#
#   docker buildx build -f enclave.Dockerfile --target enclave \
#     --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
#     --build-arg ENCLAVE_RPC_URL=https://rpc.example --build-arg ENCLAVE_CONTRACT=0x... \
#     --output type=docker,name=enclave-lottery:enclave <context>
#
# where <context> is `git archive` of the commit, unpacked (scripts/build-enclave does
# this), so no untracked or uncommitted file can reach the image.
#
# docker-compose.yml runs the same image with `--mode sim`.

# rust:1.95-slim-bookworm, the multi-arch index digest. Source: the search tool's
# stored public Dockerfiles (the same tag@digest appears in several independent
# repositories, e.g. Cyb3rb1ade/PLUR1BUS-Harness's Dockerfile). To bump, resolve
# the tag with `docker buildx imagetools inspect rust:<tag>` and change both together.
FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build

# musl-gcc compiles ring's C and assembly for the musl target. The version is pinned
# (bookworm's only musl 1.2.3 build): a different one must fail the build, not
# silently change the bytes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/*
# The image's own toolchain (pinned by the digest above) plus its musl standard
# library, which rustup fetches for exactly that toolchain version.
RUN rustup target add x86_64-unknown-linux-musl

WORKDIR /enclave-lottery
# Whatever .dockerignore lets through: the workspace sources, Cargo.lock, the
# committed contract artifact and scripts/. No target/, .git or node_modules.
COPY . .

# The commit time (scripts/build-enclave passes `git log -1 --format=%ct`); the
# binary's mtime in the image is set to it. 0 when built by hand without it.
ARG SOURCE_DATE_EPOCH=0
RUN SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH}" scripts/build-enclave-binary \
        --target-dir /target --out /out/enclave-app

# The enclave: nothing but the binary. No CA bundle: enclave-app has Mozilla's roots
# compiled in (webpki-roots, rpc-transport/src/lib.rs) and an enclave has no other file
# system to read one from. No shell, no libc (static), no user database.
FROM scratch AS enclave
COPY --from=build /out/enclave-app /enclave-app
# What the enclave operates, baked in (and so measured by PCR0): the RPC URLs
# (https:// only, comma-separated for several providers; only scheme, host and port
# are ever logged; prefer ones whose path holds no API key, since a verifier needs
# the exact value to rebuild), how many must agree, the contract, and the one
# operator address an injected key may have (empty: injection off).
# Empty means unset; enclave-app then refuses to start. Other settings: the
# defaults, which in nitro mode are vsock://3:7101 (egress) and vsock://any:7100
# (control).
ARG ENCLAVE_RPC_URL=""
ARG ENCLAVE_RPC_QUORUM=""
ARG ENCLAVE_CONTRACT=""
ARG ENCLAVE_OPERATOR_ADDRESS=""
ENV ENCLAVE_RPC_URL=${ENCLAVE_RPC_URL} \
    ENCLAVE_RPC_QUORUM=${ENCLAVE_RPC_QUORUM} \
    ENCLAVE_CONTRACT=${ENCLAVE_CONTRACT} \
    ENCLAVE_OPERATOR_ADDRESS=${ENCLAVE_OPERATOR_ADDRESS} \
    ENCLAVE_LOG_FORMAT=json
ENTRYPOINT ["/enclave-app", "--mode", "nitro"]

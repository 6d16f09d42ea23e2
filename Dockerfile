# The simulated stack's other images, for docker-compose.yml (the enclave-app image
# is enclave.Dockerfile's, the same bytes as in the enclave):
#   --target host-proxy  the parent host's proxy: egress forwarder, control client, web API
#   --target deployer    the publisher, once: deploys the contract, then sets the
#                        operator from the enclave's verified attestation
# Binaries are built static (musl), so the runtime images need no libc of their own.

# rust:1.95-slim-bookworm, the multi-arch index digest, as in enclave.Dockerfile
# (source: the search tool's stored public Dockerfiles; several independent
# repositories pin this tag to this digest).
FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /enclave-lottery
COPY . .
ENV CC_x86_64_unknown_linux_musl=musl-gcc
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p host-proxy --bin host-proxy -p lottery-cli --bin lottery --bin attest \
    && mkdir -p /out \
    && cp target/x86_64-unknown-linux-musl/release/host-proxy \
          target/x86_64-unknown-linux-musl/release/lottery \
          target/x86_64-unknown-linux-musl/release/attest /out/

# host-proxy on Alpine: busybox's wget is the health check's HTTP client (a
# distroless image would have none). alpine:3.22 by digest; source: the search
# tool's stored public Dockerfiles (the same tag@digest in several repositories).
FROM alpine:3.22@sha256:14358309a308569c32bdc37e2e0e9694be33a9d99e68afb0f5ff33cc1f695dce AS host-proxy
COPY --from=build /out/host-proxy /usr/local/bin/host-proxy
# nobody:nogroup; host-proxy needs no privileges (its ports are above 1024).
USER 65534:65534
EXPOSE 6080 7101
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:6080/api/health"]
ENTRYPOINT ["/usr/local/bin/host-proxy"]

# The deployer on Foundry's image v1.7.1 (the anvil version pinned in
# scripts/tools/package.json), for `cast` (funding the operator) and a shell. By
# digest; source: the search tool's stored public files (the same tag@digest in
# several independent repositories).
FROM ghcr.io/foundry-rs/foundry:v1.7.1@sha256:8347b728d5d393dac1c018691b36f506d23b9dcd78341d40ea0fcb11c3a19cdd AS deployer
COPY --from=build /out/lottery /out/attest /usr/local/bin/
COPY deploy/compose/deployer.sh /usr/local/bin/deployer.sh
# Root, unlike Foundry's default user: the deployer reads the simulated CA file,
# which enclave-app (root in its scratch image) writes with mode 0600 to the shared
# volume, and writes enclave-app's settings to another. A development-only,
# one-shot container.
# hadolint ignore=DL3002
USER 0:0
ENTRYPOINT ["/usr/local/bin/deployer.sh"]

# syntax=docker/dockerfile:1
# One image for everything: `omendb operator`, `omendb control-plane` and every tenant `omendb server`.
#   docker build -t ghcr.io/omendb/omendb:0.1.0 .

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target dir between builds; the binary is copied out of the cache.
# No debug info in the image (the workspace's release profile keeps some for profiling: ~10x the size).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --release --locked --bin omendb \
    && install -D -m 0755 target/release/omendb /out/omendb

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 omendb \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin omendb \
    && install -d -o 65532 -g 65532 -m 0700 /var/lib/omendb
COPY --from=build /out/omendb /usr/local/bin/omendb
USER 65532:65532
WORKDIR /var/lib/omendb
# 5432: PostgreSQL protocol (tenant server); 8080: control plane REST API and console; 8081: health and metrics.
EXPOSE 5432 8080 8081
ENTRYPOINT ["/usr/local/bin/omendb"]

# syntax=docker/dockerfile:1
#
# One image for the whole system: every binary of the workspace (the services,
# e.g. /usr/local/bin/beneficiaries, and cepctl) on a distroless runtime that
# runs as the non-root user 65532. The Helm chart picks the binary per service
# (`command: [/usr/local/bin/<service>]`, args `serve` or `migrate`).
#
#   docker build -t registry.example.org/cep/cep:0.1.0 .
#
# Stages: `skeleton` reduces the workspace to its manifests with empty sources;
# `builder` compiles the dependencies against that skeleton (a layer that only
# changes with Cargo.toml/Cargo.lock), then the real sources; the runtime stage
# copies the binaries only. Needs BuildKit (the default builder of Docker >= 23).

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS skeleton
WORKDIR /src
COPY . .
# Every workspace member's Cargo.toml, with its targets (lib, main, bin/*, build
# script) replaced by empty ones, so that the next stage's first build compiles
# only the dependencies. Its content, hence the cache key of that build, changes
# only when a manifest or the lock file changes.
RUN set -eu; \
    mkdir -p /skeleton; \
    cp Cargo.toml Cargo.lock /skeleton/; \
    find . -name Cargo.toml -not -path ./Cargo.toml -not -path './target/*' | sort | while read -r manifest; do \
      dir="$(dirname "$manifest")"; \
      mkdir -p "/skeleton/$dir/src"; \
      cp "$manifest" "/skeleton/$manifest"; \
      if [ -f "$dir/src/lib.rs" ]; then : > "/skeleton/$dir/src/lib.rs"; fi; \
      for f in "$dir/build.rs" "$dir/src/main.rs" "$dir"/src/bin/*.rs; do \
        if [ -f "$f" ]; then mkdir -p "/skeleton/$(dirname "$f")"; echo 'fn main() {}' > "/skeleton/$f"; fi; \
      done; \
    done; \
    find /skeleton -type f | sort

# ---------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    SQLX_OFFLINE=true

# 1. Dependencies only (cached until a manifest or Cargo.lock changes).
COPY --from=skeleton /skeleton/ ./
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    cargo build --release --locked --workspace --exclude skeleton --bins

# 2. The workspace itself. COPY keeps the sources' modification times, which can
#    be older than the skeleton's build: touch them so cargo rebuilds our crates.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    set -eu; \
    find . -path ./target -prune -o -type f \( -name '*.rs' -o -name '*.proto' -o -name '*.sql' -o -name '*.toml' \) -exec touch {} +; \
    cargo build --release --locked --workspace --exclude skeleton --bins; \
    mkdir -p /out; \
    find target/release -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \; ; \
    ls -l /out

# ---------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="cep" \
      org.opencontainers.image.description="CEP operator information system: gRPC services (beneficiaries, journeys, deliverables, claims, exchange, pra) and cepctl" \
      org.opencontainers.image.licenses="Proprietary"
COPY --from=builder /out/ /usr/local/bin/
# The chart mounts the rendered settings here.
ENV CEP_CONFIG_DIR=/etc/cep
USER 65532:65532
# gRPC 50051..50056 and metrics 9651..9656, one pair per service.
EXPOSE 50051-50056 9651-9656
CMD ["/usr/local/bin/beneficiaries", "serve"]

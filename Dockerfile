# syntax=docker/dockerfile:1
# Switchboard: multi-stage build. The builder compiles a stripped release binary; the
# runtime image is distroless (glibc, CA certificates, no shell) and runs as non-root.
# Lint: scripts/lint-deploy.sh (hadolint). Docs: docs/deploy.md.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY static ./static
COPY flows ./flows
COPY bench ./bench
# The registry and target caches survive between builds (BuildKit cache mounts), so the
# binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin switchboard \
    && strip --strip-all target/release/switchboard \
    && mkdir -p /out/data \
    && cp target/release/switchboard /out/switchboard

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=builder --chown=65532:65532 /out/switchboard /app/switchboard
COPY --from=builder --chown=65532:65532 /out/data /app/data
COPY --chown=65532:65532 config/default.toml /app/config/default.toml
COPY --chown=65532:65532 flows /app/flows
# 65532 is distroless's `nonroot` user.
USER 65532:65532
ENV SWITCHBOARD__SERVER__BIND=0.0.0.0:8080 \
    SWITCHBOARD__LOG__FORMAT=json
EXPOSE 8080
# No shell in the image: orchestrators probe GET /healthz and GET /readyz over HTTP.
ENTRYPOINT ["/app/switchboard"]
CMD ["serve"]

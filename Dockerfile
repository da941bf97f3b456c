# syntax=docker/dockerfile:1
# Switchboard: multi-stage build. The builder compiles the release binary and splits it:
# the runtime image gets it without debug info (symbol names kept, so a backtrace names
# its functions) and the debug info goes to the `debug-symbols` stage, linked by
# .gnu_debuglink, for reading a crash later:
#   docker build --target debug-symbols --output type=local,dest=symbols .
# The runtime image is distroless (glibc, CA certificates, no shell) and runs as non-root.
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
    && mkdir -p /out/data /out/debug \
    && objcopy --only-keep-debug target/release/switchboard /out/debug/switchboard.debug \
    && objcopy --strip-debug --add-gnu-debuglink=/out/debug/switchboard.debug \
        target/release/switchboard /out/switchboard

FROM scratch AS debug-symbols
COPY --from=builder /out/debug/switchboard.debug /switchboard.debug

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

# syntax=docker/dockerfile:1.7
#
# The model-mirror image: one self-contained CLI bundle (scripts/bundle.mjs) on a distroless
# Node runtime. Build from the repo root:
#
#   docker build -t model-mirror:dev \
#     --build-arg VERSION=$(node -p 'require("./package.json").version') \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg SOURCE_URL=<the repository URL> \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# Container contract (what the synthesized Argo WorkflowTemplate relies on; asserted by
# test/unit/image-contract.test.ts):
#   - `model-mirror` is on PATH as /usr/local/bin/model-mirror, a symlink to the bundle
#     /opt/model-mirror/model-mirror.js whose first line is `#!/nodejs/bin/node` (distroless has no
#     /usr/bin/env and no shell, so the interpreter is named by absolute path). Argo steps use
#     `command: ["model-mirror"]`, `args: ["<subcommand>", ...]`; `command` replaces ENTRYPOINT.
#   - ENTRYPOINT is the CLI too, so `docker run IMAGE download --help` works without a command.
#   - runs as uid/gid 65532 (distroless `nonroot`); WORKDIR /work is owned by it. Volumes the
#     workflow mounts must be writable by 65532 (pod securityContext fsGroup: 65532).
#
# Node major = versions.json "node" (the test fails if NODE_MAJOR drifts from it).
# Base-image choice: gcr.io/distroless/nodejs (no shell, no package manager, CA certificates,
# glibc, built-in `nonroot` user) rather than node:*-alpine (musl, ships npm/yarn/sh) or
# node:*-slim (full Debian userland): the CLI needs nothing but `node`, and a smaller userland
# means fewer CVEs to triage. Consequence: steps must never spawn a shell (the test checks
# steps/ for child_process). Node 24 is the Active LTS (Node 20 went end of life on 2026-04-30 and
# distroless stopped building nodejs20): bump versions.json "node" and NODE_MAJOR together.
ARG NODE_MAJOR=24

# ---- build: npm ci + esbuild bundle -------------------------------------------------------------
FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency install scripts run in the build (esbuild's JS API finds its
# platform binary through its optional @esbuild/<platform> package without its postinstall).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json versions.json ./
COPY scripts/bundle.mjs scripts/bundle.mjs
COPY steps/ steps/
COPY lib/ lib/
# The bundle's #! line carries the Node flags of steps/common/node-flags.json (`#!/nodejs/bin/node
# --max-semi-space-size=2`), so ENTRYPOINT and a pod's `command: [model-mirror]` both run with them.
RUN npm run bundle -- --shebang /nodejs/bin/node \
 && mkdir -p /out/opt/model-mirror /out/usr/local/bin /out/work \
 && cp dist-cli/model-mirror.js dist-cli/THIRD_PARTY_LICENSES.txt /out/opt/model-mirror/ \
 && chmod 0755 /out/opt/model-mirror/model-mirror.js \
 && ln -s /opt/model-mirror/model-mirror.js /out/usr/local/bin/model-mirror \
 && chown 65532:65532 /out/work

# ---- runtime --------------------------------------------------------------------------------------
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian13:nonroot AS runtime
ARG NODE_MAJOR
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="model-mirror" \
      org.opencontainers.image.description="Mirror HuggingFace Hub models into an MLflow Model Registry (CLI run by Argo Workflows steps)" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/nodejs${NODE_MAJOR}-debian13:nonroot"
# Directory copies keep the symlink a symlink (only a top-level COPY source would be followed).
COPY --from=build /out/opt/model-mirror/ /opt/model-mirror/
COPY --from=build /out/usr/local/bin/ /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/work/ /work/
# GLIBC_TUNABLES: steps/common/node-flags.json "processEnv" (the npm bin sets it on its #! line; this
# image's #!/nodejs/bin/node line cannot): glibc returns freed socket/file chunks to the kernel.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/nodejs/bin \
    NODE_ENV=production \
    HOME=/home/nonroot \
    GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/model-mirror"]
CMD ["--help"]

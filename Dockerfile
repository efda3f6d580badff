# Tollgate in a container.
#
#   docker build -t tollgate .
#   docker run --rm -p 8080:8080 -v tollgate-data:/data -e TOLLGATE_ADMIN_TOKEN=... tollgate          # embedded store
#   docker run --rm -p 8080:8080 -e TOLLGATE_DATABASE_URL=postgres://... -e TOLLGATE_REDIS_URL=redis://... \
#     -e TOLLGATE_ADMIN_TOKEN=... -e TOLLGATE_WEBHOOK_SECRET=... tollgate                              # scale-out
#
# Arguments after the image name go to `tollgate serve` (`--demo`, `--gateway /path/gateway.yaml`,
# `--config /path/tollgate.yaml`). deploy/docker-compose.yml runs three instances behind nginx.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# toolchain: better-sqlite3 compiles from source when no prebuilt binary can
# be fetched, which needs python3, make and g++. node-gyp takes Node's headers
# from the image (/usr/local/include/node) instead of downloading them.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./

# ---------------------------------------------------------------------------
# build: every dependency, then the TypeScript compiler over src/.
# --ignore-scripts: the package's own `prepare` script (rm -rf dist && tsc)
# would run before the sources are copied; tsc is run below instead. No
# dependency's install script is needed to compile.
FROM toolchain AS build
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# ---------------------------------------------------------------------------
# deps: production dependencies only. `npm ci --omit=dev` alone would fail:
# it runs the package's `prepare` script, and tsc (a dev dependency) is not
# installed. So scripts are skipped and better-sqlite3's native binding, the
# only dependency with an install script, is built on its own.
FROM toolchain AS deps
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3 \
 && npm cache clean --force

# ---------------------------------------------------------------------------
# runtime: no compiler, no dev dependencies, not root.
FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# The dashboard's page, script and style sheet, served as they are.
COPY --from=build /app/src/dashboard/static ./src/dashboard/static
COPY package.json ./
# The embedded store's SQLite file, or in scale-out mode with
# TOLLGATE_ON_STORE_DOWN=open the spool of usage waiting for PostgreSQL.
# Mount a volume here to keep it. `node` (uid 1000) comes with the base image.
RUN mkdir -p /data && chown node:node /data
ENV HOST=0.0.0.0 \
    PORT=8080 \
    TOLLGATE_DATA_DIR=/data
USER node
EXPOSE 8080
# No curl in the slim image: Node's fetch. /healthz answers 200 once the store answers, 503 otherwise.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1 and gets SIGTERM itself: Tollgate stops accepting calls,
# finishes those in flight and writes what is buffered before it exits.
ENTRYPOINT ["node", "dist/src/cli/bin.js", "serve"]

# syntax=docker/dockerfile:1
# `COPY --parents` needs the Dockerfile frontend 1.20 or later; the syntax line above fetches the newest stable 1.x.
#
# One image for every Vigil service. The service to run comes from the build arg SERVICE (default: edge) or,
# as compose.yaml does, from the container command: node --import tsx services/<name>/src/main.ts
# There is no build step: tsx runs the TypeScript sources directly.

# ---- install: the workspace's dependencies (dev ones too: tsx runs the services) ----
FROM node:20-bookworm-slim AS install
RUN npm i -g pnpm@10.34.9
WORKDIR /app
ENV CI=true
# Manifests first, so this layer and the install below are reused while only sources change.
# --parents keeps each package.json at its path; a new package or service needs no edit here.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY --parents schemas/package.json packages/*/package.json services/*/package.json ./
RUN --mount=type=cache,id=vigil-pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile --prod=false
# Then the sources (.dockerignore keeps node_modules, .git and local data out).
COPY . .

# ---- run ----
FROM node:20-bookworm-slim AS run
ARG SERVICE=edge
ENV NODE_ENV=production \
    SERVICE=${SERVICE}
WORKDIR /app
# The app belongs to root and is only readable by the process; the one writable place is the data dir
# (used only by the all-in-one launcher when DATABASE_URL is unset).
COPY --from=install /app /app
RUN mkdir -p /app/.vigil && chown node:node /app/.vigil
USER node
# The edge's HTTP port (VIGIL_HTTP_PORT, 8080 by default). Workers listen on nothing.
EXPOSE 8080
# No HEALTHCHECK here: workers have no port to probe. compose.yaml gives the edge one
# (deploy/healthcheck.mjs, plain Node: the slim image has neither curl nor wget).
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec node --import tsx \"services/${SERVICE}/src/main.ts\""]

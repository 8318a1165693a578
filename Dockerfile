# syntax=docker/dockerfile:1
# Two images from one file:
#   target `tko` (default): the operator and the in-pod agent (`tko operator`, `tko agent`).
#   target `ats-plugin`: ticketkeys_bridge.so built against Debian bookworm's trafficserver-dev,
#   for an init container that copies it into the ATS container's plugin directory.

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --omit=optional

FROM debian:bookworm-slim AS ats-plugin-build
RUN apt-get update && apt-get install -y --no-install-recommends trafficserver-dev build-essential libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /plugin
COPY src/ats-plugin/ticketkeys_bridge.c ./
RUN tsxs -o ticketkeys_bridge.so -c ticketkeys_bridge.c

FROM busybox:1.37 AS ats-plugin
COPY --from=ats-plugin-build /plugin/ticketkeys_bridge.so /ticketkeys_bridge.so
ENTRYPOINT ["cp", "/ticketkeys_bridge.so"]

FROM node:22-bookworm-slim AS tko
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# `tko` on PATH: the chart runs `/bin/sh -c 'ulimit -c 0 && exec tko operator "$@"'`, and the agent
# sidecar runs `... exec tko agent "$@"` the same way (docs/agent.md): core dumps would hold key
# bytes, and Kubernetes has no field for RLIMIT_CORE. The agent warns when it finds them on.
RUN chmod +x /app/dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/tko
USER 65532:65532
ENTRYPOINT ["tko"]
CMD ["--help"]

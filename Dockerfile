# syntax=docker/dockerfile:1
# Two images from one file:
#   target `tko` (default): the operator and the in-pod agent (`tko operator`, `tko agent`).
#   target `ats-plugin`: ticketkeys_bridge.so built against Debian bookworm's trafficserver-dev,
#   for an init container that copies it into the ATS container's plugin directory.
#   target `ats`: Debian bookworm's trafficserver with that plugin installed and loaded, for the
#   proxy pods themselves (docs/images.md). `tko` stays the last stage: the default target.

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
# One self-contained bundle (scripts/bundle.ts): the image carries no node_modules, and the
# operator's heap holds no unused Kubernetes client source (issue 12).
RUN node scripts/bundle.ts /src/bundle

FROM debian:bookworm-slim AS ats-plugin-build
RUN apt-get update && apt-get install -y --no-install-recommends trafficserver-dev build-essential libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /plugin
COPY src/ats-plugin/ticketkeys_bridge.c src/ats-plugin/ticketkeys_contract.h ./
RUN tsxs -o ticketkeys_bridge.so -c ticketkeys_bridge.c

FROM busybox:1.37 AS ats-plugin
COPY --from=ats-plugin-build /plugin/ticketkeys_bridge.so /ticketkeys_bridge.so
ENTRYPOINT ["cp", "/ticketkeys_bridge.so"]

FROM debian:bookworm-slim AS ats
# A fixed UID/GID made before the package: its postinst keeps an existing `trafficserver` user.
# 65532 is the tko image's UID too, so the agent sidecar (same UID) passes traffic_manager's
# caller check on mgmtapi.sock without a runAsUser override.
RUN groupadd --system --gid 65532 trafficserver \
    && useradd --system --uid 65532 --gid 65532 --home-dir /run/trafficserver --no-create-home \
       --shell /usr/sbin/nologin trafficserver \
    && apt-get update && apt-get install -y --no-install-recommends trafficserver \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o 65532 -g 65532 -m 0755 /run/trafficserver \
    && install -d -o 65532 -g 65532 -m 0750 /var/log/trafficserver /var/cache/trafficserver
COPY --from=ats-plugin-build /plugin/ticketkeys_bridge.so /usr/lib/trafficserver/modules/ticketkeys_bridge.so
# What the agent needs from ATS (docs/agent.md "ATS settings the agent needs") as PROXY_CONFIG_*
# environment overrides, which win over records.config: a ConfigMap mounted over /etc/trafficserver
# (flat, read-only) cannot drop them. Core files off, plugin stats synced every 100 ms, ATS's own
# session cache; the error-page templates move out of /etc/trafficserver (a ConfigMap has no
# subdirectories, and ATS stops when the template directory is missing).
ENV PROXY_CONFIG_CORE_LIMIT=0 \
    PROXY_CONFIG_RAW_STAT_SYNC_INTERVAL_MS=100 \
    PROXY_CONFIG_REMOTE_SYNC_INTERVAL_MS=100 \
    PROXY_CONFIG_SSL_SESSION_CACHE=2 \
    PROXY_CONFIG_BODY_FACTORY_TEMPLATE_SETS_DIR=/usr/share/trafficserver/body_factory
RUN install -d /usr/share/trafficserver \
    && cp -a /etc/trafficserver/body_factory /usr/share/trafficserver/body_factory \
    && echo 'ticketkeys_bridge.so --ack-fifo=/run/trafficserver/ticketkeys-acks --session-fifo=/run/trafficserver/ticketkeys-sessions --session-import-fifo=/run/trafficserver/ticketkeys-session-imports' >> /etc/trafficserver/plugin.config \
    && chown 65532:65532 /etc/trafficserver
USER 65532:65532
# Core dumps off before exec (a traffic_server core would hold the ticket keys; Kubernetes has no
# field for RLIMIT_CORE): traffic_server inherits the limit, and proxy.config.core_limit 0 agrees.
# Layout for a chart (docs/images.md): config in /etc/trafficserver (mount a ConfigMap over it),
# mgmtapi.sock in /run/trafficserver (an emptyDir shared with the agent sidecar; the plugin writes
# its install acks to the FIFO /run/trafficserver/ticketkeys-acks the agent creates with
# --ack-fifo, dropped and counted while no agent reads it), logs and cache
# in /var/log/trafficserver and /var/cache/trafficserver (emptyDirs with a read-only root).
ENTRYPOINT ["/bin/sh", "-c", "ulimit -c 0 && exec traffic_manager \"$@\"", "traffic_manager"]

FROM node:22-bookworm-slim AS tko
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/bundle ./
# `tko` on PATH: the chart runs `/bin/sh -c 'ulimit -c 0 && exec tko operator "$@"'`, and the agent
# sidecar runs `... exec tko agent "$@"` the same way (docs/agent.md): core dumps would hold key
# bytes, and Kubernetes has no field for RLIMIT_CORE. The agent warns when it finds them on.
RUN chmod +x /app/tko.mjs && ln -s /app/tko.mjs /usr/local/bin/tko
USER 65532:65532
ENTRYPOINT ["tko"]
CMD ["--help"]

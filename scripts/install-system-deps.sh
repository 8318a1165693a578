#!/usr/bin/env bash
# System packages the tests need: Debian's ATS 9 (traffic_server, traffic_manager, traffic_ctl),
# its plugin headers and tsxs, OpenSSL for TLS probes and plugin hashing, Lua 5.4 to run the Argo CD
# health check (test/unit/manifests/argocd-health.test.ts), Go for the test bed; and for the project's own
# single-node cluster (issue 10): containerd and runc as the runtime, the CNI plugins, iproute2,
# debootstrap and busybox-static for local base images, buildah to build the Dockerfile daemonless.
set -euo pipefail
pkgs=(trafficserver trafficserver-dev openssl libssl-dev build-essential lua5.4
  containerd runc containernetworking-plugins iproute2 debootstrap busybox-static buildah)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Tests run private ATS instances with their own runroots; the packaged service, if the install
  # started it, is not used. Only right after an install: its init script stops every ATS.
  if command -v service >/dev/null 2>&1; then service trafficserver stop >/dev/null 2>&1 || true; fi
fi
# Go builds the test bed (dev/testbed/tools.ts looks on PATH, then in /usr/local/go/bin).
go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$go" ] || { echo "Go is required to build the test bed (kube-apiserver, etcd, helm)" >&2; exit 1; }
echo "system deps ok: $(traffic_server -V 2>&1 | head -1 || true); $("$go" version)"

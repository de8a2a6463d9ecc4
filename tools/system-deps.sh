#!/usr/bin/env bash
# Debian packages the test suite needs: chromium + chromium-driver (browser tests) installed
# system-wide, and Debian's kubectl (package kubernetes-client) unpacked into the venv, because
# other kubectl packages may own /usr/bin/kubectl and the wire-format tests want Debian's client.
# As root, installs what is missing; otherwise names it and fails.
set -euo pipefail
venv=${1:-.venv}
kubectl_dir="$venv/debian/kubernetes-client"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
need_kubectl=false
[ -x "$kubectl_dir/usr/bin/kubectl" ] || need_kubectl=true

if [ ${#missing[@]} -eq 0 ] && ! $need_kubectl; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  $need_kubectl && missing+=("kubernetes-client (unpacked into $kubectl_dir)")
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run 'make test' as root once, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

updated=false
apt_update_once() { $updated || { apt-get update -qq; updated=true; }; }

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if $need_kubectl; then
  echo "unpacking Debian's kubernetes-client into $kubectl_dir"
  mkdir -p "$venv/debian" && cd "$venv/debian"
  rm -f kubernetes-client_*.deb
  apt-get download kubernetes-client 2>/dev/null || { apt_update_once; apt-get download kubernetes-client; }
  rm -rf kubernetes-client && dpkg-deb -x kubernetes-client_*.deb kubernetes-client
fi

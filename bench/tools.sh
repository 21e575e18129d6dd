#!/usr/bin/env bash
# The benches' peers from Debian's packages: nginx (the null endpoint that is never the bottleneck, counting what
# it served in its own log) and wrk (that endpoint's ceiling). `make bench` runs this first: it installs what is
# missing when run as root where apt-get is; else it says what is missing (each bench then falls back, and says
# so in its output). No service is started by the install (a policy-rc.d denies it while it runs: Debian's nginx
# would otherwise start its default site on port 80); the benches start nginx themselves, on a free port.
# Usage: bench/tools.sh TOOL...   (LOADLAB_NO_INSTALL=1: only say what is missing)
set -euo pipefail

missing=()
for tool in "$@"; do
  command -v "$tool" > /dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ -n "${LOADLAB_NO_INSTALL:-}" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null 2>&1; then
  echo "bench tools missing: ${missing[*]} (apt-get install ${missing[*]}); the benches fall back without them and say so"
  exit 0
fi

echo "installing ${missing[*]} from Debian's packages (the benches' peers)"
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT

install() { apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null 2>&1; }
if ! install && ! { apt-get update -qq > /dev/null 2>&1 && install; }; then
  echo "could not install ${missing[*]} (apt-get install ${missing[*]}); the benches fall back without them and say so"
fi

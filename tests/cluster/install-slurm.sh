#!/usr/bin/env bash
# install-slurm.sh [APT_LOG] - install Debian's SLURM 22.05, munge and MariaDB packages that are
# missing (root). Used by start-slurm.sh, and by .ci/run ahead of the tests so that the
# download overlaps the Python install. Installs nothing when every daemon is present.
set -euo pipefail
APT_LOG=${1:-/dev/null}
mkdir -p "$(dirname "$APT_LOG")"
missing=()
for pair in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client \
            slurmdbd:slurmdbd mariadbd:mariadb-server; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-slurm: installing ${missing[*]}"
  # Without systemd the packages' postinst scripts would start half-configured daemons
  # through /etc/init.d; a policy-rc.d that says "no" prevents that.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$APT_LOG" 2>&1 ||
    { tail -n 20 "$APT_LOG" >&2; echo "install-slurm: apt-get install failed" >&2; exit 1; }
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

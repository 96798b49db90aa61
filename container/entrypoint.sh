#!/bin/sh
# warren workspace entrypoint: prepares sshd's keys and runs it in the foreground.
# sshd is the only thing the container exposes; opencode is started on demand by
# warren over SSH, as the workspace user, bound to the container's loopback.
#
# Inputs (all optional):
#   WARREN_AUTHORIZED_KEY   public key line warren logs in with (or mount
#                           /etc/warren/authorized_keys); may carry restrictions,
#                           e.g. restrict,port-forwarding,permitopen="127.0.0.1:4096" ssh-ed25519 ...
#                           Neither: a key added later (warren add --docker) is kept.
#   /etc/warren/ssh_host_ed25519_key  a host key to use (mount it to keep the
#                           fingerprint stable across container re-creation)
#   WARREN_SSH_PORT         port sshd listens on (default 22)
# The paths below can be moved for tests; the image uses the defaults.
set -eu

user=${WARREN_WORKSPACE_USER:-workspace}
config=${WARREN_SSHD_CONFIG:-/etc/ssh/sshd_config}
conf_dir=${WARREN_CONF_DIR:-/etc/warren}
host_key=${WARREN_HOST_KEY:-/etc/ssh/ssh_host_ed25519_key}
port=${WARREN_SSH_PORT:-22}

case $port in ''|*[!0-9]*) echo "warren-entrypoint: WARREN_SSH_PORT must be a port number, got '$port'" >&2; exit 2;; esac

if [ -f "$conf_dir/ssh_host_ed25519_key" ]; then
  install -m 0600 "$conf_dir/ssh_host_ed25519_key" "$host_key"
  ssh-keygen -y -f "$host_key" > "$host_key.pub"
elif [ ! -f "$host_key" ]; then
  ssh-keygen -q -t ed25519 -N '' -f "$host_key"
fi
# warren pins this fingerprint (hostKeyFingerprint in its config).
echo "warren-entrypoint: host key $(ssh-keygen -lf "$host_key.pub" | cut -d' ' -f2)"

home=$(getent passwd "$user" | cut -d: -f6)
if [ -z "$home" ]; then
  echo "warren-entrypoint: no user '$user' in this image" >&2
  exit 2
fi
install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh"
keys="$home/.ssh/authorized_keys"
if [ -n "${WARREN_AUTHORIZED_KEY:-}" ]; then
  printf '%s\n' "$WARREN_AUTHORIZED_KEY" > "$keys"
elif [ -f "$conf_dir/authorized_keys" ]; then
  cat "$conf_dir/authorized_keys" > "$keys"
elif [ ! -s "$keys" ]; then
  # sshd runs all the same: nobody can log in until a key is installed, and
  # `warren add NAME --docker CONTAINER` installs one (it stays across restarts).
  echo "warren-entrypoint: no authorized key yet: run warren add <name> --docker <this container>, set WARREN_AUTHORIZED_KEY or mount $conf_dir/authorized_keys" >&2
  : > "$keys"
fi
chown "$user" "$keys"
chmod 0600 "$keys"

mkdir -p /run/sshd
/usr/sbin/sshd -t -f "$config" -o "HostKey=$host_key" -o "Port=$port"
exec /usr/sbin/sshd -D -e -f "$config" -o "HostKey=$host_key" -o "Port=$port"

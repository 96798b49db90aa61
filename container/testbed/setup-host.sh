#!/usr/bin/env bash
# Installs what the test bed needs on a fresh Debian machine of this kind and
# sweeps what crashed earlier runs left behind. Quick when everything is there.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v pkill >/dev/null 2>&1 || need+=(procps)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v git >/dev/null 2>&1 || need+=(git)
# Only the chat bench uses it: its anchor runs curl inside the workspace, as Perry does.
command -v curl >/dev/null 2>&1 || need+=(curl)
# The TUI tests drive OpenCode's TUI (and warren chat's prompts) in a real terminal.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# Tests read a session's history from opencode's own database (an `opencode export`
# costs about 3 s of CPU; the suite reads dozens).
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "warren testbed: missing ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "warren testbed: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's package may start a system sshd on install where an init system runs; the
# test bed never uses it and it is not ours to stop, so it is left alone.
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ -f "$here/dist/container/testbed/cli.js" ]; then
  node "$here/dist/container/testbed/cli.js" sweep
fi
# Install the pinned opencode into the test bed's cache now, once, rather than in
# the first test that needs it.
if [ -f "$here/dist/container/testbed/cli.js" ]; then
  node "$here/dist/container/testbed/cli.js" install-opencode
fi

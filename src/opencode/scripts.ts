// The shell scripts warren runs in a workspace to start, inspect and stop
// `opencode serve`. Each is a constant: values arrive as positional parameters
// (quoted by quoteCommand) or on stdin (the password), never spliced into the text.
// They run under `sh -l` so the server gets the user's login environment, the same
// HOME and XDG directories as the interactive CLI.

/** $1 port, $2 opencode command, $3 start timeout (s). stdin: the password line. */
export const START = `
set -u
port=$1; cmd=$2; limit=$3
state="\${XDG_STATE_HOME:-$HOME/.local/state}/warren"
umask 077
mkdir -p "$state" || exit 93
IFS= read -r pw || { echo "no password on stdin" >&2; exit 90; }
log="$state/opencode-$port.log"
# A server from an earlier start whose answer never arrived (the link dropped) may
# still be coming up: it is ours, so replace it rather than overwrite its password
# and leave it holding the port.
old=$(cat "$state/opencode-$port.pid" 2>/dev/null)
case $old in ''|*[!0-9]*) ;; *)
  if tr '\\0' ' ' < "/proc/$old/cmdline" 2>/dev/null | grep -q "serve --port $port "; then
    kill -9 "$old" 2>/dev/null
    n=0
    while kill -0 "$old" 2>/dev/null && [ "$n" -lt 100 ]; do n=$((n + 1)); sleep 0.05; done
  fi;;
esac
printf '%s\\n' "$pw" > "$state/opencode-$port.password"
: > "$log"
OPENCODE_SERVER_PASSWORD=$pw
export OPENCODE_SERVER_PASSWORD
# Its own session: it outlives this SSH session, warren restarts and link drops.
setsid "$cmd" serve --port "$port" --hostname 127.0.0.1 >> "$log" 2>&1 < /dev/null &
pid=$!
unset OPENCODE_SERVER_PASSWORD pw
echo "$pid" > "$state/opencode-$port.pid"
n=0
while :; do
  if grep -q "listening on http://127.0.0.1:$port" "$log" 2>/dev/null; then echo "ready $pid"; exit 0; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "exited"; tail -n 5 "$log" >&2; exit 91; fi
  n=$((n + 1))
  if [ "$n" -gt $((limit * 50)) ]; then echo "timeout"; kill "$pid" 2>/dev/null; tail -n 5 "$log" >&2; exit 92; fi
  sleep 0.02
done
`;

/**
 * $1 port. Prints the pid line and the password line of a server warren started, if
 * any, and a third line: "alive" when that pid is still an opencode serve on the port.
 */
export const INSPECT = `
set -u
state="\${XDG_STATE_HOME:-$HOME/.local/state}/warren"
[ -r "$state/opencode-$1.pid" ] && [ -r "$state/opencode-$1.password" ] || exit 3
cat "$state/opencode-$1.pid" "$state/opencode-$1.password"
pid=$(cat "$state/opencode-$1.pid")
case $pid in ''|*[!0-9]*) echo dead; exit 0;; esac
if tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "serve --port $1 "; then echo alive; else echo dead; fi
`;

/** $1 port. Stops the server warren started on that port (and only that process). */
export const STOP = `
set -u
state="\${XDG_STATE_HOME:-$HOME/.local/state}/warren"
pidfile="$state/opencode-$1.pid"
[ -r "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
case $pid in ''|*[!0-9]*) rm -f "$pidfile"; exit 0;; esac
# A recycled pid is somebody else's process: only signal an opencode serve.
if tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "serve --port $1 "; then
  kill "$pid" 2>/dev/null
  n=0
  while kill -0 "$pid" 2>/dev/null; do
    n=$((n + 1))
    if [ "$n" -gt 50 ]; then kill -9 "$pid" 2>/dev/null; fi
    if [ "$n" -gt 100 ]; then echo "still running" >&2; exit 94; fi
    sleep 0.1
  done
fi
rm -f "$pidfile" "$state/opencode-$1.password"
`;

/**
 * $1 the server's pid (warren started it under setsid, so it leads its own session).
 * Prints two numbers, the CPU ticks of every process in that session, one second
 * apart: opencode itself, or the native binary an npm wrapper runs as its child.
 * /proc/PID/stat's second field may hold spaces and parentheses, so fields are
 * counted after the last ") ": the session is the 4th, utime and stime the 12th and 13th.
 */
export const SESSION_CPU = `
set -u
sid=$1
ticks() {
  t=0
  for f in /proc/[0-9]*/stat; do
    { IFS= read -r l < "$f"; } 2>/dev/null || continue
    set -- \${l##*) }
    [ "$4" = "$sid" ] && t=$((t + \${12} + \${13}))
  done
  echo "$t"
}
a=$(ticks)
sleep 1
b=$(ticks)
echo "$a $b"
`;

#!/usr/bin/env bash
# deploy/unit-run.sh - runs installed systemd units where there is no
# systemd (a node container of the compose cluster), so that a container
# starts exactly the command lines a real machine's systemd would.
#
#   unit-run.sh start UNIT...     start each unit's supervisor (no-op if running)
#   unit-run.sh stop UNIT...      stop the program, then its supervisor
#   unit-run.sh restart UNIT...
#   unit-run.sh status UNIT...    "UNIT: active (pid N)" or "UNIT: inactive"; 3 if any inactive
#
# The unit file (/etc/systemd/system/UNIT.service, or $UNIT_DIR) is read
# for the directives these units use: EnvironmentFile= (a leading "-"
# means optional), ExecStart= (with $VAR and ${VAR} expanded from the
# environment files and split into words, as systemd does), RestartSec=.
# Restart=always is what the supervisor does: it starts the program again
# RestartSec after it exits, until `stop`.  Output goes to
# /var/log/kube/UNIT.log (where journald would have it); pid files are
# /run/kube/UNIT.pid (supervisor) and /run/kube/UNIT.main (program).
set -uo pipefail
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
RUN_DIR=${UNIT_RUN_DIR:-/run/kube}
LOG_DIR=${UNIT_LOG_DIR:-/var/log/kube}

unit_file() { echo "$UNIT_DIR/${1%.service}.service"; }
directive() { # FILE NAME: every value of NAME= in the [Service] section
  awk -v k="$2" '/^\[/ {sec=$0} sec == "[Service]" && index($0, k "=") == 1 {print substr($0, length(k) + 2)}' "$1"
}
# alive PIDFILE: the recorded process runs and is what we started (a
# supervisor's command line names its unit; a program is a child of the
# supervisor), so a stale PID file never leads to signalling another process
alive() {
  local p ppid
  [[ -s "$1" ]] || return 1
  p=$(cat "$1")
  kill -0 "$p" 2>/dev/null || return 1
  case "$1" in
    *.pid) tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "__supervise $(basename "$1" .pid) " ;;
    *.main)
      ppid=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
      [[ -n "$ppid" && "$ppid" == "$(cat "${1%.main}.pid" 2>/dev/null)" ]] ;;
  esac
}

# _command UNIT: the program's argv, one word per line
_command() {
  local f e line
  f=$(unit_file "$1")
  (
    set -a
    while IFS= read -r e; do
      if [[ "$e" == -* ]]; then e=${e#-}; [[ -r "$e" ]] || continue; fi
      # shellcheck disable=SC1090
      source "$e" || exit 1
    done < <(directive "$f" EnvironmentFile)
    set +a
    line=$(directive "$f" ExecStart | head -1)
    set -f +u  # unset variables expand to nothing, as in systemd
    local -a words
    eval "words=($line)"
    printf '%s\n' "${words[@]}"
  )
}

_supervise() {
  local unit=$1 delay child="" stopping=0
  delay=$(directive "$(unit_file "$unit")" RestartSec | head -1)
  delay=${delay:-1}
  trap 'stopping=1; [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null' TERM INT
  while ((!stopping)); do
    local -a argv
    mapfile -t argv < <(_command "$unit")
    if ((${#argv[@]} == 0)); then
      echo "unit-run: $unit: no ExecStart" >>"$LOG_DIR/$unit.log"
    else
      echo "unit-run: starting $unit: ${argv[*]}" >>"$LOG_DIR/$unit.log"
      "${argv[@]}" >>"$LOG_DIR/$unit.log" 2>&1 &
      child=$!
      echo "$child" >"$RUN_DIR/$unit.main"
      while kill -0 "$child" 2>/dev/null; do wait "$child"; done
      wait "$child" 2>/dev/null
      echo "unit-run: $unit exited (status $?)" >>"$LOG_DIR/$unit.log"
      child=""
      rm -f "$RUN_DIR/$unit.main"
    fi
    ((stopping)) && break
    sleep "$delay" & wait $!
  done
}

start() {
  local u=${1%.service}
  [[ -f "$(unit_file "$u")" ]] || { echo "unit-run: $(unit_file "$u") not found" >&2; return 1; }
  alive "$RUN_DIR/$u.pid" && return 0
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  setsid "$0" __supervise "$u" </dev/null >/dev/null 2>&1 &
  echo $! >"$RUN_DIR/$u.pid"
}

stop() {
  local u=${1%.service}
  alive "$RUN_DIR/$u.pid" || { rm -f "$RUN_DIR/$u.pid" "$RUN_DIR/$u.main"; return 0; }
  kill -TERM "$(cat "$RUN_DIR/$u.pid")"
  for _ in $(seq 1 100); do
    alive "$RUN_DIR/$u.pid" || break
    sleep 0.1
  done
  if alive "$RUN_DIR/$u.pid"; then # the program ignored SIGTERM for 10 s
    alive "$RUN_DIR/$u.main" && kill -KILL "$(cat "$RUN_DIR/$u.main")"
    kill -KILL "$(cat "$RUN_DIR/$u.pid")" 2>/dev/null
  fi
  rm -f "$RUN_DIR/$u.pid" "$RUN_DIR/$u.main"
}

status() {
  local u=${1%.service}
  if alive "$RUN_DIR/$u.main"; then echo "$u: active (pid $(cat "$RUN_DIR/$u.main"))"
  elif alive "$RUN_DIR/$u.pid"; then echo "$u: activating (restarting)"; return 3
  else echo "$u: inactive"; return 3; fi
}

cmd=${1:-}; shift || true
rc=0
case "$cmd" in
  __supervise) _supervise "$1"; exit 0 ;;
  start|stop|status) for u in "$@"; do "$cmd" "$u" || rc=$?; done ;;
  restart) for u in "$@"; do stop "$u"; start "$u" || rc=$?; done ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
exit $rc

#!/usr/bin/env bash
# Watchdog for one bench run: waits for the jest process to go away, then kills every process
# group recorded in the pids file (SIGTERM, then SIGKILL). Normally globalTeardown stops the peers
# and removes the pids file first, and this script then just exits.
#   usage: reaper.sh <jest pid> <pids file>
set -u
watch_pid="$1"
pids_file="$2"

start_time() { # field 22 of /proc/<pid>/stat
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

while kill -0 "$watch_pid" 2>/dev/null; do
  [ -f "$pids_file" ] || exit 0
  sleep 1
done
[ -f "$pids_file" ] || exit 0

echo "reaper: jest (pid $watch_pid) is gone without teardown; stopping the peers in $pids_file"
groups=()
while read -r pgid start name; do
  [ -n "${pgid:-}" ] || continue
  if [ "$(start_time "$pgid")" = "$start" ]; then
    sig=TERM
    [ "$name" = postgres ] && sig=INT # fast shutdown; TERM waits for clients to leave
    echo "reaper: SIG$sig $name (pgid $pgid)"
    kill "-$sig" -- "-$pgid" 2>/dev/null
    groups+=("$pgid")
  fi
done < "$pids_file"
for _ in $(seq 1 50); do
  alive=0
  for g in "${groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.2
done
for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null && echo "reaper: SIGKILL pgid $g"; done
rm -f "$pids_file"
exit 0

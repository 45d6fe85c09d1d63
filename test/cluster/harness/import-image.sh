#!/usr/bin/env bash
# import-image.sh — imports OCI/docker image archives (e.g. from test/images/oci-image.sh) into the running
# cluster's containerd, namespace k8s.io, so pods can use them with imagePullPolicy Never or
# IfNotPresent under the name stored in the archive. An image already there with the same
# manifest (kept from the last cluster) is not imported again.
# Usage: import-image.sh <archive.tar>...
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -gt 0 ] || die "usage: import-image.sh <oci-archive.tar>..."
[ -S "$CTR_SOCK" ] || die "cluster is not up (no $CTR_SOCK)"
for f in "$@"; do
  import_archive "$f"
done

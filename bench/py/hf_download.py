# The common Python download: huggingface_hub.snapshot_download into a local directory.
# Env: HF_ENDPOINT (the Hub fixture), HF_HUB_DISABLE_XET=1, HF_HUB_DISABLE_TELEMETRY=1.
import sys, time, json
from huggingface_hub import snapshot_download

repo, dest = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
path = snapshot_download(repo_id=repo, local_dir=dest)
print(json.dumps({"path": path, "seconds": time.monotonic() - t0}))

# The common Python upload: boto3 upload_file of each file, one after the other, default TransferConfig.
# Env: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION; argv: endpoint, source dir, bucket, prefix.
import os, sys, time, json
import boto3
from botocore.config import Config

endpoint, src, bucket, prefix = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
t0 = time.monotonic()
n = 0
total = 0
for root, dirs, files in os.walk(src):
    dirs[:] = [d for d in dirs if d != ".cache"]  # huggingface_hub's local_dir bookkeeping
    for name in sorted(files):
        full = os.path.join(root, name)
        key = prefix + "/" + os.path.relpath(full, src)
        s3.upload_file(full, bucket, key)
        n += 1
        total += os.path.getsize(full)
print(json.dumps({"files": n, "bytes": total, "seconds": time.monotonic() - t0}))

"""Loads a model that model-mirror registered, with the official MLflow client and transformers,
and compares it with the original Hub files. Prints one JSON object (the last stdout line).

    python load_mirrored.py '<json spec>'

spec: {
  "model_uri": "models:/<name>@<alias>",   # the registered version
  "original_dir": "<dir>",                 # the repo's files as the Hub serves them
  "snapshot_uri": "s3://.../model/model",  # <artifact_uri>/model/model (or null)
  "logged_model_uri": "models:/m-..." | null,
  "experiment_id": "<id>",
  "prompt": "...", "max_new_tokens": 8,
  "work_dir": "<dir>"
}
Talks only to MLFLOW_TRACKING_URI and MLFLOW_S3_ENDPOINT_URL (127.0.0.1); the Hub is off
(HF_HUB_OFFLINE=1), so nothing can be fetched from anywhere else.
"""
import hashlib
import json
import os
import sys
import traceback

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

torch.manual_seed(0)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_hashes(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = sha256_of(p)
    return out


def generate(model, tokenizer, prompt, n):
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=n, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    return {"input_ids": ids[0].tolist(), "output_ids": out[0].tolist(), "text": tokenizer.decode(out[0])}


def attempt(result, key, fn):
    try:
        result[key] = fn()
    except Exception as e:  # reported, and asserted on by the jest test
        result[key] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}


def main():
    spec = json.loads(sys.argv[1])
    prompt, n = spec["prompt"], int(spec.get("max_new_tokens", 8))
    work = spec["work_dir"]
    os.makedirs(work, exist_ok=True)
    result = {"versions": {"mlflow": mlflow.__version__, "transformers": transformers.__version__, "torch": torch.__version__}}

    # 1. The original files, loaded as a user would load the Hub repo.
    orig_tok = transformers.AutoTokenizer.from_pretrained(spec["original_dir"])
    orig_model = transformers.AutoModelForCausalLM.from_pretrained(spec["original_dir"])
    orig_model.eval()
    result["original"] = generate(orig_model, orig_tok, prompt, n)
    result["original"]["vocab_size"] = len(orig_tok)

    # 2. mlflow.transformers.load_model on the alias.
    def via_transformers_flavor(uri):
        def run():
            pipe = mlflow.transformers.load_model(uri)
            pipe.model.eval()
            r = generate(pipe.model, pipe.tokenizer, prompt, n)
            r["vocab_size"] = len(pipe.tokenizer)
            r["pipeline_class"] = type(pipe).__name__
            return r
        return run
    attempt(result, "transformers_flavor", via_transformers_flavor(spec["model_uri"]))

    # 3. pyfunc predict.
    def pyfunc():
        m = mlflow.pyfunc.load_model(spec["model_uri"])
        pred = m.predict([prompt], params={"max_new_tokens": n, "do_sample": False})
        return {"prediction": [str(x) for x in (pred if isinstance(pred, list) else list(pred))]}
    attempt(result, "pyfunc", pyfunc)

    # 4. download_artifacts: every file byte-identical to the original (snapshot under model/).
    def download():
        d = mlflow.artifacts.download_artifacts(artifact_uri=spec["model_uri"], dst_path=os.path.join(work, "download"))
        return {"files": tree_hashes(d)}
    attempt(result, "download", download)

    # 5. model/model/ alone, as a serving runtime reads it.
    if spec.get("snapshot_uri"):
        def snapshot():
            d = mlflow.artifacts.download_artifacts(artifact_uri=spec["snapshot_uri"], dst_path=os.path.join(work, "snapshot"))
            tok = transformers.AutoTokenizer.from_pretrained(d)
            model = transformers.AutoModelForCausalLM.from_pretrained(d)
            model.eval()
            r = generate(model, tok, prompt, n)
            r["vocab_size"] = len(tok)
            r["files"] = tree_hashes(d)
            return r
        attempt(result, "snapshot", snapshot)

    # 6. MLflow 3 logged models: what the registry points at.
    client = MlflowClient()
    mv = client.get_model_version_by_alias(*spec["model_uri"][len("models:/"):].split("@")) if "@" in spec["model_uri"] else None
    result["version_model_id"] = getattr(mv, "model_id", None) if mv else None
    mlmodel = mlflow.models.Model.load(spec["model_uri"])
    result["mlmodel_model_id"] = getattr(mlmodel, "model_id", None)
    logged = client.search_logged_models(experiment_ids=[spec["experiment_id"]])
    result["logged_models"] = []
    for lm in logged:
        entry = {"model_id": lm.model_id, "status": str(lm.status), "artifact_location": lm.artifact_location}
        def files(lm=lm):
            d = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{lm.model_id}", dst_path=os.path.join(work, "logged", lm.model_id))
            return sorted(tree_hashes(d).keys())
        attempt(entry, "files", files)
        result["logged_models"].append(entry)
    if spec.get("logged_model_uri"):
        attempt(result, "logged_model_flavor", via_transformers_flavor(spec["logged_model_uri"]))
    if spec.get("run_id"):
        run = client.get_run(spec["run_id"])
        outs = getattr(run, "outputs", None)
        result["run_output_model_ids"] = [o.model_id for o in (outs.model_outputs if outs else [])]

    print(json.dumps(result))


if __name__ == "__main__":
    main()

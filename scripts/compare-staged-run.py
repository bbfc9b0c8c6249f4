#!/usr/bin/env python3
"""Issue 29: the same `mop prune ... --finetune --eval --format both` job run in one process (ONE) and in pipeline
stages (STAGED) must take the same path, reach losses within 1e-5 relative and write byte-equal exports (the same
export type), whatever the files they are split into.
  scripts/compare-staged-run.py ONE STAGED [--tolerance 1e-5]
  scripts/compare-staged-run.py --save-digests DIR   (then the exports may be deleted: a 1.5B job writes ~7 GB)
ONE and STAGED are the jobs' --out folders (scripts/measure-rank-memory.sh with KEEP=DIR leaves DIR/one and
DIR/staged). Compares report.json (path, every iteration's losses, the dense loss, fine-tuning losses, perplexities)
and, in the folder and its finetuned/ folder, every tensor of the GGUF (model.gguf or its split parts) and of the
safetensors (hf/model.safetensors or its shards): type, shape and bytes (sha256), read from DIR/export-digests.json
where --save-digests left one. Prints one line per check and a closing 'N passed, N failed'; exit status 1 on any
difference."""
import argparse, glob, hashlib, json, os, struct, sys

import gguf


def gguf_tensors(folder):
    """name -> (type, shape, size, sha256 of the bytes) over model.gguf or every part of a split GGUF in `folder`."""
    files = sorted(glob.glob(os.path.join(folder, "model-*-of-*.gguf"))) or [os.path.join(folder, "model.gguf")]
    tensors = {}
    for path in files:
        if not os.path.exists(path):
            raise SystemExit(f"compare-staged-run: {path}: no such file")
        for t in gguf.GGUFReader(path).tensors:
            data = memoryview(t.data).cast("B")
            tensors[t.name] = (t.tensor_type.name, [int(x) for x in t.shape], len(data), hashlib.sha256(data).hexdigest())
    return tensors, len(files)


def safetensors_tensors(folder):
    """name -> (dtype, shape, size, sha256 of the bytes) over hf/model.safetensors or its shards in `folder`."""
    hf = os.path.join(folder, "hf")
    files = sorted(glob.glob(os.path.join(hf, "model-*-of-*.safetensors"))) or [os.path.join(hf, "model.safetensors")]
    tensors = {}
    for path in files:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
            base = 8 + length
            for name, entry in header.items():
                if name == "__metadata__":
                    continue
                start, end = entry["data_offsets"]
                f.seek(base + start)
                tensors[name] = (entry["dtype"], entry["shape"], end - start, hashlib.sha256(f.read(end - start)).hexdigest())
    return tensors, len(files)


DIGESTS = "export-digests.json"


def export_digests(folder):
    """{"pruned GGUF": {name: [type, shape, size, sha256]}, ...} of the folder's and finetuned/'s exports (and how many
    files each came in), or what --save-digests recorded."""
    saved = os.path.join(folder, DIGESTS)
    if os.path.exists(saved):
        return json.load(open(saved))
    out = {}
    for sub in ("", "finetuned"):
        where = os.path.join(folder, sub)
        for kind, read in (("GGUF", gguf_tensors), ("safetensors", safetensors_tensors)):
            present = (glob.glob(os.path.join(where, "model.gguf")) + glob.glob(os.path.join(where, "model-*-of-*.gguf"))
                       if kind == "GGUF" else glob.glob(os.path.join(where, "hf", "*.safetensors")))
            if present:
                tensors, files = read(where)
                out[f"{sub or 'pruned'} {kind}"] = {"files": files, "tensors": {n: list(v) for n, v in tensors.items()}}
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--save-digests":
        digests = export_digests(sys.argv[2])
        json.dump(digests, open(os.path.join(sys.argv[2], DIGESTS), "w"))
        print(f"{os.path.join(sys.argv[2], DIGESTS)}: " + ", ".join(f"{k} ({len(v['tensors'])} tensors)" for k, v in digests.items()))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("one")
    parser.add_argument("staged")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'same' if ok else 'DIFFERENT'}: {name}{(' (' + detail + ')') if detail else ''}")

    def close(name, a, b):
        if a is None or b is None:
            return check(name, a is None and b is None, f"{a} vs {b}")
        scale = max(abs(a), abs(b), 1e-30)
        check(name, abs(a - b) <= args.tolerance * scale, f"{a!r} vs {b!r}, relative {abs(a - b) / scale:.2e}")

    reports = [json.load(open(os.path.join(d, "report.json"))) for d in (args.one, args.staged)]
    one, staged = reports
    check("path", one["path"] == staged["path"], f"{one['path']!r} vs {staged['path']!r}")
    check("parameters", one["parameters"] == staged["parameters"], f"{one['parameters']} vs {staged['parameters']}")
    close("dense calibration loss", one["calibration"]["dense_loss"], staged["calibration"]["dense_loss"])
    check("iterations", len(one["iterations"]) == len(staged["iterations"]))
    for a, b in zip(one["iterations"], staged["iterations"]):
        for key in ("depth_loss", "width_loss"):
            close(f"iteration {a['iteration']} {key}", a.get(key), b.get(key))
    if "finetune" in one or "finetune" in staged:
        tuned = [r.get("finetune") or {} for r in reports]
        losses = [t.get("losses", []) for t in tuned]
        check("fine-tuning steps", len(losses[0]) == len(losses[1]) > 0, f"{len(losses[0])} vs {len(losses[1])}")
        for step, (a, b) in enumerate(zip(*losses)):
            close(f"fine-tuning step {step + 1} loss", a, b)
        for key in ("held_out_loss_before", "held_out_loss_after"):
            close(key, tuned[0].get(key), tuned[1].get(key))
    if "evaluation" in one or "evaluation" in staged:
        models = [(r.get("evaluation") or {}).get("models", []) for r in reports]
        check("evaluated models", [m["name"] for m in models[0]] == [m["name"] for m in models[1]])
        for a, b in zip(*models):
            close(f"{a['name']} perplexity", a.get("perplexity"), b.get("perplexity"))

    digests = [export_digests(d) for d in (args.one, args.staged)]
    check("exports", sorted(digests[0]) == sorted(digests[1]) and len(digests[0]) > 0,
          f"{sorted(digests[0])} vs {sorted(digests[1])}")
    for label in sorted(set(digests[0]) & set(digests[1])):
        (a, files_a), (b, files_b) = [(d[label]["tensors"], d[label]["files"]) for d in digests]
        check(f"{label} tensor names ({len(a)} in {files_a} file(s) vs {len(b)} in {files_b})", sorted(a) == sorted(b))
        differ = [n for n in a if n in b and a[n] != b[n]]
        size = sum(v[2] for v in a.values())
        check(f"{label} tensors byte-equal ({len(a) - len(differ)}/{len(a)}, {size / 1e6:.1f} MB)", not differ,
              ", ".join(differ[:5]))
        print(f"  {label} types: {', '.join(sorted({v[0] for v in a.values()}))}")

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()

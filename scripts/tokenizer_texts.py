"""The texts the tokenizer checks and benchmarks encode, each whole, as (path, text) pairs: a .jsonl file's documents
(its "text" fields) joined by blank lines, any other file as it is. Imported by check-tokenizer.py,
check-llama3-tokenizer.py and bench-tokenizers.py."""
import json, os

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "text")
# The whole WikiText-2 test set and the 1,000 C4 documents (../shared/data/MANIFEST.md).
DEFAULT = [os.path.join(DATA, "wikitext2-test.txt"), os.path.join(DATA, "c4-sample.jsonl")]


def texts(paths=None):
    for path in paths or DEFAULT:
        with open(path, encoding="utf-8") as f:
            if path.endswith(".jsonl"):
                yield path, "\n\n".join(json.loads(line)["text"] for line in f if line.strip())
            else:
                yield path, f.read()

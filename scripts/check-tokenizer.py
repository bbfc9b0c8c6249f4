#!/usr/bin/env python3
"""Check that mop tokenizes a GGUF's vocabulary exactly as Hugging Face `tokenizers` does.

    pip install gguf tokenizers      # for this check only
    scripts/check-tokenizer.py MODEL.gguf [--text FILE ...]

Builds the Hugging Face tokenizer from the GGUF's vocabulary, merges and control tokens, with the pre-tokenizer (and
normalizer) its `tokenizer.ggml.pre` names, as transformers' GGUF converter and the models' own tokenizer.json do:
  smollm: Digits(individual) then ByteLevel(regex); gpt-2: ByteLevel(regex); qwen2: NFC, Split(Qwen2 regex) then
  ByteLevel(no regex). Then encodes each text (default: the whole WikiText-2 test set and the C4 sample) with it and
with `mop tokenize`, and compares the ids. Exits 1 on the first difference, naming where.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
sys.dont_write_bytecode = True  # no __pycache__ in scripts/ (the docs tests read every file there)
from tokenizer_texts import texts

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QWEN2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def field(reader, name):
    f = reader.fields.get(name)
    return None if f is None else f.contents()


def hf_tokenizer(path):
    reader = GGUFReader(path)
    tokens, types = field(reader, "tokenizer.ggml.tokens"), field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    pre = field(reader, "tokenizer.ggml.pre") or "default"
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=pre != "qwen2")
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    elif pre == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2), behavior="isolated"), byte_level])
    elif pre in ("gpt2", "gpt-2", "default"):
        tok.pre_tokenizer = byte_level
    else:
        sys.exit(f"check-tokenizer: pre-tokenizer {pre!r} is not one this check knows")
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3])
    return tok, pre, len(tokens)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--text", action="append",
                        help="default: wikitext2-test.txt and c4-sample.jsonl from ../shared/data/text")
    parser.add_argument("--mop", default=os.path.join(root, ".build", "release", "mop"))
    args = parser.parse_args()
    tok, pre, vocab = hf_tokenizer(args.model)
    status = 0
    for path, text in texts(args.text):
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as f:
            f.write(text)
            f.flush()
            ours = json.loads(subprocess.run([args.mop, "tokenize", args.model, "--text", f.name, "--json"],
                                             check=True, capture_output=True, text=True).stdout)
        theirs = tok.encode(text, add_special_tokens=False).ids
        same = ours["ids"] == theirs
        if not same:
            status = 1
            first = next((i for i, (a, b) in enumerate(zip(ours["ids"], theirs)) if a != b), min(len(ours["ids"]), len(theirs)))
            print(f"  first difference at token {first}: mop {ours['ids'][first:first + 5]} hf {theirs[first:first + 5]}")
        print(f"| {os.path.basename(args.model)} | {pre} | {vocab:,} | {os.path.basename(path)} | {len(text):,} chars | "
              f"{len(theirs):,} tokens | {'equal' if same else 'DIFFERENT'} | {ours['seconds']:.2f} s |")
    sys.exit(status)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks mop on a Phi-2-style tokenizer: GPT-2's byte-level BPE plus the 38 added tokens of runs of spaces and tabs
that Phi-2 (and CodeGen before it) adds, against Hugging Face `tokenizers`.

    scripts/check-phi2-tokenizer.py [--fixture OUT_JSON] [TEXT_FILE ...]

No Hugging Face hub here, so the tokenizer is built offline: the vocabulary and merges of ggml-vocab-gpt-2.gguf of
llama.cpp's tokenizer suite, the ByteLevel pre-tokenizer and decoder, and as added tokens (not special, ids 50257 on,
in the order Phi-2's tokenizer.json lists them: 31 spaces down to 2, then 9 tabs down to 2). It is saved as a
tokenizer.json alone in a folder, and `mop tokenize` on that folder is compared, without BOS, with `tokenizers` on the
suite's strings, strings of whitespace runs and each text whole (default: WikiText-2 test, the C4 sample and mop's own
Swift sources joined, which are indented with runs of spaces). --fixture writes the whitespace strings' ids for
TokenizerPhi2Tests. Exit status 1 when any input differs. Needs `pip install tokenizers`.
"""
import glob, json, os, subprocess, sys, tempfile

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
import sentencepiece_vocab as sv
from tokenizer_texts import texts

mop = os.path.join(sv.ROOT, ".build/release/mop")
ADDED = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
# Runs longer, shorter and mixed, at line starts and ends, between words and before punctuation.
WHITESPACE = ["a  b", "    return x", "\t\tif y:\n\t\t\tz()", " " * 40 + "end", "x" + " " * 31 + "y", "a \t b",
              "  \n  \n", "def f():\n    pass\n", "\t \t \t", "word   !", "  leading", "trailing   ", " ", "  ",
              "mixed\t  \t\t   spaces", "1   2\t\t\t3", "\u00e9   \u00e9", "<|endoftext|>   x"]


def build():
    meta = sv.gguf_metadata(sv.suite_file("ggml-vocab-gpt-2.gguf"))
    vocab = {text: i for i, text in enumerate(meta["tokenizer.ggml.tokens"])}
    merges = [tuple(m.split(" ")) for m in meta["tokenizer.ggml.merges"]]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    tokenizer.add_tokens([AddedToken(text, special=False, normalized=True) for text in ADDED])
    return tokenizer


def mop_ids(folder, text):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write(text)
    try:
        return json.loads(subprocess.run([mop, "tokenize", folder, "--text", handle.name, "--json"], check=True,
                                         capture_output=True, text=True).stdout)["ids"]
    finally:
        os.unlink(handle.name)


def main():
    args = sys.argv[1:]
    fixture = None
    if args[:1] == ["--fixture"]:
        fixture, args = args[1], args[2:]
    tokenizer = build()
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False).ids
    if fixture:
        with open(fixture, "w", encoding="utf-8") as out:
            json.dump({"source": f"scripts/check-phi2-tokenizer.py, tokenizers {tokenizers.__version__}",
                       "added": ADDED, "cases": [{"text": t, "ids": encode(t)} for t in WHITESPACE]},
                      out, ensure_ascii=False, indent=1)
            out.write("\n")
    sources = "\n".join(open(p, encoding="utf-8").read() for p in sorted(glob.glob(sv.ROOT + "/Sources/**/*.swift",
                                                                                      recursive=True)))
    inputs = [(f"suite string {i}", s) for i, s in enumerate(sv.suite_strings(sv.suite_file("ggml-vocab-gpt-2.gguf"))) if s]
    inputs += [(f"whitespace string {i}", s) for i, s in enumerate(WHITESPACE)]
    inputs += [(os.path.basename(p), t) for p, t in texts(args)] if args else \
        [(os.path.basename(p), t) for p, t in texts()] + [("mop's Swift sources", sources)]
    failed = 0
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save(os.path.join(folder, "tokenizer.json"))
        for name, text in inputs:
            expected, got = encode(text), mop_ids(folder, text)
            added = sum(1 for i in expected if i > 50256)
            if expected == got:
                if not name.startswith("suite") or added:
                    print(f"{name}: {len(got)} ids equal, {added} of them added whitespace tokens")
            else:
                failed += 1
                first = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
                print(f"{name}: differs at id {first}: tokenizers {expected[first:first + 5]}, mop {got[first:first + 5]}")
    print(f"{len(inputs) - failed} of {len(inputs)} inputs equal (tokenizers {tokenizers.__version__})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

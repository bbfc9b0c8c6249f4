#!/usr/bin/env python3
"""Checks mop's reading of tokenizer.json files with BPE and byte fallback (LLaMA-2, Mistral, Gemma) against Hugging
Face `tokenizers` on whole texts.

    scripts/check-tokenizer-json.py [TEXT_FILE ...]     (default: WikiText-2 test and the C4 sample)

Builds three tokenizer.json files, each alone in a temporary folder, and compares, for llama.cpp's suite strings and
each text encoded whole without BOS, the ids of `mop tokenize FOLDER` with those of `tokenizers` loading the same file:
- "LLaMA-2 legacy": LLaMA's 32,000 pieces (ggml-vocab-llama-spm.gguf of llama.cpp's tokenizer suite) as LLaMA-2's
  published tokenizer.json has them, normalizer Prepend("▁") then Replace(" ", "▁"), merges ordered by the merged
  piece's score (transformers 4's LlamaConverter); sentencepiece on the same pieces is shown too.
- "transformers 5": what transformers' LlamaTokenizer writes when it converts LLaMA's tokenizer.model (Metaspace with
  prepend_scheme "first", merges in piece-id order), which tokenizes differently from sentencepiece.
- "Gemma-3": the pieces of the Gemma-3-270m GGUF (MOP_GEMMA3_GGUF; skipped when unset) in Gemma's style (normalizer
  Replace(" ", "▁") alone, Split on " ", no dummy prefix, the user-defined whitespace and HTML pieces as added
  tokens), merges by score.
Exit status 1 when any input differs. Needs `pip install tokenizers transformers sentencepiece protobuf` and a release
build of mop (.build/release/mop).
"""
import json, os, subprocess, sys, tempfile, time

import tokenizers
import transformers
from sentencepiece import SentencePieceProcessor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
import sentencepiece_vocab as sv
from tokenizer_texts import texts

mop = os.path.join(sv.ROOT, ".build/release/mop")


def mop_ids(folder, text):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write(text)
    try:
        report = json.loads(subprocess.run([mop, "tokenize", folder, "--text", handle.name, "--json"], check=True,
                                           capture_output=True, text=True).stdout)
    finally:
        os.unlink(handle.name)
    return report["ids"], report["seconds"], report["decodes_back"]


def folders(directory):
    """(name, folder holding only a tokenizer.json, sentencepiece processor or None) of each file checked."""
    llama = sv.suite_file("ggml-vocab-llama-spm.gguf")
    entries = sv.pieces(llama)
    model = os.path.join(directory, "tokenizer.model")
    sv.write_model(entries, model)
    processor = SentencePieceProcessor(model_file=model)
    found = []
    legacy = os.path.join(directory, "legacy")
    os.mkdir(legacy)
    sv.tokenizer_json(entries, "legacy").save(os.path.join(legacy, "tokenizer.json"))
    found.append(("LLaMA-2 legacy", legacy, processor))
    converted = os.path.join(directory, "converted")
    source = os.path.join(directory, "source")
    os.mkdir(source)
    os.rename(model, os.path.join(source, "tokenizer.model"))
    transformers.LlamaTokenizer.from_pretrained(source).save_pretrained(converted)
    for name in os.listdir(converted):
        if name != "tokenizer.json":
            os.unlink(os.path.join(converted, name))
    found.append((f"transformers {transformers.__version__}", converted, processor))
    gemma = os.environ.get("MOP_GEMMA3_GGUF")
    if gemma:
        folder = os.path.join(directory, "gemma")
        os.mkdir(folder)
        sv.tokenizer_json(sv.pieces(gemma), "gemma", bos="<bos>").save(os.path.join(folder, "tokenizer.json"))
        found.append(("Gemma-3", folder, None))
    else:
        print("MOP_GEMMA3_GGUF is not set: Gemma-3 left out", file=sys.stderr)
    return found


def main():
    strings = [s for s in sv.suite_strings(sv.suite_file("ggml-vocab-llama-spm.gguf")) if s]
    failed = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, folder, processor in folders(directory):
            reference = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
            equal = sum(mop_ids(folder, s)[0] == reference.encode(s, add_special_tokens=False).ids for s in strings)
            spm_equal = processor and sum(processor.encode(s) == reference.encode(s, add_special_tokens=False).ids
                                          for s in strings)
            print(f"{name}: suite strings: mop = tokenizers on {equal} of {len(strings)}"
                  + (f"; tokenizers = sentencepiece on {spm_equal}" if processor else ""))
            failed += equal != len(strings)
            for path, text in texts(sys.argv[1:]):
                ids, seconds, back = mop_ids(folder, text)
                start = time.perf_counter()
                expected = reference.encode(text, add_special_tokens=False).ids
                peer_seconds = time.perf_counter() - start
                same = ids == expected
                failed += not same
                spm = "" if processor is None else \
                    f"; sentencepiece {'equal' if processor.encode(text) == expected else 'differs'}"
                first = next((i for i, (a, b) in enumerate(zip(ids, expected)) if a != b), min(len(ids), len(expected)))
                print(f"{name}: {os.path.basename(path)}: {len(expected)} ids, mop "
                      + ("equal" if same else f"differs at {first}") + spm
                      + f"; mop decodes back: {back}; mop {seconds:.2f} s, tokenizers {peer_seconds:.2f} s")
    print(f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Records what Hugging Face `tokenizers` gives for small tokenizer.json files with BPE and byte fallback, the fixture
of mop's TokenizerJSONByteFallbackTests.

    scripts/make-tokenizer-json-fixture.py > Tests/SharedTests/Fixtures/tokenizer-json-byte-fallback.json

The vocabulary is a part of LLaMA's (ggml-vocab-llama-spm.gguf of llama.cpp's tokenizer suite): its control and
byte pieces, the 1,200 best-scored pieces (and "▁▁", whose score is the lowest of all, so that ordering merges by
score or by id differs) and the single characters of ASCII and "▁", the rest falling back to bytes. Each variant is one
style of real file (sentencepiece_vocab.tokenizer_json): LLaMA-2's legacy normalizer with merges by score,
Metaspace "first" with merges by piece id (transformers 5's order), Metaspace "always", and Gemma's Replace-only
style with a non-special added token. For each, the fixture holds the tokenizer.json text and, for every test
string, the ids without and with special tokens and the decoded text, as `tokenizers` gives them.
"""
import json, sys

import tokenizers

import sentencepiece_vocab as sv

# Strings for the rules where the styles differ (leading spaces, special tokens, a literal U+2581) and for byte
# fallback, then llama.cpp's suite strings and a stretch of WikiText-2.
TRICKY = ["hello world", " hello", "  hello  world  ", "<s>hello", "<s> hello", "a</s>b", "\u2581literal", "x\n\n\ny",
          "tabs\tand\r\nbreaks", "\u4f60\u597d \U0001f600 caf\u00e9", "the  end ", "<unk> and <s></s>", " ", "\n"]
WIKITEXT_CHARS = 3000


def main():
    gguf = sv.suite_file("ggml-vocab-llama-spm.gguf")
    everything = sv.pieces(gguf)
    best = sorted((i for i, (_, _, kind) in enumerate(everything) if kind == 1), key=lambda i: -everything[i][1])
    keep = set(best[:1200]) | {everything.index(("\u2581\u2581", -1e9, 1))}
    keep |= {i for i, (text, _, kind) in enumerate(everything)
             if kind != 1 or (len(text) == 1 and (ord(text) < 128 or text == "\u2581"))}
    entries = [everything[i] for i in sorted(keep)]
    with open(sv.ROOT + "/../shared/data/text/wikitext2-test.txt", encoding="utf-8") as f:
        wikitext = f.read()[:WIKITEXT_CHARS]
    strings = TRICKY + [s for s in sv.suite_strings(gguf) if s] + [wikitext]
    variants = [("legacy", "legacy", True, ()), ("metaspace-first-by-id", "first", False, ()),
                ("metaspace-always", "always", True, ()),
                ("gemma", "gemma", True, (("\n\n", False), ("<start_of_turn>", True)))]
    fixture = {"source": f"scripts/make-tokenizer-json-fixture.py, tokenizers {tokenizers.__version__}, "
                         f"{len(entries)} pieces of ggml-vocab-llama-spm.gguf", "variants": []}
    for name, style, by_score, added in variants:
        tokenizer = sv.tokenizer_json(entries, style, by_score, added)
        cases = []
        for text in strings:
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            cases.append({"text": text, "ids": ids, "ids_with_special": tokenizer.encode(text).ids,
                          "decoded": tokenizer.decode(ids, skip_special_tokens=False)})
        fixture["variants"].append({"name": name, "tokenizer_json": tokenizer.to_str(), "cases": cases})
    # One line per case and per tokenizer: indented id lists would triple the size.
    line = lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    out = ["{", f' "source": {line(fixture["source"])},', ' "variants": [']
    for index, variant in enumerate(fixture["variants"]):
        out += ["  {", f'   "name": {line(variant["name"])},', f'   "tokenizer_json": {line(variant["tokenizer_json"])},',
                '   "cases": [', ",\n".join("    " + line(case) for case in variant["cases"]), "   ]",
                "  }" + ("," if index + 1 < len(fixture["variants"]) else "")]
    print("\n".join(out + [" ]", "}"]))


if __name__ == "__main__":
    main()

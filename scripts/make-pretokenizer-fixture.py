#!/usr/bin/env python3
"""Record Hugging Face `tokenizers`' pieces for Qwen2's pre-tokenizer, for mop's PreTokenizer tests.

Usage: make-pretokenizer-fixture.py WIKITEXT OUT_FIXTURE_JSON      (pip install tokenizers)

Qwen2's tokenizer.json normalizes to NFC, then splits with its regex (Split, behavior Isolated), then maps bytes
(ByteLevel, use_regex false). The fixture holds, for tricky strings and a WikiText-2 excerpt, the NFC form and the
pieces of the split, as `tokenizers` computes them; no model is needed.
"""
import json
import sys

from tokenizers import Regex, normalizers, pre_tokenizers

PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
WIKITEXT_CHARS = 20_000

TRICKY = [
    "", " ", "\n", "  ", "Hello  world's 123!!", "12345 3.14159 2024-11-23", "1,000,000 and 0.5% of 42nd",
    "I'm don't WE'LL they're we've she'd you'll it's", "'s's 'S ''s '' 't 'Re 'vE 'lL 'D 'x 'l", "'\u017f and '\u017fs",
    "(hello) [world] {x} <tag>", "\"quoted\" 'single' `code`", "...\n\nNext paragraph", "hello!!\n\n\nbye", "!!\r\n",
    "a   b\n\n\n c\t\td  ", "trailing spaces   ", "   leading spaces", "\t \n \r\n", "  \n  x", "a\n\n b", "x  \t\n\ty",
    "tab\tword\ttab", "\u00a0word a\u00a0b\u3000c", "\r\rx\r", " \n\n", "\n \n", "word\n", "  .  ,", " ?!x", "?\n\n!",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9", "e\u0301 combining a\u0308o\u0323 marks \u0301x", "\u212b ohm \u2126 K\u212a",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4",
    "x\u2163\u00bd\u00b2 y \u0661\u0662\u0663", "emoji \U0001f600\U0001f44d\U0001f3fd and \u2764\ufe0f", "def f(x):\n    return x**2  # sq\n",
    "if (a<b) { c++; }\n\n\tpass", "<|im_start|>user\nhi<|im_end|>", "123abc 4.5e6 0x1F",
]


def main():
    wikitext_path, out_path = sys.argv[1:]
    wikitext = open(wikitext_path, encoding="utf-8").read()[:WIKITEXT_CHARS]
    nfc = normalizers.NFC()
    split = pre_tokenizers.Split(Regex(PATTERN), behavior="isolated", invert=False)
    cases = []
    for text in TRICKY + [wikitext]:
        normalized = nfc.normalize_str(text)
        cases.append({"text": text, "nfc": normalized, "pieces": [piece for piece, _ in split.pre_tokenize_str(normalized)]})
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump({"about": "Qwen2 pre-tokenizer pieces from Hugging Face tokenizers; regenerate with "
                   "scripts/make-pretokenizer-fixture.py", "pattern": PATTERN, "cases": cases}, out, ensure_ascii=True)
        out.write("\n")


main()

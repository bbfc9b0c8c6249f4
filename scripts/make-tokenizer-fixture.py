#!/usr/bin/env python3
"""Build SmolLM2's Hugging Face tokenizer from the GGUF and record reference token ids for mop's tokenizer tests.

Usage: make-tokenizer-fixture.py GGUF WIKITEXT OUT_TOKENIZER_JSON OUT_FIXTURE_JSON

The tokenizer mirrors SmolLM2's published tokenizer.json: BPE over GPT-2's byte alphabet, pre-tokenizer
Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)], ByteLevel decoder, and
the GGUF's control tokens (token_type 3) as special added tokens. The tokenizer.json is large (a few MB) and belongs in
an ignored folder such as models/; the fixture is small and committed.
"""
import json
import sys

from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

WIKITEXT_CHARS = 20_000

# Each string exercises one rule of the pre-tokenizer, the BPE, the special-token matcher or the byte-level decoder.
TRICKY = [
    "",
    "Hello  world's 123!!",
    "12345 3.14159 2024-11-23",
    "1,000,000 and 0.5% of 42nd",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade \u00c5ngstr\u00f6m",
    "e\u0301 combining a\u0308o\u0323 marks",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\u3002",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4 \u0420\u043e\u0441\u0441\u0438\u044f \u0645\u0631\u062d\u0628\u0627",
    "emoji \U0001f600\U0001f44d\U0001f3fd and \u2764\ufe0f",
    "family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 zwj",
    "flags \U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5\U0001f1eb\U0001f1f7",
    "a   b\n\n\n c\t\td  ",
    "trailing spaces   ",
    "   leading spaces",
    " ",
    "\n",
    "\t \n \r\n",
    "I'm don't WE'LL they're we've she'd you'll it's",
    "'s's 'S ''s '' 't",
    "<|im_start|>user\nhi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|><|endoftext|>x<|im_end",
    "<|im_start|",
    "mixed \u0391\u03b8\u03ae\u03bd\u03b1 and \u05e9\u05dc\u05d5\u05dd and \u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35",
    "def foo(x):\n    return x ** 2  # comment\n",
    "Punctuation!!! ??? ... --- (parens) [brackets] {braces}",
    "nbsp\u00a0here\u2003em\u3000ideographic",
    "zero\u200bwidth soft\u00adhyphen",
    "Roman \u2163 numerals \u00bd \u00b2 \u0663\u0664 \uff11\uff12",
    "\u00d7\u00f7\u00b1 \u20ac100 \u00a3 \u00a5 \u2014dash\u2013",
    "https://example.com/path?q=1&r=two#frag",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\U0001d400\U0001d401 math \U00010348 gothic",
]


def field(reader, name):
    f = reader.fields.get(name)
    if f is None:
        sys.exit(f"{name} missing from the GGUF")
    return f.contents()


def build_tokenizer(gguf_path):
    reader = GGUFReader(gguf_path)
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        sys.exit("duplicate tokens in the GGUF vocabulary")
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    control = [tokens[i] for i, t in enumerate(types) if t == 3]
    tok.add_special_tokens([AddedToken(c, special=True, normalized=False) for c in control])
    return tok


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    gguf_path, wikitext_path, out_tokenizer, out_fixture = sys.argv[1:]
    tok = build_tokenizer(gguf_path)
    tok.save(out_tokenizer)
    reloaded = Tokenizer.from_file(out_tokenizer)

    with open(wikitext_path, encoding="utf-8") as f:
        prefix = f.read()[:WIKITEXT_CHARS]

    def ids(text):
        got = tok.encode(text, add_special_tokens=False).ids
        if reloaded.encode(text, add_special_tokens=False).ids != got:
            sys.exit(f"saved tokenizer.json tokenizes {text!r} differently")
        if tok.decode(got, skip_special_tokens=False) != text:
            sys.exit(f"decode(encode({text!r})) is not the identity")
        return got

    fixture = {
        "about": "Reference ids from Hugging Face tokenizers for SmolLM2-135M-Instruct; "
        "regenerate with scripts/make-tokenizer-fixture.py",
        "wikitext_prefix": prefix,
        "wikitext_ids": " ".join(map(str, ids(prefix))),
        "cases": [{"text": t, "ids": ids(t)} for t in TRICKY],
    }
    with open(out_fixture, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks mop's SentencePiece tokenizer, read from a tokenizer.model, against the sentencepiece library.

    scripts/check-sentencepiece.py [TEXT_FILE ...]

Builds a tokenizer.model (sentencepiece's own ModelProto: pieces, scores, types, a BPE trainer spec with byte
fallback, the identity normalizer with the dummy prefix) from the vocabulary of llama.cpp's ggml-vocab-llama-spm.gguf
(LLaMA's 32,000 pieces; scripts/fetch-tokenizer-suite.sh, or MOP_TOKENIZER_SUITE), in a temporary directory. Then
encodes, without BOS, every test string of the suite's .inp file and each TEXT_FILE whole, with sentencepiece and with
`mop tokenize DIR`, and prints one line per input: equal, or the first differing position. Exit status 1 when any
input differs. Needs `pip install sentencepiece protobuf` and a release build of mop (.build/release/mop).
"""
import json, os, struct, subprocess, sys, tempfile

from sentencepiece import SentencePieceProcessor, sentencepiece_model_pb2 as pb

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
suite = os.environ.get("MOP_TOKENIZER_SUITE") or subprocess.run(
    [os.path.join(root, "scripts/fetch-tokenizer-suite.sh")], check=True, capture_output=True, text=True).stdout.strip()
vocab = os.path.join(suite, "ggml-vocab-llama-spm.gguf")
mop = os.path.join(root, ".build/release/mop")


def gguf_metadata(path):
    """The metadata of a GGUF v3 file (scalars, strings and arrays of them)."""
    data = open(path, "rb").read()
    pos = 8
    formats = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def take(fmt):
        nonlocal pos
        value = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return value

    def string():
        nonlocal pos
        length = take("<Q")
        pos += length
        return data[pos - length:pos].decode("utf-8")

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            element, count = take("<I"), take("<Q")
            return [value(element) for _ in range(count)]
        return take(formats[kind])

    take("<Q")  # tensor count
    return {string(): value(take("<I")) for _ in range(take("<Q"))}


def build_model(path):
    meta = gguf_metadata(vocab)
    model = pb.ModelProto()
    for text, score, kind in zip(meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"],
                                 meta["tokenizer.ggml.token_type"]):
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = text, score, kind
    model.trainer_spec.model_type = pb.TrainerSpec.BPE
    model.trainer_spec.byte_fallback = True
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = True
    model.normalizer_spec.remove_extra_whitespaces = False
    with open(path, "wb") as out:
        out.write(model.SerializeToString())


def mop_ids(directory, text):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write(text)
    try:
        out = subprocess.run([mop, "tokenize", directory, "--text", handle.name, "--json"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(handle.name)
    return json.loads(out)["ids"]


def main():
    inputs = []
    raw = open(vocab + ".inp", encoding="utf-8", newline="").read()
    separator = "\n__ggml_vocab_test__\n"
    # As tests/test-tokenizer-0.cpp splits it: a final separator ends the last string.
    strings = raw.split(separator)[:-1] if raw.endswith(separator) else raw.split(separator)
    inputs += [(f"suite string {i}", s) for i, s in enumerate(strings)]
    inputs += [(path, open(path, encoding="utf-8", newline="").read()) for path in sys.argv[1:]]
    failed = 0
    with tempfile.TemporaryDirectory() as directory:
        build_model(os.path.join(directory, "tokenizer.model"))
        processor = SentencePieceProcessor(model_file=os.path.join(directory, "tokenizer.model"))
        for name, text in inputs:
            if not text:
                print(f"{name}: empty, skipped (mop tokenize refuses an empty file)")
                continue
            expected, got = processor.encode(text), mop_ids(directory, text)
            if expected == got:
                print(f"{name}: {len(got)} ids equal")
            else:
                failed += 1
                first = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
                print(f"{name}: differs at id {first} (sentencepiece {expected[first:first + 5]}, mop {got[first:first + 5]})")
    compared = sum(1 for _, text in inputs if text)
    print(f"{compared - failed} of {compared} non-empty inputs equal")
    sys.exit(1 if failed else 0)


main()

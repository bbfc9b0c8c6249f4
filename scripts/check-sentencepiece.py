#!/usr/bin/env python3
"""Checks mop's SentencePiece tokenizer, read from and written to a tokenizer.model, against the sentencepiece library.

    scripts/check-sentencepiece.py [TEXT_FILE ...]

Builds a tokenizer.model (sentencepiece's own ModelProto: pieces, scores, types, a BPE trainer spec with byte
fallback, the identity normalizer with the dummy prefix) from the vocabulary of llama.cpp's ggml-vocab-llama-spm.gguf
(LLaMA's 32,000 pieces; scripts/fetch-tokenizer-suite.sh, or MOP_TOKENIZER_SUITE), in a temporary Hugging Face
directory with a tiny LLaMA (one layer, hidden 8, zero weights) beside it, and has `mop apply` export that model: the
export's hf/tokenizer.model is mop's own writing. Then encodes, without BOS, every test string of the suite's .inp file
and each TEXT_FILE whole with `mop tokenize` on the export, with sentencepiece on the export's tokenizer.model and with
sentencepiece on the file it was built from, and prints one line per input: equal, or the first differing position,
with each encoder's time. Exit status 1 when any input differs. Needs `pip install sentencepiece protobuf` and a release build of mop (.build/release/mop).
"""
import json, os, struct, subprocess, sys, tempfile, time

import numpy
from safetensors.numpy import save_file

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


def build_tiny_llama(directory, vocab_size):
    """A one-layer LLaMA with zero weights and `vocab_size` embedding rows: a model for `mop apply` to export."""
    hidden, heads, head_dim, intermediate = 8, 2, 4, 8
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
              "vocab_size": vocab_size, "hidden_size": hidden, "head_dim": head_dim, "num_hidden_layers": 1,
              "num_attention_heads": heads, "num_key_value_heads": 1, "intermediate_size": intermediate,
              "tie_word_embeddings": True, "max_position_embeddings": 64, "rms_norm_eps": 1e-5}
    with open(os.path.join(directory, "config.json"), "w") as out:
        json.dump(config, out)
    shapes = {"model.embed_tokens.weight": (vocab_size, hidden), "model.norm.weight": (hidden,),
              "model.layers.0.input_layernorm.weight": (hidden,),
              "model.layers.0.post_attention_layernorm.weight": (hidden,),
              "model.layers.0.self_attn.q_proj.weight": (heads * head_dim, hidden),
              "model.layers.0.self_attn.k_proj.weight": (head_dim, hidden),
              "model.layers.0.self_attn.v_proj.weight": (head_dim, hidden),
              "model.layers.0.self_attn.o_proj.weight": (hidden, heads * head_dim),
              "model.layers.0.mlp.gate_proj.weight": (intermediate, hidden),
              "model.layers.0.mlp.up_proj.weight": (intermediate, hidden),
              "model.layers.0.mlp.down_proj.weight": (hidden, intermediate)}
    save_file({name: numpy.zeros(shape, dtype=numpy.float32) for name, shape in shapes.items()},
              os.path.join(directory, "model.safetensors"))
    structure = {"version": 1, "original_layers": 1, "path": "",
                 "layers": [{"index": 0, "heads": [0, 1], "kv_heads": [0], "neurons": list(range(intermediate))}]}
    path = os.path.join(directory, "structure.json")
    with open(path, "w") as out:
        json.dump(structure, out)
    return path


def mop_ids(directory, text):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        handle.write(text)
    try:
        out = subprocess.run([mop, "tokenize", directory, "--text", handle.name, "--json"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(handle.name)
    result = json.loads(out)
    return result["ids"], result["seconds"]


def timed(encode, text):
    start = time.perf_counter()
    ids = encode(text)
    return ids, time.perf_counter() - start


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
        source, export = os.path.join(directory, "source"), os.path.join(directory, "export")
        os.mkdir(source)
        build_model(os.path.join(source, "tokenizer.model"))
        built = SentencePieceProcessor(model_file=os.path.join(source, "tokenizer.model"))
        structure = build_tiny_llama(source, built.get_piece_size())
        subprocess.run([mop, "apply", source, "--structure", structure, "--out", export, "--format", "safetensors"],
                       check=True, capture_output=True)
        written = os.path.join(export, "hf")
        processor = SentencePieceProcessor(model_file=os.path.join(written, "tokenizer.model"))
        for name, text in inputs:
            if not text:
                print(f"{name}: empty, skipped (mop tokenize refuses an empty file)")
                continue
            (expected, seconds), (got, mop_seconds) = timed(processor.encode, text), mop_ids(written, text)
            reference = built.encode(text)
            if expected == got == reference:
                print(f"{name}: {len(got)} ids equal; mop {mop_seconds:.2f} s, sentencepiece {seconds:.2f} s")
            else:
                failed += 1
                which = "mop's tokenizer.model" if expected != reference else "mop"
                other = got if expected == reference else expected
                first = next((i for i, (a, b) in enumerate(zip(reference, other)) if a != b), min(len(reference), len(other)))
                print(f"{name}: {which} differs at id {first} (sentencepiece {reference[first:first + 5]}, {which} {other[first:first + 5]})")
    compared = sum(1 for _, text in inputs if text)
    print(f"{compared - failed} of {compared} non-empty inputs equal")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks mop's SentencePiece tokenizer, read from and written to a tokenizer.model and a tokenizer.json, against the
sentencepiece library, Hugging Face `tokenizers` and transformers.

    scripts/check-sentencepiece.py [TEXT_FILE ...]

Builds a tokenizer.model (sentencepiece's own ModelProto: pieces, scores, types, a BPE trainer spec with byte
fallback, the identity normalizer with the dummy prefix) from the vocabulary of llama.cpp's ggml-vocab-llama-spm.gguf
(LLaMA's 32,000 pieces; scripts/fetch-tokenizer-suite.sh, or MOP_TOKENIZER_SUITE), in a temporary Hugging Face
directory with a tiny LLaMA (one layer, hidden 8, zero weights) beside it, and has `mop apply` export that model: the
export's hf/tokenizer.model and hf/tokenizer.json are mop's own writing. Then encodes, without BOS, every test string
of the suite's .inp file and each TEXT_FILE whole with: `mop tokenize` on the export (which reads its
tokenizer.model); sentencepiece on the export's tokenizer.model and on the file it was built from; `tokenizers` on
the export's tokenizer.json; transformers' AutoTokenizer on the export folder; and `mop tokenize` on a copy of the
export without its tokenizer.model (so reading mop's tokenizer.json). Prints one line per input: equal, or which
encoder differs first and where, with the times. Exit status 1 when any input differs. Needs `pip install
sentencepiece protobuf tokenizers transformers safetensors numpy` and a release build of mop (.build/release/mop).
"""
import json, os, shutil, subprocess, sys, tempfile, time

import numpy
from safetensors.numpy import save_file
from sentencepiece import SentencePieceProcessor
from tokenizers import Tokenizer
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from sentencepiece_vocab import ROOT as root, pieces, suite_file, suite_strings, write_model

vocab = suite_file("ggml-vocab-llama-spm.gguf")
mop = os.path.join(root, ".build/release/mop")


def build_model(path):
    write_model(pieces(vocab), path)


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
    inputs = [(f"suite string {i}", s) for i, s in enumerate(suite_strings(vocab))]
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
        json_only = os.path.join(directory, "json-only")
        shutil.copytree(written, json_only)
        os.unlink(os.path.join(json_only, "tokenizer.model"))
        processor = SentencePieceProcessor(model_file=os.path.join(written, "tokenizer.model"))
        hf_json = Tokenizer.from_file(os.path.join(written, "tokenizer.json"))
        auto = AutoTokenizer.from_pretrained(written)
        print(f"AutoTokenizer loads the export as {type(auto).__name__}")
        for name, text in inputs:
            if not text:
                print(f"{name}: empty, skipped (mop tokenize refuses an empty file)")
                continue
            (got, mop_seconds), (from_json, _) = mop_ids(written, text), mop_ids(json_only, text)
            reference, seconds = timed(built.encode, text)
            others = {"sentencepiece on mop's tokenizer.model": processor.encode(text), "mop": got,
                      "tokenizers on mop's tokenizer.json": hf_json.encode(text, add_special_tokens=False).ids,
                      "transformers on the export": auto.encode(text, add_special_tokens=False),
                      "mop on its tokenizer.json alone": from_json}
            wrong = [(which, ids) for which, ids in others.items() if ids != reference]
            if not wrong:
                print(f"{name}: {len(got)} ids equal; mop {mop_seconds:.2f} s, sentencepiece {seconds:.2f} s")
                continue
            failed += 1
            for which, ids in wrong:
                first = next((i for i, (a, b) in enumerate(zip(reference, ids)) if a != b), min(len(reference), len(ids)))
                print(f"{name}: {which} differs at id {first} (sentencepiece {reference[first:first + 5]}, "
                      f"{which} {ids[first:first + 5]})")
    compared = sum(1 for _, text in inputs if text)
    print(f"{compared - failed} of {compared} non-empty inputs equal")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Encoding speed of mop's tokenizers against their references, on whole texts.

    pip install gguf tokenizers transformers tiktoken sentencepiece protobuf safetensors numpy
    scripts/bench-tokenizers.py [--rounds N] [--text FILE ...]

Tokenizers: SmolLM2's and Qwen2's byte-level BPE (from MOP_SMOLLM2_GGUF and MOP_QWEN05_GGUF, built for `tokenizers` as
scripts/check-tokenizer.py builds them), LLaMA-3's (the tiktoken file, converted as scripts/check-llama3-tokenizer.py
does) against `tokenizers`, and LLaMA's SentencePiece model (the tokenizer.model scripts/check-sentencepiece.py builds)
against `sentencepiece`. Texts (default): the whole WikiText-2 test set and the C4 sample joined as the check scripts
join it. Each text is encoded whole, without BOS, in interleaved runs (mop, peer, mop, peer, ...; --rounds rounds):
mop's time is the encoding time `mop tokenize --json` reports (the tokenizer already loaded), the peer's that of its
encode call in this process. Ids are checked equal on every run. Prints a Markdown table: tokens, the median tokens/s
of each, and the median and min-max of the per-round ratios mop time / peer time (below 1: mop is faster).
"""
import argparse, importlib.util, json, os, platform, statistics, subprocess, sys, tempfile, time

sys.dont_write_bytecode = True  # no __pycache__ in scripts/ (the docs tests read every file there)
from tokenizer_texts import texts

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
mop = os.path.join(root, ".build", "release", "mop")


def script(name):
    """One of the check scripts, imported as a module for its builders."""
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), os.path.join(root, "scripts", name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokenizers_encoder(tokenizer):
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


def contenders(directory):
    """(name, peer's name, what mop reads, the peer's encode) for each tokenizer."""
    found = []
    check = script("check-tokenizer")
    for variable, name in (("MOP_SMOLLM2_GGUF", "SmolLM2 (byte-level BPE)"), ("MOP_QWEN05_GGUF", "Qwen2 (byte-level BPE)")):
        path = os.environ.get(variable)
        if path:
            found.append((name, "tokenizers", path, tokenizers_encoder(check.hf_tokenizer(path)[0])))
        else:
            print(f"bench-tokenizers: {variable} is not set; {name} left out", file=sys.stderr)
    llama3 = script("check-llama3-tokenizer")
    converted, _ = llama3.references(llama3.tiktoken_file())
    folder = os.path.join(directory, "llama3")
    os.mkdir(folder)
    llama3.write_directory(converted, folder)
    found.append(("LLaMA-3 (byte-level BPE)", "tokenizers", folder, tokenizers_encoder(converted)))
    spm = script("check-sentencepiece")
    folder = os.path.join(directory, "llama-spm")
    os.mkdir(folder)
    spm.build_model(os.path.join(folder, "tokenizer.model"))
    processor = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
    found.append(("LLaMA (SentencePiece)", "sentencepiece", folder, processor.encode))
    return found


def mop_run(model, path):
    out = subprocess.run([mop, "tokenize", model, "--text", path, "--json"], check=True, capture_output=True,
                         text=True).stdout
    report = json.loads(out)
    return report["ids"], report["seconds"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--text", action="append", help="default: wikitext2-test.txt and c4-sample.jsonl")
    args = parser.parse_args()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"Machine: {platform.node()}, {os.cpu_count()} cores, {cpu}; {args.rounds} interleaved rounds.\n")
    print("| tokenizer | text | tokens | mop tokens/s | peer | peer tokens/s | mop time / peer time: median (min-max) |")
    print("|---|---|---:|---:|---|---:|---|")
    status = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, peer, model, encode in contenders(directory):
            for path, text in texts(args.text):
                file = os.path.join(directory, "text.txt")
                with open(file, "w", encoding="utf-8") as out:
                    out.write(text)
                mop_times, peer_times = [], []
                for _ in range(args.rounds):
                    ids, seconds = mop_run(model, file)
                    mop_times.append(seconds)
                    start = time.perf_counter()
                    theirs = encode(text)
                    peer_times.append(time.perf_counter() - start)
                    if ids != theirs:
                        status = 1
                        print(f"bench-tokenizers: {name} on {path}: mop's ids differ from {peer}'s", file=sys.stderr)
                ratios = [m / p for m, p in zip(mop_times, peer_times)]
                tokens = len(ids)
                print(f"| {name} | {os.path.basename(path)} | {tokens:,} | {tokens / statistics.median(mop_times):,.0f} | "
                      f"{peer} | {tokens / statistics.median(peer_times):,.0f} | "
                      f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
    sys.exit(status)


if __name__ == "__main__":
    main()

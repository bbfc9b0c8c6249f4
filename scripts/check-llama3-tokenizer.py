#!/usr/bin/env python3
"""Checks mop's LLaMA-3 tokenizer (byte-level BPE, the llama3 pre-tokenizer row) against `tokenizers` and tiktoken.

    pip install tokenizers transformers tiktoken   # no torch needed
    scripts/check-llama3-tokenizer.py [--text FILE ...]

LLaMA-3's tokenizer is a tiktoken file (128,000 byte sequences with their ranks), shipped in the PyPI wheel
llama-models==0.3.0 as llama_models/llama3/tokenizer.model (2,183,982 bytes; its sha256 is checked). The wheel is
downloaded once with pip into models/llama3-tokenizer/ (git-ignored; MOP_LLAMA3_TOKENIZER names another folder).
transformers' TikTokenConverter turns it into a `tokenizers` tokenizer as transformers converts LLaMA-3 (the ranks as
merges, ignore_merges, the LLaMA-3 split regex, then ByteLevel), with LLaMA-3's 256 special tokens from id 128000 as
llama_models/llama3/tokenizer.py names them. That tokenizer is saved as a Hugging Face directory (tokenizer.json and
tokenizer_config.json, BOS <|begin_of_text|> added), which `mop tokenize` reads.

Each text (default: the whole WikiText-2 test set, and the 1,000 C4 documents joined by blank lines as
scripts/check-tokenizer.py feeds them) is encoded without BOS by `mop tokenize`, by `tokenizers` and by tiktoken
itself (encode_ordinary, the original), and mop checks decode(encode(s)) == s. Prints one table row per text; exits 1
when anything differs.
"""
import argparse, hashlib, json, os, subprocess, sys, tempfile, time, zipfile

sys.dont_write_bytecode = True  # no __pycache__ in scripts/ (the docs tests read every file there)
from tokenizer_texts import texts

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
mop = os.path.join(root, ".build", "release", "mop")
PACKAGE, WHEEL = "llama-models==0.3.0", "llama_models-0.3.0-py3-none-any.whl"
MEMBER, SIZE = "llama_models/llama3/tokenizer.model", 2183982
SHA256 = "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55"
PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# llama_models/llama3/tokenizer.py: these, then reserved tokens up to 256 in all.
NAMED = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
         "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
         "<|eot_id|>", "<|python_tag|>", "<|image|>"]
SPECIAL = NAMED + [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(NAMED))]


def tiktoken_file():
    """The tiktoken file, downloaded and checked on first use."""
    folder = os.environ.get("MOP_LLAMA3_TOKENIZER") or os.path.join(root, "models", "llama3-tokenizer")
    path = os.path.join(folder, "tokenizer.model")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as download:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PACKAGE, "-d", download],
                           check=True)
            content = zipfile.ZipFile(os.path.join(download, WHEEL)).read(MEMBER)
            if len(content) != SIZE or hashlib.sha256(content).hexdigest() != SHA256:
                sys.exit(f"check-llama3-tokenizer: {MEMBER} of {WHEEL} is not the file this check was written for")
            with open(path + ".partial", "wb") as out:
                out.write(content)
            os.replace(path + ".partial", path)
    return path


def references(path):
    """The `tokenizers` tokenizer transformers converts the file to, and tiktoken's own encoding of it."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe
    from transformers.convert_slow_tokenizer import TikTokenConverter
    converted = TikTokenConverter(vocab_file=path, pattern=PATTERN, extra_special_tokens=SPECIAL).converted()
    ranks = load_tiktoken_bpe(path)
    encoding = tiktoken.Encoding("llama3", pat_str=PATTERN, mergeable_ranks=ranks,
                                 special_tokens={token: len(ranks) + i for i, token in enumerate(SPECIAL)})
    return converted, encoding


def write_directory(tokenizer, directory):
    tokenizer.save(os.path.join(directory, "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": SPECIAL[0], "eos_token": SPECIAL[1],
              "add_bos_token": True, "add_eos_token": False}
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as out:
        json.dump(config, out, indent=2)


def first_difference(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", action="append",
                        help="default: wikitext2-test.txt and c4-sample.jsonl from ../shared/data/text")
    args = parser.parse_args()
    converted, encoding = references(tiktoken_file())
    status = 0
    print("| text | chars | tokens | tokenizers | tiktoken | decoded back | mop's time | tokenizers' time |")
    print("|---|---:|---:|---|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        write_directory(converted, directory)
        for path, text in texts(args.text):
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as f:
                f.write(text)
                f.flush()
                ours = json.loads(subprocess.run([mop, "tokenize", directory, "--text", f.name, "--json"],
                                                 check=True, capture_output=True, text=True).stdout)
            start = time.perf_counter()
            theirs = converted.encode(text, add_special_tokens=False).ids
            seconds = time.perf_counter() - start
            original = encoding.encode_ordinary(text)
            verdicts = []
            for name, ids in (("tokenizers", theirs), ("tiktoken", original)):
                if ids == ours["ids"]:
                    verdicts.append("equal")
                else:
                    status = 1
                    i = first_difference(ours["ids"], ids)
                    print(f"  {name} differs at token {i}: mop {ours['ids'][i:i + 5]}, {name} {ids[i:i + 5]}",
                          file=sys.stderr)
                    verdicts.append("DIFFERENT")
            decoded = "yes" if ours["decodes_back"] else "NO"
            status |= 0 if ours["decodes_back"] else 1
            print(f"| {os.path.basename(path)} | {len(text):,} | {len(ours['ids']):,} | {verdicts[0]} | {verdicts[1]} | "
                  f"{decoded} | {ours['seconds']:.2f} s | {seconds:.2f} s |")
    sys.exit(status)


if __name__ == "__main__":
    main()

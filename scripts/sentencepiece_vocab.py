"""LLaMA's SentencePiece vocabulary from a GGUF of llama.cpp's tokenizer suite, as the files the checks compare mop
with: a tokenizer.model (sentencepiece's ModelProto) and Hugging Face tokenizer.json files built with the `tokenizers`
library. Imported by check-sentencepiece.py, check-tokenizer-json.py, make-tokenizer-json-fixture.py and
bench-tokenizers.py (through check-sentencepiece.py)."""
import os, struct, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def suite_file(name):
    """A file of llama.cpp's tokenizer suite (MOP_TOKENIZER_SUITE, else scripts/fetch-tokenizer-suite.sh)."""
    suite = os.environ.get("MOP_TOKENIZER_SUITE") or subprocess.run(
        [os.path.join(ROOT, "scripts/fetch-tokenizer-suite.sh")], check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(suite, name)


def suite_strings(gguf):
    """The test strings of a suite file's .inp, split as tests/test-tokenizer-0.cpp splits them."""
    raw = open(gguf + ".inp", encoding="utf-8", newline="").read()
    separator = "\n__ggml_vocab_test__\n"
    return raw.split(separator)[:-1] if raw.endswith(separator) else raw.split(separator)


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


def pieces(gguf):
    """(text, score, type) of every piece of a SentencePiece (`llama`) GGUF, in id order."""
    meta = gguf_metadata(gguf)
    return list(zip(meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.scores"], meta["tokenizer.ggml.token_type"]))


def write_model(entries, path, dummy_prefix=True):
    """A tokenizer.model of `entries` ((text, score, type)): BPE with byte fallback, identity normalizer."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    model = pb.ModelProto()
    for text, score, kind in entries:
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = text, score, kind
    model.trainer_spec.model_type = pb.TrainerSpec.BPE
    model.trainer_spec.byte_fallback = True
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = dummy_prefix
    model.normalizer_spec.remove_extra_whitespaces = False
    with open(path, "wb") as out:
        out.write(model.SerializeToString())


def merges(entries, by_score=True):
    """Every split of a normal piece into two normal pieces, as a merge: ordered by the merged piece's score (highest
    first), as transformers 4's LlamaConverter ordered them, or by its id (`by_score` False), as transformers 5's
    generate_merges does without scores."""
    normal = {text: i for i, (text, _, kind) in enumerate(entries) if kind == 1}
    found = []
    for text, i in normal.items():
        for cut in range(1, len(text)):
            left, right = text[:cut], text[cut:]
            if left in normal and right in normal:
                found.append((-entries[i][1] if by_score else i, i, -cut, left, right))
    return [(left, right) for *_, left, right in sorted(found)]


def tokenizer_json(entries, style, by_score=True, added=(), bos="<s>"):
    """A `tokenizers.Tokenizer` of `entries` with BPE and byte fallback, in one of the styles real files take:
    "legacy" (LLaMA-2's tokenizer.json: normalizer Prepend("▁") then Replace(" ", "▁")), "first" or "always"
    (Metaspace with that prepend_scheme, what transformers 5 writes for LLaMA), "gemma" (Replace alone, then Split on
    " "). Control pieces become special added tokens and user-defined ones non-special added tokens, as transformers'
    SentencePieceExtractor makes them; `added` ((text, special)) appends more; the post-processor adds `bos`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    vocab = {text: i for i, (text, _, _) in enumerate(entries)}
    # Gemma's GGUF types its <unk> control, not unknown.
    unknown = next((text for text, _, kind in entries if kind == 2), "<unk>" if "<unk>" in vocab else None)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges(entries, by_score), byte_fallback=True, fuse_unk=True,
                                     unk_token=unknown))
    replace = normalizers.Replace(" ", "▁")
    if style == "legacy":
        tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), replace])
    elif style == "gemma":
        tokenizer.normalizer = replace
        tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=style, split=False)
    steps = [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    tokenizer.decoder = decoders.Sequence(steps + ([] if style == "gemma" else [decoders.Strip(" ", 1, 0)]))
    tokenizer.add_special_tokens([AddedToken(text, normalized=False, special=True)
                                  for text, _, kind in entries if kind == 3])
    tokenizer.add_tokens([AddedToken(text, normalized=False, special=False) for text, _, kind in entries if kind == 4])
    for text, special in added:
        token = AddedToken(text, normalized=False, special=special)
        tokenizer.add_special_tokens([token]) if special else tokenizer.add_tokens([token])
    tokenizer.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                             special_tokens=[(bos, vocab[bos])])
    return tokenizer

// Token ids of a whole text file by llama.cpp's own tokenizer, the reference of scripts/check-tokenizer-llamacpp.sh.
// Only the vocabulary is loaded (any architecture). The text is encoded as one string with add_special (BOS/EOS as
// the GGUF asks) and without parse_special (control tokens written in the text stay text, user-defined ones are still
// matched), as llama.cpp's perplexity and tokenizer tests encode text. "decodes_back": the ids detokenize (BOS/EOS
// removed, special tokens not rendered) to exactly the file's bytes.
//   tokenize MODEL.gguf TEXT_FILE  ->  one JSON line on stdout: {"tokens": N, "decodes_back": B, "ids": [...]}
#include "llama.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static void quiet_log(ggml_log_level, const char *, void *) {}

int main(int argc, char ** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.gguf TEXT_FILE\n", argv[0]);
        return 2;
    }
    std::ifstream file(argv[2], std::ios::binary);
    if (!file) { fprintf(stderr, "tokenize: %s: cannot open\n", argv[2]); return 1; }
    std::stringstream text;
    text << file.rdbuf();
    const std::string content = text.str();

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_params params = llama_model_default_params();
    params.vocab_only = true;
    llama_model * model = llama_model_load_from_file(argv[1], params);
    if (!model) { fprintf(stderr, "tokenize: %s: llama.cpp cannot load the vocabulary\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);

    // At most one token per byte, plus BOS and EOS.
    std::vector<llama_token> ids(content.size() + 2);
    const int count = llama_tokenize(vocab, content.data(), (int32_t) content.size(), ids.data(), (int32_t) ids.size(),
                                     /*add_special*/ true, /*parse_special*/ false);
    if (count < 0) { fprintf(stderr, "tokenize: tokenization failed\n"); return 1; }
    ids.resize(count);

    // A negative result is the size needed (the decoded text can be longer than the input): ask again with it.
    std::string decoded(content.size() + 64, '\0');
    int length = llama_detokenize(vocab, ids.data(), count, decoded.data(), (int32_t) decoded.size(),
                                  /*remove_special*/ true, /*unparse_special*/ false);
    if (length < 0) {
        decoded.resize(-length);
        length = llama_detokenize(vocab, ids.data(), count, decoded.data(), (int32_t) decoded.size(), true, false);
    }
    decoded.resize(length < 0 ? 0 : length);

    printf("{\"tokens\": %d, \"decodes_back\": %s, \"ids\": [", count, decoded == content ? "true" : "false");
    for (int i = 0; i < count; ++i) printf(i ? ",%d" : "%d", ids[i]);
    printf("]}\n");
    llama_model_free(model);
    llama_backend_free();
    return 0;
}

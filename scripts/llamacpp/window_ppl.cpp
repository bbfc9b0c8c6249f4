// Perplexity of a GGUF model computed by llama.cpp with mop's convention (docs/design.md#perplexity): the text's tokens
// (llama.cpp's own tokenizer, no BOS) cut into non-overlapping windows of SEQ_LEN tokens, each window scored on its
// positions 1..SEQ_LEN-1, ppl = exp(mean NLL) accumulated in double. llama-perplexity scores only the second half of
// each window, so its number is not comparable with mop's; this tool is. Used by scripts/check-llamacpp.sh only.
//   window_ppl MODEL.gguf TEXT_FILE SEQ_LEN MAX_TOKENS THREADS  ->  one JSON line on stdout
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static void quiet_log(ggml_log_level, const char *, void *) {}

int main(int argc, char ** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL.gguf TEXT_FILE SEQ_LEN MAX_TOKENS THREADS\n", argv[0]);
        return 2;
    }
    const int seq_len = atoi(argv[3]), max_tokens = atoi(argv[4]), threads = atoi(argv[5]);
    std::ifstream file(argv[2], std::ios::binary);
    if (!file) { fprintf(stderr, "window_ppl: %s: cannot open\n", argv[2]); return 1; }
    std::stringstream text;
    text << file.rdbuf();
    const std::string content = text.str();

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) { fprintf(stderr, "window_ppl: %s: llama.cpp cannot load the model\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);

    std::vector<llama_token> tokens(content.size() + 16);
    const int count = llama_tokenize(vocab, content.data(), (int32_t) content.size(), tokens.data(),
                                     (int32_t) tokens.size(), /*add_special*/ false, /*parse_special*/ false);
    if (count < 0) { fprintf(stderr, "window_ppl: tokenization failed\n"); return 1; }
    tokens.resize(std::min(count, max_tokens));
    const int windows = (int) tokens.size() / seq_len;

    llama_context_params params = llama_context_default_params();
    params.n_ctx = seq_len;
    params.n_batch = seq_len;
    params.n_ubatch = seq_len;
    params.n_threads = threads;
    params.n_threads_batch = threads;
    llama_context * ctx = llama_init_from_model(model, params);
    if (!ctx) { fprintf(stderr, "window_ppl: cannot create a context\n"); return 1; }
    const int vocab_size = llama_vocab_n_tokens(vocab);

    llama_batch batch = llama_batch_init(seq_len, 0, 1);
    double nll = 0;
    long scored = 0;
    double best_seconds = INFINITY;
    for (int w = 0; w < windows; ++w) {
        const auto start = std::chrono::steady_clock::now();
        llama_memory_clear(llama_get_memory(ctx), true);
        batch.n_tokens = seq_len;
        for (int i = 0; i < seq_len; ++i) {
            batch.token[i] = tokens[w * seq_len + i];
            batch.pos[i] = i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = i < seq_len - 1;
        }
        if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "window_ppl: decode failed\n"); return 1; }
        for (int i = 0; i < seq_len - 1; ++i) {
            const float * logits = llama_get_logits_ith(ctx, i);
            double max_logit = logits[0];
            for (int v = 1; v < vocab_size; ++v) max_logit = std::max(max_logit, (double) logits[v]);
            double sum = 0;
            for (int v = 0; v < vocab_size; ++v) sum += std::exp((double) logits[v] - max_logit);
            nll += std::log(sum) + max_logit - logits[tokens[w * seq_len + i + 1]];
            ++scored;
        }
        best_seconds = std::min(best_seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        fprintf(stderr, "window_ppl: window %d of %d\n", w + 1, windows);
    }
    std::string system = llama_print_system_info();
    std::replace(system.begin(), system.end(), '"', '\'');
    printf("{\"perplexity\": %.6f, \"tokens\": %d, \"scored\": %ld, \"seq_len\": %d, \"best_window_seconds\": %.6f, "
           "\"system\": \"%s\"}\n",
           std::exp(nll / (double) scored), windows * seq_len, scored, seq_len, best_seconds, system.c_str());
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}

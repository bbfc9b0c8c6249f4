// Decode speed of llama.cpp on a GGUF model with mop's latency protocol (`mop bench`): a prompt of PROMPT_TOKENS
// tokens prefilled in one batch, then NEW_TOKENS tokens decoded one at a time, greedily (argmax), the KV cache
// cleared between runs. Prints one JSON line per run: prefill and decode seconds and decode tokens/s, then one line
// with llama.cpp's CPU features ("system").
// Used by scripts/bench-decode-vs-llamacpp.sh only.
//   decode_speed MODEL.gguf PROMPT_TOKENS NEW_TOKENS THREADS RUNS
#include "llama.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static void quiet_log(ggml_log_level, const char *, void *) {}

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char ** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT_TOKENS NEW_TOKENS THREADS RUNS\n", argv[0]);
        return 2;
    }
    const int prompt_tokens = atoi(argv[2]), new_tokens = atoi(argv[3]), threads = atoi(argv[4]), runs = atoi(argv[5]);
    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) { fprintf(stderr, "decode_speed: %s: llama.cpp cannot load the model\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int vocab_size = llama_vocab_n_tokens(vocab);

    llama_context_params params = llama_context_default_params();
    params.n_ctx = prompt_tokens + new_tokens + 1;
    params.n_batch = prompt_tokens;
    params.n_threads = threads;
    params.n_threads_batch = threads;
    llama_context * ctx = llama_init_from_model(model, params);
    if (!ctx) { fprintf(stderr, "decode_speed: cannot create a context\n"); return 1; }

    // mop's prompt text, tokenized by llama.cpp and repeated to the prompt length.
    const char * text = "The quick brown fox jumps over the lazy dog, and then it runs far away into the ";
    std::vector<llama_token> once(256);
    const int n = llama_tokenize(vocab, text, 80, once.data(), (int32_t) once.size(), false, false);
    if (n <= 0) { fprintf(stderr, "decode_speed: tokenization failed\n"); return 1; }
    std::vector<llama_token> prompt(prompt_tokens);
    for (int i = 0; i < prompt_tokens; ++i) prompt[i] = once[i % n];

    auto argmax = [&](const float * logits) {
        int best = 0;
        for (int v = 1; v < vocab_size; ++v) if (logits[v] > logits[best]) best = v;
        return best;
    };
    for (int run = 0; run < runs; ++run) {
        llama_memory_clear(llama_get_memory(ctx), true);
        const double start = now();
        if (llama_decode(ctx, llama_batch_get_one(prompt.data(), prompt_tokens)) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
        llama_token token = argmax(llama_get_logits_ith(ctx, -1));
        const double prefilled = now();
        for (int i = 1; i < new_tokens; ++i) {
            if (llama_decode(ctx, llama_batch_get_one(&token, 1)) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
            token = argmax(llama_get_logits_ith(ctx, -1));
        }
        const double end = now();
        printf("{\"prefill_seconds\": %.6f, \"decode_seconds\": %.6f, \"decode_tokens_per_second\": %.3f}\n",
               prefilled - start, end - prefilled, (new_tokens - 1) / (end - prefilled));
        fflush(stdout);
    }
    std::string system = llama_print_system_info();
    for (char & c : system) if (c == '"') c = '\'';
    printf("{\"system\": \"%s\"}\n", system.c_str());
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}

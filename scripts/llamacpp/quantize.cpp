// llama.cpp's own quantizer (llama_model_quantize, what the llama-quantize tool calls), without an importance matrix,
// the reference of scripts/check-kquant.sh.
//   quantize INPUT.gguf OUTPUT.gguf FTYPE   (FTYPE: the llama_ftype number, e.g. 15 for Q4_K_M)
#include "llama.h"

#include <cstdio>
#include <cstdlib>

static void quiet_log(ggml_log_level, const char *, void *) {}

int main(int argc, char ** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s INPUT.gguf OUTPUT.gguf FTYPE\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_quantize_params params = llama_model_quantize_default_params();
    params.ftype = (llama_ftype) atoi(argv[3]);
    params.nthread = 2;
    const uint32_t failed = llama_model_quantize(argv[1], argv[2], &params);
    llama_backend_free();
    if (failed) { fprintf(stderr, "quantize: llama_model_quantize failed for %s\n", argv[1]); return 1; }
    return 0;
}

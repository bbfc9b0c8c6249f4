// ggml's own block encoders on given rows, the reference of scripts/make-kquant-fixture.py: ggml_quantize_chunk, the
// call llama-quantize makes per tensor, so without an importance the reference encoders (quantize_row_q4_K_ref...)
// and with one the imatrix encoders (quantize_row_q4_K_impl...).
//   quantize_rows TYPE COLUMNS ROWS.f32 [IMPORTANCE.f32]  ->  the encoded bytes on stdout
// ROWS.f32: little-endian float32 values, whole rows of COLUMNS; IMPORTANCE.f32: COLUMNS float32 values.
#include "ggml.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

static std::vector<float> read_floats(const char * path) {
    std::ifstream file(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::vector<float> values(bytes.size() / sizeof(float));
    memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
    return values;
}

int main(int argc, char ** argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s TYPE COLUMNS ROWS.f32 [IMPORTANCE.f32]\n", argv[0]);
        return 2;
    }
    int type = -1;
    for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
        const char * name = ggml_type_name((ggml_type) t);
        if (name && strcasecmp(name, argv[1]) == 0) type = t;
    }
    if (type < 0) { fprintf(stderr, "quantize_rows: unknown type %s\n", argv[1]); return 2; }
    const long columns = atol(argv[2]);
    const std::vector<float> rows = read_floats(argv[3]);
    if (columns <= 0 || rows.size() % columns != 0 || columns % ggml_blck_size((ggml_type) type) != 0) {
        fprintf(stderr, "quantize_rows: %zu values are not rows of %ld whole %s blocks\n", rows.size(), columns, argv[1]);
        return 2;
    }
    std::vector<float> importance;
    if (argc == 5) {
        importance = read_floats(argv[4]);
        if ((long) importance.size() != columns) { fprintf(stderr, "quantize_rows: %zu importances for %ld columns\n", importance.size(), columns); return 2; }
    }
    const long nrows = rows.size() / columns;
    std::vector<char> out(ggml_row_size((ggml_type) type, columns) * nrows);
    const size_t written = ggml_quantize_chunk((ggml_type) type, rows.data(), out.data(), 0, nrows, columns,
                                               importance.empty() ? nullptr : importance.data());
    fwrite(out.data(), 1, written, stdout);
    return 0;
}

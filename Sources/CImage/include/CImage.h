#ifndef MOP_CIMAGE_H
#define MOP_CIMAGE_H

#include <stddef.h>

/// Decodes the PNG or JPEG file at `path` (told apart by their signatures) to 8-bit RGB rows, top row first:
/// *pixels receives width * height * 3 bytes from malloc, which the caller frees. A PNG's alpha is composited onto
/// white and gray or palette images become RGB, as transformers' `convert_rgb` does; a JPEG in CMYK is refused.
/// Returns 0, or -1 with a message of at most `error_size` bytes in `error` (never a partial image).
int mop_decode_image(const char *path, unsigned char **pixels, int *width, int *height, char *error, size_t error_size);

#endif

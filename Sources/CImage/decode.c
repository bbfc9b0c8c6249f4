// PNG through libpng's simplified API, JPEG through libjpeg(-turbo): the libraries Pillow itself decodes with, so a
// JPEG's pixels (islow DCT, fancy upsampling: both libraries' defaults) equal those transformers' processor sees.
#include "CImage.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static int fail(char *error, size_t size, const char *message, const char *detail) {
    snprintf(error, size, "%s%s%s", message, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static int decode_png(const char *path, unsigned char **pixels, int *width, int *height, char *error, size_t size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) return fail(error, size, "not a readable PNG", image.message);
    image.format = PNG_FORMAT_RGB;
    if (image.width == 0 || image.height == 0 || image.width > 65535 || image.height > 65535) {
        png_image_free(&image);
        return fail(error, size, "PNG dimensions outside 1...65535", NULL);
    }
    unsigned char *buffer = malloc(PNG_IMAGE_SIZE(image));
    if (!buffer) {
        png_image_free(&image);
        return fail(error, size, "out of memory for the PNG's pixels", NULL);
    }
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&image, &white, buffer, 0, NULL)) {
        free(buffer);
        return fail(error, size, "corrupt PNG", image.message);
    }
    *pixels = buffer;
    *width = (int)image.width;
    *height = (int)image.height;
    return 0;
}

struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
};

static void jpeg_exit(j_common_ptr info) {
    longjmp(((struct jpeg_failure *)info->err)->jump, 1);
}

static int decode_jpeg(FILE *file, unsigned char **pixels, int *width, int *height, char *error, size_t size) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_exit;
    if (setjmp(failure.jump)) {
        char message[JMSG_LENGTH_MAX];
        failure.manager.format_message((j_common_ptr)&info, message);
        jpeg_destroy_decompress(&info);
        free(buffer);
        return fail(error, size, "corrupt JPEG", message);
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&info);
        return fail(error, size, "CMYK JPEG is not supported", NULL);
    }
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    if (info.output_width == 0 || info.output_height == 0 || info.output_width > 65535 || info.output_height > 65535) {
        jpeg_destroy_decompress(&info);
        return fail(error, size, "JPEG dimensions outside 1...65535", NULL);
    }
    size_t stride = (size_t)info.output_width * 3;
    buffer = malloc(stride * info.output_height);
    if (!buffer) {
        jpeg_destroy_decompress(&info);
        return fail(error, size, "out of memory for the JPEG's pixels", NULL);
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = buffer + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    jpeg_destroy_decompress(&info);
    *pixels = buffer;
    return 0;
}

int mop_decode_image(const char *path, unsigned char **pixels, int *width, int *height, char *error, size_t error_size) {
    FILE *file = fopen(path, "rb");
    if (!file) return fail(error, error_size, "cannot open the image", NULL);
    unsigned char signature[8] = {0};
    size_t read = fread(signature, 1, sizeof signature, file);
    int result;
    if (read == 8 && memcmp(signature, "\x89PNG\r\n\x1a\n", 8) == 0) {
        fclose(file);
        return decode_png(path, pixels, width, height, error, error_size);
    }
    if (read >= 3 && signature[0] == 0xFF && signature[1] == 0xD8 && signature[2] == 0xFF) {
        rewind(file);
        result = decode_jpeg(file, pixels, width, height, error, error_size);
        fclose(file);
        return result;
    }
    fclose(file);
    return fail(error, error_size, "neither a PNG nor a JPEG (no signature of either)", NULL);
}

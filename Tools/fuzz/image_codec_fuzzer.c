/*
 * libFuzzer harness for the C image decoders (Sources/CImageCodecs): fk_png_decode,
 * fk_jpeg_decode and fk_exif_orientation. Built by Tools/fuzz/run-image-fuzzer with
 * -fsanitize=fuzzer,address,undefined and -DFK_FUZZ_PNG or -DFK_FUZZ_JPEG.
 *
 * Besides crashes and sanitizer reports, it aborts when a decode that reports success
 * breaks the shim's contract (sizes, channels, byte count, limits, orientation range) or a
 * failure leaves no message.
 *
 * With -DFK_FUZZ_SEEDS it is instead a program that writes a small seed corpus into the
 * folder named by its argument.
 */

#include "image_codecs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small limits keep libFuzzer's RSS limit out of the way. */
#define FUZZ_MAX_BYTES (16u << 20)
#define FUZZ_MAX_PIXELS (4u << 20)

static void check(int condition, const char *what) {
    if (!condition) {
        fprintf(stderr, "contract broken: %s\n", what);
        abort();
    }
}

static void check_result(fk_status status, const fk_decoded_image *image) {
    check(memchr(image->message, 0, FK_MESSAGE_CAPACITY) != NULL, "message not terminated");
    check(memchr(image->warning, 0, FK_MESSAGE_CAPACITY) != NULL, "warning not terminated");
    check(image->exif_orientation <= 8, "orientation out of range");
    if (status != FK_OK) {
        check(image->pixels == NULL, "pixels after a failure");
        check(image->message[0] != '\0', "failure without a message");
        return;
    }
    check(image->pixels != NULL, "success without pixels");
    check(image->width >= 1 && image->height >= 1, "empty image");
    check(image->width <= FK_MAX_DIMENSION && image->height <= FK_MAX_DIMENSION, "dimension limit");
    check((uint64_t)image->width * image->height <= FUZZ_MAX_PIXELS, "pixel limit");
    check(image->channels >= 1 && image->channels <= 4, "channels");
    check(image->bit_depth == 8 || image->bit_depth == 16, "bit depth");
    uint64_t expected = (uint64_t)image->width * image->height * image->channels * (image->bit_depth / 8);
    check(image->byte_count == expected, "byte count");
    check(expected <= FUZZ_MAX_BYTES, "byte limit");
    /* Touch every byte, so that ASan sees a buffer shorter than claimed. */
    const volatile uint8_t *p = (const uint8_t *)image->pixels;
    uint8_t sum = 0;
    for (size_t i = 0; i < image->byte_count; i++) sum ^= p[i];
    (void)sum;
}

#ifndef FK_FUZZ_SEEDS

#if defined(FK_FUZZ_PNG)
#include <zlib.h>

/* The libraries are not instrumented, so libFuzzer cannot learn PNG's CRCs: when the first
 * last input byte is even, every chunk that lies wholly inside the input gets its CRC recomputed
 * (in a copy), so that mutations reach libpng's chunk parsers and the image data. */
static uint8_t *with_fixed_crcs(const uint8_t *data, size_t size) {
    uint8_t *copy = (uint8_t *)malloc(size ? size : 1);
    if (copy == NULL) abort();
    memcpy(copy, data, size);
    size_t offset = 8;
    while (size >= 12 && offset <= size - 12) {
        uint32_t length = (uint32_t)copy[offset] << 24 | (uint32_t)copy[offset + 1] << 16 |
                          (uint32_t)copy[offset + 2] << 8 | copy[offset + 3];
        if (length > size - offset - 12) break;
        uint32_t crc = (uint32_t)crc32(0L, copy + offset + 4, (uInt)length + 4);
        uint8_t *at = copy + offset + 8 + length;
        at[0] = (uint8_t)(crc >> 24); at[1] = (uint8_t)(crc >> 16); at[2] = (uint8_t)(crc >> 8); at[3] = (uint8_t)crc;
        offset += 12 + (size_t)length;
    }
    return copy;
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
    fk_decoded_image image;
    const uint8_t *data = input;
#if defined(FK_FUZZ_PNG)
    uint8_t *fixed = NULL;
    if (size > 8 && (data[size - 1] & 1) == 0) {
        fixed = with_fixed_crcs(input, size);
        data = fixed;
    }
    fk_status status = fk_png_decode(data, size, FUZZ_MAX_BYTES, FUZZ_MAX_PIXELS, &image);
#elif defined(FK_FUZZ_JPEG)
    fk_status status = fk_jpeg_decode(data, size, FUZZ_MAX_BYTES, FUZZ_MAX_PIXELS, &image);
#else
#error "define FK_FUZZ_PNG or FK_FUZZ_JPEG"
#endif
    check_result(status, &image);
    fk_free(image.pixels);
#if defined(FK_FUZZ_PNG)
    free(fixed);
#endif
    /* The EXIF parser on its own, on raw bytes (a TIFF block). */
    check(fk_exif_orientation(input, size) <= 8, "orientation out of range");
    return 0;
}

#else

static void write_file(const char *folder, const char *name, const void *data, size_t size) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", folder, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(data, 1, size, file) != size) {
        perror(path);
        exit(1);
    }
    fclose(file);
}

static uint8_t *pattern(uint32_t width, uint32_t height, uint32_t channels, uint32_t bytes_per_sample) {
    size_t count = (size_t)width * height * channels * bytes_per_sample;
    uint8_t *samples = (uint8_t *)malloc(count);
    for (size_t i = 0; i < count; i++) samples[i] = (uint8_t)(i * 37 + (i / 7) * 11);
    return samples;
}

/* An APP1 EXIF segment with Orientation `orientation` spliced after SOI. */
static void write_jpeg_with_exif(const char *folder, const char *name, const fk_encoded_file *jpeg, int orientation,
                                 int big_endian) {
    uint8_t exif[64];
    size_t n = 0;
    const uint8_t header[6] = {'E', 'x', 'i', 'f', 0, 0};
    memcpy(exif, header, 6);
    n = 6;
#define PUT16(v) do { uint16_t v_ = (uint16_t)(v); if (big_endian) { exif[n++] = v_ >> 8; exif[n++] = v_ & 0xFF; } \
                      else { exif[n++] = v_ & 0xFF; exif[n++] = v_ >> 8; } } while (0)
#define PUT32(v) do { uint32_t w_ = (uint32_t)(v); if (big_endian) { PUT16(w_ >> 16); PUT16(w_ & 0xFFFF); } \
                      else { PUT16(w_ & 0xFFFF); PUT16(w_ >> 16); } } while (0)
    exif[n++] = big_endian ? 'M' : 'I';
    exif[n++] = big_endian ? 'M' : 'I';
    PUT16(42);
    PUT32(8);
    PUT16(1);
    PUT16(0x0112);
    PUT16(3);
    PUT32(1);
    PUT16(orientation);
    PUT16(0);
    PUT32(0);
    size_t total = jpeg->size + 4 + n;
    uint8_t *file = (uint8_t *)malloc(total);
    memcpy(file, jpeg->data, 2);
    file[2] = 0xFF;
    file[3] = 0xE1;
    file[4] = (uint8_t)((n + 2) >> 8);
    file[5] = (uint8_t)((n + 2) & 0xFF);
    memcpy(file + 6, exif, n);
    memcpy(file + 6 + n, (const uint8_t *)jpeg->data + 2, jpeg->size - 2);
    write_file(folder, name, file, total);
    free(file);
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "png") != 0 && strcmp(argv[1], "jpeg") != 0)) {
        fprintf(stderr, "usage: %s png|jpeg FOLDER\n", argv[0]);
        return 2;
    }
    const char *folder = argv[2];
    char name[64];
    if (strcmp(argv[1], "png") == 0) {
        const struct { int color_type, bit_depth, interlaced, channels; } layouts[] = {
            {FK_PNG_GRAY, 1, 0, 1}, {FK_PNG_GRAY, 2, 1, 1}, {FK_PNG_GRAY, 8, 0, 1}, {FK_PNG_GRAY, 16, 1, 1},
            {FK_PNG_GRAY_ALPHA, 8, 0, 2}, {FK_PNG_RGB, 8, 1, 3}, {FK_PNG_RGB, 16, 0, 3}, {FK_PNG_RGBA, 8, 0, 4},
            {FK_PNG_RGBA, 16, 1, 4}, {FK_PNG_PALETTE, 4, 0, 1}, {FK_PNG_PALETTE, 8, 1, 1},
        };
        uint8_t palette[48], alpha[4] = {0, 64, 128, 255};
        for (int i = 0; i < 48; i++) palette[i] = (uint8_t)(i * 5);
        for (size_t k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
            fk_png_encode_options o;
            memset(&o, 0, sizeof(o));
            o.width = 13;
            o.height = 9;
            o.color_type = layouts[k].color_type;
            o.bit_depth = layouts[k].bit_depth;
            o.interlaced = layouts[k].interlaced;
            o.compression_level = -1;
            uint32_t bytes = layouts[k].bit_depth == 16 ? 2 : 1;
            uint8_t *samples = pattern(o.width, o.height, (uint32_t)layouts[k].channels, bytes);
            if (layouts[k].bit_depth < 8 || o.color_type == FK_PNG_PALETTE) {
                uint32_t top = o.color_type == FK_PNG_PALETTE ? 16u : (1u << layouts[k].bit_depth);
                for (size_t i = 0; i < (size_t)o.width * o.height; i++) samples[i] %= top;
            }
            if (o.color_type == FK_PNG_PALETTE) {
                o.palette = palette;
                o.palette_count = 16;
                o.palette_alpha = alpha;
                o.palette_alpha_count = 4;
            }
            if (o.color_type == FK_PNG_GRAY && o.bit_depth == 8) {
                o.has_transparent_key = 1;
                o.transparent_key[0] = 7;
            }
            fk_encoded_file out;
            if (fk_png_encode(samples, &o, &out) != FK_OK) {
                fprintf(stderr, "encode %zu: %s\n", k, out.message);
                return 1;
            }
            snprintf(name, sizeof(name), "seed-%02zu.png", k);
            write_file(folder, name, out.data, out.size);
            fk_free(out.data);
            free(samples);
        }
    } else {
        for (int channels = 1; channels <= 3; channels += 2) {
            for (int quality = 30; quality <= 100; quality += 35) {
                uint8_t *samples = pattern(21, 14, (uint32_t)channels, 1);
                fk_encoded_file out;
                if (fk_jpeg_encode(samples, 21, 14, (uint32_t)channels, quality, &out) != FK_OK) {
                    fprintf(stderr, "encode: %s\n", out.message);
                    return 1;
                }
                snprintf(name, sizeof(name), "seed-c%d-q%d.jpg", channels, quality);
                write_file(folder, name, out.data, out.size);
                snprintf(name, sizeof(name), "seed-c%d-q%d-exif6-mm.jpg", channels, quality);
                write_jpeg_with_exif(folder, name, &out, 6, 1);
                snprintf(name, sizeof(name), "seed-c%d-q%d-exif8-ii.jpg", channels, quality);
                write_jpeg_with_exif(folder, name, &out, 8, 0);
                fk_free(out.data);
                free(samples);
            }
        }
    }
    return 0;
}

#endif

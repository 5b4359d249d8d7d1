#ifndef FUSIONKIT_IMAGE_CODECS_H
#define FUSIONKIT_IMAGE_CODECS_H

/*
 * PNG and JPEG codecs behind a C shim.
 *
 * libpng and libjpeg report errors by longjmp. Every longjmp target lives in these C
 * functions, so a damaged file never unwinds through Swift frames: each function returns a
 * status code and, on failure, a NUL-terminated message in `message`. Neither library prints
 * anything: warnings are collected (the first one is kept in `warning`).
 *
 * Everything works on memory buffers; the caller does the file I/O.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FK_MESSAGE_CAPACITY 256

/* The largest width or height accepted by the decoders. */
#define FK_MAX_DIMENSION 65535u

/* Every decoder takes two limits, both checked from the header before the pixel buffer is
 * allocated: `max_bytes`, the size of the decoded samples, and `max_pixels`, width * height
 * (FK_ERROR_TOO_LARGE with a message naming both sizes in megapixels). */

typedef enum fk_status {
    FK_OK = 0,
    /* The data is not a valid file of the format (damaged, truncated, wrong magic). */
    FK_ERROR_DAMAGED = 1,
    /* Valid, but uses a feature the shim does not decode (e.g. CMYK JPEG). */
    FK_ERROR_UNSUPPORTED = 2,
    /* The declared size is above FK_MAX_DIMENSION or the caller's byte or pixel limit. */
    FK_ERROR_TOO_LARGE = 3,
    /* Out of memory. */
    FK_ERROR_NO_MEMORY = 4,
    /* The caller passed an invalid argument (encoders: size, bit depth, palette...). */
    FK_ERROR_ARGUMENT = 5,
} fk_status;

/* A decoded image: samples interleaved row-major, no row padding. 16-bit samples are
 * uint16_t in host byte order. `pixels` is malloc'd; release it with fk_free. */
typedef struct fk_decoded_image {
    void *pixels;
    size_t byte_count;
    uint32_t width;
    uint32_t height;
    uint32_t channels;  /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    uint32_t bit_depth; /* 8 or 16 */
    /* The EXIF Orientation (1...8) found in the file (JPEG APP1 "Exif", PNG eXIf), or 0 when
     * there is none or it cannot be read. The pixels are as stored: NOT rotated. */
    uint32_t exif_orientation;
    char message[FK_MESSAGE_CAPACITY];
    char warning[FK_MESSAGE_CAPACITY]; /* first warning, empty when none */
} fk_decoded_image;

/* An encoded file. `data` is malloc'd; release it with fk_free. */
typedef struct fk_encoded_file {
    void *data;
    size_t size;
    char message[FK_MESSAGE_CAPACITY];
} fk_encoded_file;

void fk_free(void *pointer);

/* --- PNG -------------------------------------------------------------------------------- */

/* Decodes a PNG. Palette images become RGB (RGBA with tRNS), grey below 8 bits becomes 8-bit
 * (scaled: a 1-bit 1 becomes 255), tRNS on grey/RGB becomes an alpha channel, 16-bit stays
 * 16-bit. No gamma or colour-profile correction is applied. Images whose width or height is
 * above FK_MAX_DIMENSION, or whose decoded size is above `max_bytes`, are rejected before
 * the pixel buffer is allocated, as are those above `max_pixels`. An eXIf chunk before the image
 * data gives `exif_orientation`. */
fk_status fk_png_decode(const void *data, size_t size, uint64_t max_bytes, uint64_t max_pixels,
                        fk_decoded_image *out);

/* PNG colour types, as in the IHDR chunk. */
enum {
    FK_PNG_GRAY = 0,
    FK_PNG_RGB = 2,
    FK_PNG_PALETTE = 3,
    FK_PNG_GRAY_ALPHA = 4,
    FK_PNG_RGBA = 6,
};

typedef struct fk_png_encode_options {
    uint32_t width;
    uint32_t height;
    int color_type;        /* FK_PNG_* */
    int bit_depth;         /* 1, 2, 4, 8 or 16, as PNG allows for the colour type */
    int interlaced;        /* nonzero: Adam7 */
    int compression_level; /* 0...9, or -1 for zlib's default */
    /* FK_PNG_PALETTE: palette_count RGB triples, and optionally a tRNS alpha per entry. */
    const uint8_t *palette;
    int palette_count;
    const uint8_t *palette_alpha;
    int palette_alpha_count;
    /* FK_PNG_GRAY / FK_PNG_RGB: a tRNS colour key (grey uses transparent_key[0]). */
    int has_transparent_key;
    uint16_t transparent_key[3];
} fk_png_encode_options;

/* Encodes `samples` (width*height*channels of them, interleaved) as PNG. Samples are one byte
 * each for bit depths up to 8 (palette indices for FK_PNG_PALETTE; values below 8 bits are
 * packed by libpng) and host-order uint16_t for 16 bits. */
fk_status fk_png_encode(const void *samples, const fk_png_encode_options *options, fk_encoded_file *out);

/* --- JPEG ------------------------------------------------------------------------------- */

/* Decodes a baseline or progressive 8-bit JPEG to grey (1 channel) or RGB (3 channels).
 * CMYK/YCCK files are rejected with FK_ERROR_UNSUPPORTED. A scan whose data ends early (at
 * the end of the file or at a marker) is an error, where libjpeg alone would pad the image
 * with grey and only warn; a file that lacks only its final EOI marker decodes. The first APP1
 * segment that starts with "Exif\0\0" gives `exif_orientation`. */
fk_status fk_jpeg_decode(const void *data, size_t size, uint64_t max_bytes, uint64_t max_pixels,
                         fk_decoded_image *out);

/* Encodes 8-bit grey (channels 1) or RGB (channels 3) samples as a baseline JFIF JPEG
 * with quality 1...100 (4:2:0 chroma subsampling, libjpeg's default). */
fk_status fk_jpeg_encode(const uint8_t *samples, uint32_t width, uint32_t height, uint32_t channels,
                         int quality, fk_encoded_file *out);

/* --- EXIF ------------------------------------------------------------------------------- */

/* The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block (what follows
 * "Exif\0\0" in a JPEG APP1 segment, or a PNG eXIf chunk), in either byte order: 1...8, or 0
 * when the block has none or is damaged (every offset is bounds-checked). */
uint32_t fk_exif_orientation(const void *tiff, size_t size);

#ifdef __cplusplus
}
#endif

#endif

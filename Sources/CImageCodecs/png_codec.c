/*
 * PNG decoding and encoding with libpng, from and to memory.
 *
 * libpng reports errors by longjmp. Each setjmp lives in a function whose only local state is
 * a pointer to a context struct that is not modified after the setjmp, so nothing is left
 * indeterminate after a longjmp (C11 7.13.2.1); all resources hang off the context and are
 * released by the caller.
 */

#include "image_codecs.h"
#include "codec_limits.h"

#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ancillary chunks (text, ICC profiles...) may not allocate more than this each. */
#define FK_PNG_CHUNK_MALLOC_MAX (16u * 1024u * 1024u)
/* At most this many ancillary chunks are kept (libpng's default is 1000). */
#define FK_PNG_CHUNK_CACHE_MAX 1000u
/* deflate cannot expand data by more than 1032:1 (one 1-bit length code plus one 1-bit
 * distance code per 258-byte match), so a PNG of n bytes holds at most this much image data. */
#define FK_DEFLATE_MAX_RATIO 1032u

void fk_free(void *pointer) { free(pointer); }

static void set_message(char *buffer, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(buffer, FK_MESSAGE_CAPACITY, format, arguments);
    va_end(arguments);
}

static int host_is_little_endian(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

static uint32_t read_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* --- decoding --------------------------------------------------------------------------- */

typedef struct png_decoder {
    const uint8_t *data;
    size_t size;
    size_t offset;
    uint64_t max_bytes;
    uint64_t max_pixels;
    fk_decoded_image *out;
    fk_status status; /* reported when libpng longjmps */
    char last_warning[FK_MESSAGE_CAPACITY];
    png_structp png;
    png_infop info;
    uint8_t *pixels;
    png_bytep *rows;
} png_decoder;

static void decoder_error(png_structp png, png_const_charp message) {
    png_decoder *decoder = (png_decoder *)png_get_error_ptr(png);
    /* png_check_IHDR gives the reason as a warning and then fails with this generic text. */
    if (strcmp(message, "Invalid IHDR data") == 0 && decoder->last_warning[0] != '\0') {
        set_message(decoder->out->message, "%s (%s)", message, decoder->last_warning);
    } else if (strcmp(message, "Out of memory") == 0 || strcmp(message, "Insufficient memory") == 0) {
        decoder->status = FK_ERROR_NO_MEMORY;
        set_message(decoder->out->message, "%s", message);
    } else {
        set_message(decoder->out->message, "%s", message);
    }
    png_longjmp(png, 1);
}

static void decoder_warning(png_structp png, png_const_charp message) {
    png_decoder *decoder = (png_decoder *)png_get_error_ptr(png);
    if (decoder->out->warning[0] == '\0') set_message(decoder->out->warning, "%s", message);
    set_message(decoder->last_warning, "%s", message);
}

static void decoder_read(png_structp png, png_bytep destination, size_t length) {
    png_decoder *decoder = (png_decoder *)png_get_io_ptr(png);
    if (length > decoder->size - decoder->offset) {
        png_error(png, "unexpected end of data (the file is truncated)");
    }
    memcpy(destination, decoder->data + decoder->offset, length);
    decoder->offset += length;
}

/* Everything that may longjmp. Returns FK_OK or the status of the failure. */
static fk_status png_decode_body(png_decoder *decoder) {
    if (setjmp(png_jmpbuf(decoder->png))) return decoder->status;
    png_structp png = decoder->png;
    png_infop info = decoder->info;
    fk_decoded_image *out = decoder->out;

    png_set_read_fn(png, decoder, decoder_read);
    png_set_user_limits(png, FK_MAX_DIMENSION, FK_MAX_DIMENSION);
    png_set_chunk_malloc_max(png, FK_PNG_CHUNK_MALLOC_MAX);
    png_set_chunk_cache_max(png, FK_PNG_CHUNK_CACHE_MAX);
    /* Only IHDR, PLTE, tRNS, IDAT and IEND matter for the samples; skipping every other
     * chunk (ICC profiles, compressed text...) avoids work and warnings about them. */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
#ifdef PNG_eXIf_SUPPORTED
    /* ...except eXIf, for its Orientation tag. */
    static const png_byte exif_chunk[5] = {'e', 'X', 'I', 'f', '\0'};
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_AS_DEFAULT, exif_chunk, 1);
#endif

    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    int raw_channels = png_get_channels(png, info);
    if (!fk_within_pixel_limit(width, height, decoder->max_pixels, out->message)) return FK_ERROR_TOO_LARGE;
#ifdef PNG_eXIf_SUPPORTED
    png_uint_32 exif_size = 0;
    png_bytep exif = NULL;
    if ((png_get_eXIf_1(png, info, &exif_size, &exif) & PNG_INFO_eXIf) != 0 && exif != NULL) {
        out->exif_orientation = fk_exif_orientation(exif, exif_size);
    }
#endif

    /* The filtered image data must come out of the IDAT bytes, which are inside the file. */
    uint64_t raw_row_bytes = ((uint64_t)width * (uint64_t)raw_channels * (uint64_t)bit_depth + 7) / 8;
    uint64_t raw_bytes = (uint64_t)height * (raw_row_bytes + 1);
    if (raw_bytes > (uint64_t)decoder->size * FK_DEFLATE_MAX_RATIO) {
        set_message(out->message, "%ux%u image data cannot fit in a %zu-byte file (truncated or damaged)",
                    (unsigned)width, (unsigned)height, decoder->size);
        return FK_ERROR_DAMAGED;
    }

    png_set_expand(png); /* palette -> RGB, grey 1/2/4 -> 8 bits, tRNS -> alpha */
    if (bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    uint32_t channels = png_get_channels(png, info);
    uint32_t depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((depth != 8 && depth != 16) || channels < 1 || channels > 4 ||
        row_bytes != (size_t)width * channels * (depth / 8)) {
        set_message(out->message, "unexpected layout after expansion (%u channels, %u bits)", channels, depth);
        return FK_ERROR_UNSUPPORTED;
    }
    uint64_t byte_count = (uint64_t)row_bytes * height;
    if (byte_count > decoder->max_bytes || byte_count > SIZE_MAX / 2) {
        set_message(out->message, "image is %ux%u with %u %u-bit channels (%llu bytes), larger than the supported %llu bytes",
                    (unsigned)width, (unsigned)height, channels, depth,
                    (unsigned long long)byte_count, (unsigned long long)decoder->max_bytes);
        return FK_ERROR_TOO_LARGE;
    }

    decoder->pixels = (uint8_t *)malloc((size_t)byte_count);
    decoder->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (decoder->pixels == NULL || decoder->rows == NULL) {
        set_message(out->message, "out of memory for a %ux%u image", (unsigned)width, (unsigned)height);
        return FK_ERROR_NO_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) decoder->rows[y] = decoder->pixels + (size_t)y * row_bytes;
    png_read_image(png, decoder->rows);
    /* No png_read_end: the chunks after the image data carry nothing we use, so a file that
     * lost only its IEND still decodes. */

    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = depth;
    out->byte_count = (size_t)byte_count;
    return FK_OK;
}

fk_status fk_png_decode(const void *data, size_t size, uint64_t max_bytes, uint64_t max_pixels,
                        fk_decoded_image *out) {
    memset(out, 0, sizeof(*out));
    const uint8_t *bytes = (const uint8_t *)data;
    if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0) {
        set_message(out->message, "not a PNG file (bad signature)");
        return FK_ERROR_DAMAGED;
    }
    /* Report an oversized IHDR in our own words before libpng rejects it with a generic
     * "Invalid IHDR data" (the reason only goes to a warning). */
    if (size >= 24 && memcmp(bytes + 12, "IHDR", 4) == 0) {
        uint32_t width = read_be32(bytes + 16), height = read_be32(bytes + 20);
        if (width > FK_MAX_DIMENSION || height > FK_MAX_DIMENSION) {
            set_message(out->message, "image is %ux%u, larger than the supported %ux%u",
                        (unsigned)width, (unsigned)height, FK_MAX_DIMENSION, FK_MAX_DIMENSION);
            return FK_ERROR_TOO_LARGE;
        }
        /* The pixel limit, in our words too, before libpng allocates anything for the image. */
        if (!fk_within_pixel_limit(width, height, max_pixels, out->message)) return FK_ERROR_TOO_LARGE;
    }

    png_decoder decoder;
    memset(&decoder, 0, sizeof(decoder));
    decoder.data = bytes;
    decoder.size = size;
    decoder.max_bytes = max_bytes;
    decoder.max_pixels = max_pixels;
    decoder.out = out;
    decoder.status = FK_ERROR_DAMAGED;
    decoder.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &decoder, decoder_error, decoder_warning);
    if (decoder.png != NULL) decoder.info = png_create_info_struct(decoder.png);
    if (decoder.png == NULL || decoder.info == NULL) {
        png_destroy_read_struct(decoder.png ? &decoder.png : NULL, NULL, NULL);
        set_message(out->message, "out of memory for the PNG decoder");
        return FK_ERROR_NO_MEMORY;
    }

    fk_status status = png_decode_body(&decoder);
    png_destroy_read_struct(&decoder.png, &decoder.info, NULL);
    free(decoder.rows);
    if (status == FK_OK) {
        out->pixels = decoder.pixels;
    } else {
        free(decoder.pixels);
        out->byte_count = 0;
    }
    return status;
}

/* --- encoding --------------------------------------------------------------------------- */

typedef struct png_encoder {
    const uint8_t *samples;
    const fk_png_encode_options *options;
    fk_encoded_file *out;
    fk_status status;
    png_structp png;
    png_infop info;
    uint8_t *buffer;
    size_t size;
    size_t capacity;
    png_bytep *rows;
} png_encoder;

static void encoder_error(png_structp png, png_const_charp message) {
    png_encoder *encoder = (png_encoder *)png_get_error_ptr(png);
    set_message(encoder->out->message, "%s", message);
    png_longjmp(png, 1);
}

static void encoder_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void encoder_write(png_structp png, png_bytep data, size_t length) {
    png_encoder *encoder = (png_encoder *)png_get_io_ptr(png);
    if (length > encoder->capacity - encoder->size) {
        size_t capacity = encoder->capacity ? encoder->capacity : 4096;
        while (capacity - encoder->size < length) {
            if (capacity > SIZE_MAX / 2) capacity = SIZE_MAX;
            else capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(encoder->buffer, capacity);
        if (grown == NULL) {
            encoder->status = FK_ERROR_NO_MEMORY;
            png_error(png, "out of memory for the encoded PNG");
        }
        encoder->buffer = grown;
        encoder->capacity = capacity;
    }
    memcpy(encoder->buffer + encoder->size, data, length);
    encoder->size += length;
}

static void encoder_flush(png_structp png) { (void)png; }

static int channels_of(int color_type) {
    switch (color_type) {
    case FK_PNG_GRAY: return 1;
    case FK_PNG_GRAY_ALPHA: return 2;
    case FK_PNG_RGB: return 3;
    case FK_PNG_RGBA: return 4;
    case FK_PNG_PALETTE: return 1;
    default: return 0;
    }
}

/* Checks what libpng would reject only with a generic message, or not at all (sample values
 * above the bit depth, palette indices past the palette). */
static fk_status validate_options(const void *samples, const fk_png_encode_options *o, char *message) {
    int channels = channels_of(o->color_type);
    if (channels == 0) {
        set_message(message, "invalid colour type %d", o->color_type);
        return FK_ERROR_ARGUMENT;
    }
    int d = o->bit_depth;
    int depth_ok;
    switch (o->color_type) {
    case FK_PNG_GRAY: depth_ok = d == 1 || d == 2 || d == 4 || d == 8 || d == 16; break;
    case FK_PNG_PALETTE: depth_ok = d == 1 || d == 2 || d == 4 || d == 8; break;
    default: depth_ok = d == 8 || d == 16; break;
    }
    if (!depth_ok) {
        set_message(message, "bit depth %d is not valid for PNG colour type %d", d, o->color_type);
        return FK_ERROR_ARGUMENT;
    }
    if (o->width == 0 || o->height == 0 || o->width > 0x7fffffffu || o->height > 0x7fffffffu) {
        set_message(message, "cannot encode a %ux%u image", (unsigned)o->width, (unsigned)o->height);
        return FK_ERROR_ARGUMENT;
    }
    if (samples == NULL) {
        set_message(message, "no samples");
        return FK_ERROR_ARGUMENT;
    }
    if (o->color_type == FK_PNG_PALETTE) {
        if (o->palette == NULL || o->palette_count < 1 || o->palette_count > 256 || o->palette_count > (1 << d)) {
            set_message(message, "a %d-bit palette image needs 1...%d palette entries, not %d", d, d == 8 ? 256 : 1 << d,
                        o->palette_count);
            return FK_ERROR_ARGUMENT;
        }
        if (o->palette_alpha_count < 0 || o->palette_alpha_count > o->palette_count ||
            (o->palette_alpha_count > 0 && o->palette_alpha == NULL)) {
            set_message(message, "%d palette alpha values for %d palette entries", o->palette_alpha_count, o->palette_count);
            return FK_ERROR_ARGUMENT;
        }
    }
    /* Values that do not fit the bit depth (or the palette) would be written masked. */
    unsigned limit = o->color_type == FK_PNG_PALETTE ? (unsigned)o->palette_count : (d < 8 ? 1u << d : 256u);
    if (limit < 256) {
        size_t count = (size_t)o->width * o->height * (size_t)channels;
        const uint8_t *s = (const uint8_t *)samples;
        for (size_t i = 0; i < count; i++) {
            if (s[i] >= limit) {
                set_message(message, "sample %zu is %u, above the %s %u", i, s[i],
                            o->color_type == FK_PNG_PALETTE ? "last palette index" : "bit depth's maximum", limit - 1);
                return FK_ERROR_ARGUMENT;
            }
        }
    }
    return FK_OK;
}

static fk_status png_encode_body(png_encoder *encoder) {
    if (setjmp(png_jmpbuf(encoder->png))) return encoder->status;
    png_structp png = encoder->png;
    png_infop info = encoder->info;
    const fk_png_encode_options *o = encoder->options;

    png_set_write_fn(png, encoder, encoder_write, encoder_flush);
    /* Our own limits were checked already; let libpng write anything PNG allows. */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    if (o->compression_level >= 0 && o->compression_level <= 9) png_set_compression_level(png, o->compression_level);
    png_set_IHDR(png, info, o->width, o->height, o->bit_depth, o->color_type,
                 o->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (o->color_type == FK_PNG_PALETTE) {
        png_color palette[256];
        for (int i = 0; i < o->palette_count; i++) {
            palette[i].red = o->palette[3 * i];
            palette[i].green = o->palette[3 * i + 1];
            palette[i].blue = o->palette[3 * i + 2];
        }
        png_set_PLTE(png, info, palette, o->palette_count);
        if (o->palette_alpha_count > 0) {
            png_set_tRNS(png, info, (png_const_bytep)o->palette_alpha, o->palette_alpha_count, NULL);
        }
    } else if (o->has_transparent_key && (o->color_type == FK_PNG_GRAY || o->color_type == FK_PNG_RGB)) {
        png_color_16 key;
        memset(&key, 0, sizeof(key));
        key.gray = o->transparent_key[0];
        key.red = o->transparent_key[0];
        key.green = o->transparent_key[1];
        key.blue = o->transparent_key[2];
        png_set_tRNS(png, info, NULL, 0, &key);
    }
    png_write_info(png, info);
    if (o->bit_depth < 8) png_set_packing(png); /* our samples are one per byte */
    if (o->bit_depth == 16 && host_is_little_endian()) png_set_swap(png);
    png_set_interlace_handling(png);

    size_t row_bytes = (size_t)o->width * (size_t)channels_of(o->color_type) * (o->bit_depth == 16 ? 2 : 1);
    encoder->rows = (png_bytep *)malloc(sizeof(png_bytep) * o->height);
    if (encoder->rows == NULL) {
        encoder->status = FK_ERROR_NO_MEMORY;
        png_error(png, "out of memory for row pointers");
    }
    /* libpng only reads the rows it is given (the transforms work on a copy). */
    for (uint32_t y = 0; y < o->height; y++) encoder->rows[y] = (png_bytep)(encoder->samples + (size_t)y * row_bytes);
    png_write_image(png, encoder->rows);
    png_write_end(png, NULL);
    return FK_OK;
}

fk_status fk_png_encode(const void *samples, const fk_png_encode_options *options, fk_encoded_file *out) {
    memset(out, 0, sizeof(*out));
    fk_status status = validate_options(samples, options, out->message);
    if (status != FK_OK) return status;

    png_encoder encoder;
    memset(&encoder, 0, sizeof(encoder));
    encoder.samples = (const uint8_t *)samples;
    encoder.options = options;
    encoder.out = out;
    encoder.status = FK_ERROR_ARGUMENT;
    encoder.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &encoder, encoder_error, encoder_warning);
    if (encoder.png != NULL) encoder.info = png_create_info_struct(encoder.png);
    if (encoder.png == NULL || encoder.info == NULL) {
        png_destroy_write_struct(encoder.png ? &encoder.png : NULL, NULL);
        set_message(out->message, "out of memory for the PNG encoder");
        return FK_ERROR_NO_MEMORY;
    }
    status = png_encode_body(&encoder);
    png_destroy_write_struct(&encoder.png, &encoder.info);
    free(encoder.rows);
    if (status == FK_OK) {
        out->data = encoder.buffer;
        out->size = encoder.size;
    } else {
        free(encoder.buffer);
    }
    return status;
}

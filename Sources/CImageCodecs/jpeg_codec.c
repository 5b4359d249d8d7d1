/*
 * JPEG decoding and encoding with libjpeg(-turbo), from and to memory.
 *
 * libjpeg reports errors through error_mgr.error_exit, which must not return; ours longjmps
 * back into the C function that called libjpeg. As in png_codec.c, each setjmp lives in a
 * function whose only local state is a context pointer that is not modified after it.
 */

#include "image_codecs.h"
#include "codec_limits.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* A progressive file may hold any number of scans, each a pass over the whole image;
 * real files have about ten. */
#define FK_JPEG_MAX_SCANS 1000

static void set_message(char *buffer, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(buffer, FK_MESSAGE_CAPACITY, format, arguments);
    va_end(arguments);
}

/* --- errors ----------------------------------------------------------------------------- */

typedef struct jpeg_failure {
    struct jpeg_error_mgr manager; /* first, so cinfo->err points at the whole struct */
    jmp_buf jump;
    char *message;      /* where the error goes (FK_MESSAGE_CAPACITY bytes) */
    char *warning;      /* where the first warning goes, or NULL */
    fk_status status;   /* reported when we longjmp */
    int reached_eof;    /* the data ended without EOI (libjpeg inserted one and warned) */
} jpeg_failure;

static void fail_with_current_message(j_common_ptr cinfo) {
    jpeg_failure *failure = (jpeg_failure *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (failure->reached_eof) {
        /* Whatever went wrong, it went wrong because the file is cut short. */
        set_message(failure->message, "Premature end of JPEG file (%s)", text);
    } else {
        set_message(failure->message, "%s", text);
    }
    switch (cinfo->err->msg_code) {
    case JERR_OUT_OF_MEMORY: failure->status = FK_ERROR_NO_MEMORY; break;
    /* Raised when the whole-image buffers of a progressive file exceed max_memory_to_use. */
    case JERR_NO_BACKING_STORE: failure->status = FK_ERROR_TOO_LARGE; break;
    default: break;
    }
    longjmp(failure->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) { fail_with_current_message(cinfo); }

/* Warnings (level < 0) are kept, not printed; trace messages are dropped.
 *
 * Missing image data is fatal: where a scan's data ends early (at a marker, or at the end of
 * the file, where libjpeg's memory source inserts an EOI) libjpeg would only warn with
 * JWRN_HIT_MARKER and fill the rest of the image with grey. That also bounds the work a
 * damaged header can cause: every block must be paid for with bits that are in the file.
 * The end-of-file warning alone is not fatal: the Huffman decoder reads a few bytes ahead,
 * so a file that lacks only its final EOI marker triggers it after the last row. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    jpeg_failure *failure = (jpeg_failure *)cinfo->err;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF) failure->reached_eof = 1;
    if (cinfo->is_decompressor && code == JWRN_HIT_MARKER) fail_with_current_message(cinfo);
    if (failure->warning != NULL && failure->warning[0] == '\0') {
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        set_message(failure->warning, "%s", text);
    }
    cinfo->err->num_warnings++;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void install_failure(jpeg_failure *failure, char *message, char *warning) {
    jpeg_std_error(&failure->manager);
    failure->manager.error_exit = on_error_exit;
    failure->manager.emit_message = on_emit_message;
    failure->manager.output_message = on_output_message;
    failure->message = message;
    failure->warning = warning;
    failure->status = FK_ERROR_DAMAGED;
}

/* --- decoding --------------------------------------------------------------------------- */

typedef struct jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    struct jpeg_progress_mgr progress;
    const uint8_t *data;
    size_t size;
    uint64_t max_bytes;
    uint64_t max_pixels;
    fk_decoded_image *out;
    uint8_t *pixels;
} jpeg_decoder;

/* The Orientation of the first APP1 segment that holds EXIF ("Exif\0\0" and a TIFF block),
 * or 0. libjpeg keeps the whole segment (up to 65533 bytes) in memory. */
static uint32_t jpeg_exif_orientation(j_decompress_ptr cinfo) {
    static const uint8_t exif_id[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker != JPEG_APP0 + 1 || marker->data == NULL || marker->data_length < sizeof(exif_id)) continue;
        if (memcmp(marker->data, exif_id, sizeof(exif_id)) != 0) continue;
        return fk_exif_orientation(marker->data + sizeof(exif_id), marker->data_length - sizeof(exif_id));
    }
    return 0;
}

static void on_progress(j_common_ptr cinfo) {
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (dinfo->input_scan_number > FK_JPEG_MAX_SCANS) {
        jpeg_failure *failure = (jpeg_failure *)cinfo->err;
        set_message(failure->message, "more than %d scans (damaged file?)", FK_JPEG_MAX_SCANS);
        longjmp(failure->jump, 1);
    }
}

static fk_status jpeg_decode_body(jpeg_decoder *decoder) {
    if (setjmp(decoder->failure.jump)) return decoder->failure.status;
    j_decompress_ptr cinfo = &decoder->cinfo;
    fk_decoded_image *out = decoder->out;

    jpeg_create_decompress(cinfo);
    /* Whole-image coefficient buffers (progressive files) take 2 bytes per sample; beyond
     * this libjpeg fails with "Backing store not supported" instead of allocating. */
    uint64_t memory_limit = 2 * decoder->max_bytes + (64u << 20);
    cinfo->mem->max_memory_to_use = memory_limit > (uint64_t)LONG_MAX ? LONG_MAX : (long)memory_limit;
    decoder->progress.progress_monitor = on_progress;
    cinfo->progress = &decoder->progress;
    jpeg_mem_src(cinfo, decoder->data, (unsigned long)decoder->size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);
    out->exif_orientation = jpeg_exif_orientation(cinfo);

    uint32_t width = cinfo->image_width, height = cinfo->image_height;
    if (width > FK_MAX_DIMENSION || height > FK_MAX_DIMENSION) {
        set_message(out->message, "image is %ux%u, larger than the supported %ux%u", (unsigned)width, (unsigned)height,
                    FK_MAX_DIMENSION, FK_MAX_DIMENSION);
        return FK_ERROR_TOO_LARGE;
    }
    if (!fk_within_pixel_limit(width, height, decoder->max_pixels, out->message)) return FK_ERROR_TOO_LARGE;
    uint32_t channels;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        channels = 1;
        cinfo->out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        channels = 3;
        cinfo->out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        set_message(out->message, "CMYK JPEG files are not supported (convert the file to RGB)");
        return FK_ERROR_UNSUPPORTED;
    default:
        set_message(out->message, "unsupported JPEG colour space with %d components", cinfo->num_components);
        return FK_ERROR_UNSUPPORTED;
    }
    uint64_t byte_count = (uint64_t)width * height * channels;
    if (byte_count > decoder->max_bytes) {
        set_message(out->message, "image is %ux%u with %u channels (%llu bytes), larger than the supported %llu bytes",
                    (unsigned)width, (unsigned)height, channels, (unsigned long long)byte_count,
                    (unsigned long long)decoder->max_bytes);
        return FK_ERROR_TOO_LARGE;
    }

    jpeg_start_decompress(cinfo);
    if (cinfo->output_width != width || cinfo->output_height != height ||
        (uint32_t)cinfo->output_components != channels) {
        set_message(out->message, "unexpected output layout (%ux%u, %d components)", (unsigned)cinfo->output_width,
                    (unsigned)cinfo->output_height, cinfo->output_components);
        return FK_ERROR_UNSUPPORTED;
    }
    decoder->pixels = (uint8_t *)malloc((size_t)byte_count);
    if (decoder->pixels == NULL) {
        set_message(out->message, "out of memory for a %ux%u image", (unsigned)width, (unsigned)height);
        return FK_ERROR_NO_MEMORY;
    }
    size_t row_bytes = (size_t)width * channels;
    while (cinfo->output_scanline < height) {
        JSAMPROW row = decoder->pixels + (size_t)cinfo->output_scanline * row_bytes;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            set_message(out->message, "decoding stopped at row %u", (unsigned)cinfo->output_scanline);
            return FK_ERROR_DAMAGED;
        }
    }
    /* No jpeg_finish_decompress: every row is decoded, and what follows the image data
     * (normally just EOI) carries nothing we use. */
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = 8;
    out->byte_count = (size_t)byte_count;
    return FK_OK;
}

fk_status fk_jpeg_decode(const void *data, size_t size, uint64_t max_bytes, uint64_t max_pixels,
                         fk_decoded_image *out) {
    memset(out, 0, sizeof(*out));
    if (data == NULL || size == 0) {
        set_message(out->message, "empty JPEG data");
        return FK_ERROR_DAMAGED;
    }
    jpeg_decoder *decoder = (jpeg_decoder *)calloc(1, sizeof(jpeg_decoder));
    if (decoder == NULL) {
        set_message(out->message, "out of memory for the JPEG decoder");
        return FK_ERROR_NO_MEMORY;
    }
    decoder->data = (const uint8_t *)data;
    decoder->size = size;
    decoder->max_bytes = max_bytes;
    decoder->max_pixels = max_pixels;
    decoder->out = out;
    install_failure(&decoder->failure, out->message, out->warning);
    decoder->cinfo.err = &decoder->failure.manager;

    fk_status status = jpeg_decode_body(decoder);
    jpeg_destroy_decompress(&decoder->cinfo);
    if (status == FK_OK) {
        out->pixels = decoder->pixels;
    } else {
        free(decoder->pixels);
        out->byte_count = 0;
    }
    free(decoder);
    return status;
}

/* --- encoding --------------------------------------------------------------------------- */

typedef struct jpeg_encoder {
    struct jpeg_compress_struct cinfo;
    jpeg_failure failure;
    struct jpeg_destination_mgr destination;
    const uint8_t *samples;
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    int quality;
    uint8_t *buffer;
    size_t capacity;
    size_t size;
} jpeg_encoder;

/* Our own growable destination: libjpeg's jpeg_mem_dest loses track of its buffer when an
 * error interrupts it, so it could not be freed. */
static jpeg_encoder *encoder_of(j_compress_ptr cinfo) {
    return (jpeg_encoder *)((char *)cinfo - offsetof(jpeg_encoder, cinfo));
}

static void grow_destination(j_compress_ptr cinfo, size_t capacity) {
    jpeg_encoder *encoder = encoder_of(cinfo);
    uint8_t *grown = (uint8_t *)realloc(encoder->buffer, capacity);
    if (grown == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 99);
    encoder->buffer = grown;
    encoder->destination.next_output_byte = grown + encoder->capacity;
    encoder->destination.free_in_buffer = capacity - encoder->capacity;
    encoder->capacity = capacity;
}

static void init_destination(j_compress_ptr cinfo) {
    jpeg_encoder *encoder = encoder_of(cinfo);
    encoder->capacity = 0;
    grow_destination(cinfo, 65536);
}

static boolean empty_output_buffer(j_compress_ptr cinfo) {
    jpeg_encoder *encoder = encoder_of(cinfo);
    if (encoder->capacity > SIZE_MAX / 2) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 98);
    grow_destination(cinfo, encoder->capacity * 2);
    return TRUE;
}

static void term_destination(j_compress_ptr cinfo) {
    jpeg_encoder *encoder = encoder_of(cinfo);
    encoder->size = encoder->capacity - encoder->destination.free_in_buffer;
}

static fk_status jpeg_encode_body(jpeg_encoder *encoder) {
    if (setjmp(encoder->failure.jump)) return encoder->failure.status;
    j_compress_ptr cinfo = &encoder->cinfo;

    jpeg_create_compress(cinfo);
    encoder->destination.init_destination = init_destination;
    encoder->destination.empty_output_buffer = empty_output_buffer;
    encoder->destination.term_destination = term_destination;
    cinfo->dest = &encoder->destination;
    cinfo->image_width = encoder->width;
    cinfo->image_height = encoder->height;
    cinfo->input_components = (int)encoder->channels;
    cinfo->in_color_space = encoder->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, encoder->quality, TRUE);
    jpeg_start_compress(cinfo, TRUE);
    size_t row_bytes = (size_t)encoder->width * encoder->channels;
    while (cinfo->next_scanline < cinfo->image_height) {
        /* libjpeg only reads the rows; JSAMPROW is just not const. */
        JSAMPROW row = (JSAMPROW)(encoder->samples + (size_t)cinfo->next_scanline * row_bytes);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    return FK_OK;
}

fk_status fk_jpeg_encode(const uint8_t *samples, uint32_t width, uint32_t height, uint32_t channels, int quality,
                         fk_encoded_file *out) {
    memset(out, 0, sizeof(*out));
    if (samples == NULL || width == 0 || height == 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        set_message(out->message, "cannot encode a %ux%u image (JPEG allows 1...%ld pixels a side)", (unsigned)width,
                    (unsigned)height, (long)JPEG_MAX_DIMENSION);
        return FK_ERROR_ARGUMENT;
    }
    if (channels != 1 && channels != 3) {
        set_message(out->message, "JPEG stores grey or RGB, not %u channels", (unsigned)channels);
        return FK_ERROR_ARGUMENT;
    }
    if (quality < 1 || quality > 100) {
        set_message(out->message, "quality %d is outside 1...100", quality);
        return FK_ERROR_ARGUMENT;
    }
    jpeg_encoder *encoder = (jpeg_encoder *)calloc(1, sizeof(jpeg_encoder));
    if (encoder == NULL) {
        set_message(out->message, "out of memory for the JPEG encoder");
        return FK_ERROR_NO_MEMORY;
    }
    encoder->samples = samples;
    encoder->width = width;
    encoder->height = height;
    encoder->channels = channels;
    encoder->quality = quality;
    install_failure(&encoder->failure, out->message, NULL);
    encoder->failure.status = FK_ERROR_ARGUMENT;
    encoder->cinfo.err = &encoder->failure.manager;

    fk_status status = jpeg_encode_body(encoder);
    jpeg_destroy_compress(&encoder->cinfo);
    if (status == FK_OK) {
        out->data = encoder->buffer;
        out->size = encoder->size;
    } else {
        free(encoder->buffer);
    }
    free(encoder);
    return status;
}

/*
 * Checks shared by the PNG and JPEG decoders (internal to CImageCodecs).
 */
#ifndef FUSIONKIT_CODEC_LIMITS_H
#define FUSIONKIT_CODEC_LIMITS_H

#include "image_codecs.h"

#include <stdio.h>

/* Whether a width x height image is within `max_pixels`; if not, writes the error message.
 * The product of two 32-bit values cannot overflow 64 bits. */
static inline int fk_within_pixel_limit(uint32_t width, uint32_t height, uint64_t max_pixels, char *message) {
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    if (pixels <= max_pixels) return 1;
    snprintf(message, FK_MESSAGE_CAPACITY,
             "%ux%u pixels (%.1f MP) exceeds the limit of %.1f MP (raise it with --max-pixels)",
             (unsigned)width, (unsigned)height, (double)pixels / 1e6, (double)max_pixels / 1e6);
    return 0;
}

#endif

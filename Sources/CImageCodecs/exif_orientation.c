/*
 * The EXIF Orientation tag (0x0112) of IFD0, from a TIFF-structured EXIF block.
 *
 * Every offset is checked against the block; anything damaged or unexpected gives 0 (no
 * orientation), as PIL's exif_transpose and OpenCV's imread ignore EXIF they cannot read.
 */

#include "image_codecs.h"

#include <string.h>

static uint32_t exif_read16(const uint8_t *p, int big_endian) {
    return big_endian ? ((uint32_t)p[0] << 8 | p[1]) : ((uint32_t)p[1] << 8 | p[0]);
}

static uint32_t exif_read32(const uint8_t *p, int big_endian) {
    return big_endian ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
                      : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

uint32_t fk_exif_orientation(const void *data, size_t size) {
    const uint8_t *tiff = (const uint8_t *)data;
    if (tiff == NULL || size < 8) return 0;
    int big_endian;
    if (tiff[0] == 'I' && tiff[1] == 'I') big_endian = 0;
    else if (tiff[0] == 'M' && tiff[1] == 'M') big_endian = 1;
    else return 0;
    if (exif_read16(tiff + 2, big_endian) != 42) return 0;
    uint32_t ifd = exif_read32(tiff + 4, big_endian);
    /* The entry count (2 bytes) must be inside the block. */
    if (ifd > size || size - ifd < 2) return 0;
    uint32_t count = exif_read16(tiff + ifd, big_endian);
    size_t entries = (size_t)ifd + 2;
    for (uint32_t i = 0; i < count; i++) {
        size_t entry = entries + (size_t)i * 12; /* at most 2^32 + 2 + 12 * 65535: no overflow */
        if (entry > size || size - entry < 12) return 0;
        const uint8_t *e = tiff + entry;
        if (exif_read16(e, big_endian) != 0x0112) continue;
        uint32_t type = exif_read16(e + 2, big_endian);
        uint32_t n = exif_read32(e + 4, big_endian);
        uint32_t value;
        if (type == 3 && n >= 1) {        /* SHORT: the first value is in the first 2 bytes */
            value = exif_read16(e + 8, big_endian);
        } else if (type == 4 && n == 1) { /* LONG, as some writers use */
            value = exif_read32(e + 8, big_endian);
        } else {
            return 0;
        }
        return (value >= 1 && value <= 8) ? value : 0;
    }
    return 0;
}

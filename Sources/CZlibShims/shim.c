#include "CZlibShims.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int cwd_gzip(const uint8_t *input, size_t input_len, int level, uint8_t **output, size_t *output_len) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    /* windowBits 15 + 16 selects the gzip wrapper. */
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uLong bound = deflateBound(&stream, (uLong)input_len) + 32;
    uint8_t *buffer = malloc(bound);
    if (buffer == NULL) { deflateEnd(&stream); return -1; }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_len;
    stream.next_out = buffer;
    stream.avail_out = (uInt)bound;
    int rc = deflate(&stream, Z_FINISH);
    if (rc != Z_STREAM_END) { free(buffer); deflateEnd(&stream); return -1; }
    *output_len = stream.total_out;
    *output = buffer;
    deflateEnd(&stream);
    return 0;
}

void cwd_free(void *pointer) { free(pointer); }

int cwd_deflate_piece(const uint8_t *input, size_t input_len, int level, uint8_t **output, size_t *output_len,
                      uint32_t *crc) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    /* Negative windowBits: raw deflate, no header or trailer; the caller writes the gzip frame. */
    if (deflateInit2(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uLong bound = deflateBound(&stream, (uLong)input_len) + 16;
    uint8_t *buffer = malloc(bound);
    if (buffer == NULL) { deflateEnd(&stream); return -1; }
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)input_len;
    stream.next_out = buffer;
    stream.avail_out = (uInt)bound;
    int rc = deflate(&stream, Z_SYNC_FLUSH);
    if (rc != Z_OK || stream.avail_in != 0) { free(buffer); deflateEnd(&stream); return -1; }
    *output_len = stream.total_out;
    *output = buffer;
    *crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), input, (uInt)input_len);
    deflateEnd(&stream);
    return 0;
}

uint32_t cwd_crc32_combine(uint32_t crc_a, uint32_t crc_b, size_t length_b) {
    return (uint32_t)crc32_combine(crc_a, crc_b, (z_off_t)length_b);
}

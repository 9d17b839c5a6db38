#ifndef CZLIBSHIMS_H
#define CZLIBSHIMS_H

/*
 * gzip and raw-deflate pieces (zlib) for the ResponseBodies module.
 * Linux only (glibc); every symbol carries the `cwd_` prefix.
 */

#include <stddef.h>
#include <stdint.h>

/* MARK: zlib */


/* gzip-compresses input. On success returns 0 and *output (free with cwd_free) / *output_len. */
int cwd_gzip(const uint8_t *input, size_t input_len, int level, uint8_t **output, size_t *output_len);
void cwd_free(void *pointer);

/* Raw-deflates input as an independent piece that ends byte-aligned and is not final (zlib's
 * Z_SYNC_FLUSH), so pieces can be concatenated into one gzip member (see Gzip.memberHeader and Gzip.memberTrailer).
 * On success returns 0, *output (free with cwd_free) / *output_len and the CRC-32 of input. */
int cwd_deflate_piece(const uint8_t *input, size_t input_len, int level, uint8_t **output, size_t *output_len,
                      uint32_t *crc);
/* zlib's crc32_combine: the CRC-32 of A followed by B from crc(A), crc(B) and len(B). */
uint32_t cwd_crc32_combine(uint32_t crc_a, uint32_t crc_b, size_t length_b);

#endif

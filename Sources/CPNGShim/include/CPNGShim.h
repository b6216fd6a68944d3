#ifndef CPNGSHIM_H
#define CPNGSHIM_H

// A small C wrapper over libpng. libpng reports errors by longjmp; every setjmp lives inside
// shim.c and every entry point here returns normally, so no Swift frame is ever jumped over.
// On failure an entry point returns 0 and writes a NUL-terminated message into `message`.

#include <stddef.h>
#include <stdint.h>

#define CPNG_MESSAGE_CAPACITY 512

/// One text chunk read from a PNG. `value` is Latin-1 for tEXt/zTXt and UTF-8 for iTXt.
typedef struct {
    char *key;             // NUL-terminated, Latin-1
    char *value;           // value_length bytes, NUL-terminated as well
    size_t value_length;
    int utf8;              // 1 when the chunk was iTXt
} cpng_text_entry;

/// Limits checked on the IHDR before anything is allocated for pixels.
typedef struct {
    uint32_t max_side;     // largest width or height accepted
    uint64_t max_pixels;   // largest width*height accepted
    int keep_palette_indices; // 1: palette images decode to 1 channel of indices (+ palette)
} cpng_decode_options;

/// A decoded image. Samples are interleaved, rows top to bottom, no padding.
/// bit_depth 8: one byte per sample; bit_depth 16: native-endian uint16 per sample.
typedef struct {
    uint32_t width, height;
    uint32_t channels;          // 1 gray/index, 3 RGB, 4 RGBA (gray+alpha becomes RGBA)
    uint32_t bit_depth;         // 8 or 16
    uint32_t source_bit_depth;  // 1, 2, 4, 8 or 16 as stored in the file
    uint32_t source_color_type; // PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    uint32_t interlaced;        // 1 for Adam7
    uint8_t *pixels;            // width*height*channels*(bit_depth/8) bytes
    size_t pixels_size;
    uint8_t *palette;           // RGBA quadruples when keep_palette_indices and a palette image
    size_t palette_count;
    cpng_text_entry *texts;
    size_t text_count;
} cpng_decoded;

/// Reads only the signature and IHDR (no libpng); 1 on success.
int cpng_read_header(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height,
                     uint32_t *bit_depth, uint32_t *color_type, uint32_t *interlaced,
                     char *message);

/// Decodes a whole PNG held in memory. On success fills `out` (free with cpng_decoded_free).
int cpng_decode(const uint8_t *data, size_t size, const cpng_decode_options *options,
                cpng_decoded *out, char *message);

/// Frees everything cpng_decode allocated and zeroes `out`.
void cpng_decoded_free(cpng_decoded *out);

/// One text chunk to write; key and value are byte ranges inside the `blob` given to cpng_encode.
typedef struct {
    size_t key_offset, key_length;
    size_t value_offset, value_length;
    int utf8;              // 1: write iTXt (UTF-8), 0: write tEXt (Latin-1)
} cpng_text_input;

/// An encoded PNG in a malloc'd buffer (free with cpng_buffer_free).
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} cpng_buffer;

/// Encodes interleaved samples to PNG in memory. channels 1..4 (2 = gray+alpha); bit_depth 8 or 16
/// (16: native-endian uint16 samples). When palette_count > 0 the image must be 1 channel, 8-bit
/// indices into `palette` (RGBA quadruples; alpha other than 255 is written as tRNS).
/// No time chunk is written and the compression level is fixed, so equal input gives equal bytes.
int cpng_encode(const void *pixels, uint32_t width, uint32_t height, uint32_t channels,
                uint32_t bit_depth, const uint8_t *palette, size_t palette_count,
                const uint8_t *blob, const cpng_text_input *texts, size_t text_count,
                int compression_level, cpng_buffer *out, char *message);

void cpng_buffer_free(cpng_buffer *buffer);

/// The libpng version string this shim was linked against.
const char *cpng_libpng_version(void);

#endif

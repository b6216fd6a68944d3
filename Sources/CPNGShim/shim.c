// libpng wrapper: all setjmp/longjmp stays in this file (see include/CPNGShim.h).
//
// Pattern: each public entry allocates a state struct, calls a static *_inner function that owns
// the setjmp, and frees whatever the state holds after the inner function returns either way.
// Everything mutated between setjmp and a possible longjmp lives in that struct, reached through
// a pointer that libpng also holds (io_ptr), so its values are in memory when the jump lands.

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "CPNGShim.h"

static void set_message(char *message, const char *text) {
    if (message == NULL) return;
    snprintf(message, CPNG_MESSAGE_CAPACITY, "%s", text ? text : "unknown libpng error");
}

// Error pointer is the caller's message buffer: copy libpng's text, then jump back to our setjmp.
static void on_error(png_structp png, png_const_charp text) {
    set_message((char *)png_get_error_ptr(png), text);
    png_longjmp(png, 1);
}

// Warnings (bad ancillary data that libpng recovers from) are not printed: the tool owns stderr.
static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static int is_little_endian(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

static uint32_t read_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

const char *cpng_libpng_version(void) { return PNG_LIBPNG_VER_STRING; }

int cpng_read_header(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height,
                     uint32_t *bit_depth, uint32_t *color_type, uint32_t *interlaced,
                     char *message) {
    static const uint8_t signature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    if (size == 0) {
        set_message(message, "file is empty (0 bytes), not a PNG");
        return 0;
    }
    if (size < 8 || memcmp(data, signature, 8) != 0) {
        if (size >= 8 || memcmp(data, signature, size) != 0) {
            set_message(message, "not a PNG file (the 8-byte PNG signature does not match)");
        } else {
            set_message(message, "file is truncated inside the PNG signature");
        }
        return 0;
    }
    // Signature (8) + IHDR length (4) + type (4) + data (13) + CRC (4).
    if (size < 33) {
        set_message(message, "file is truncated before the end of the IHDR header chunk");
        return 0;
    }
    if (read_be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0) {
        set_message(message, "first chunk is not a 13-byte IHDR header; the file is corrupt");
        return 0;
    }
    const uint8_t *h = data + 16;
    *width = read_be32(h);
    *height = read_be32(h + 4);
    *bit_depth = h[8];
    *color_type = h[9];
    *interlaced = h[12];
    return 1;
}

// ---------------------------------------------------------------------------------------------
// Decoding

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    cpng_decoded result;
    char *message;
} decode_state;

static void read_memory(png_structp png, png_bytep out, size_t count) {
    decode_state *s = (decode_state *)png_get_io_ptr(png);
    if (count > s->size - s->position) {
        png_error(png, "file is truncated (unexpected end of data)");
    }
    memcpy(out, s->data + s->position, count);
    s->position += count;
}

static int decode_inner(decode_state *s, const cpng_decode_options *options) {
    png_structp png = s->png;
    png_infop info = s->info;
    if (setjmp(png_jmpbuf(png))) return 0;

    png_set_read_fn(png, s, read_memory);
    // A corrupt chunk of any kind is an error, not a silently dropped chunk.
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_user_limits(png, options->max_side, options->max_side);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    if (width == 0 || height == 0 || width > options->max_side || height > options->max_side ||
        (uint64_t)width * (uint64_t)height > options->max_pixels) {
        char text[CPNG_MESSAGE_CAPACITY];
        snprintf(text, sizeof text,
                 "image is %u x %u pixels, over the limit of %u pixels per side and %llu pixels in total",
                 (unsigned)width, (unsigned)height, (unsigned)options->max_side,
                 (unsigned long long)options->max_pixels);
        set_message(s->message, text);
        return 0;
    }
    s->result.width = width;
    s->result.height = height;
    s->result.source_bit_depth = (uint32_t)depth;
    s->result.source_color_type = (uint32_t)color;
    s->result.interlaced = interlace != PNG_INTERLACE_NONE;

    int keep_indices = options->keep_palette_indices && color == PNG_COLOR_TYPE_PALETTE;
    if (keep_indices) {
        if (depth < 8) png_set_packing(png);
        png_colorp colors = NULL;
        int count = 0;
        if (png_get_PLTE(png, info, &colors, &count) == 0 || count <= 0 || count > 256) {
            png_error(png, "palette image without a valid PLTE chunk");
        }
        png_bytep alpha = NULL;
        int alpha_count = 0;
        png_color_16p unused = NULL;
        if (png_get_valid(png, info, PNG_INFO_tRNS)) {
            png_get_tRNS(png, info, &alpha, &alpha_count, &unused);
        }
        s->result.palette = (uint8_t *)malloc((size_t)count * 4);
        if (s->result.palette == NULL) png_error(png, "out of memory for the palette");
        for (int i = 0; i < count; i++) {
            s->result.palette[4 * i + 0] = colors[i].red;
            s->result.palette[4 * i + 1] = colors[i].green;
            s->result.palette[4 * i + 2] = colors[i].blue;
            s->result.palette[4 * i + 3] = (alpha != NULL && i < alpha_count) ? alpha[i] : 255;
        }
        s->result.palette_count = (size_t)count;
    } else {
        // Palette -> RGB(A), gray 1/2/4-bit -> 8-bit, tRNS -> alpha channel.
        png_set_expand(png);
        int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
        if (color == PNG_COLOR_TYPE_GRAY_ALPHA || (color == PNG_COLOR_TYPE_GRAY && has_trns)) {
            png_set_gray_to_rgb(png);
        }
    }
    if (depth == 16 && is_little_endian()) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    uint32_t channels = png_get_channels(png, info);
    uint32_t out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if ((out_depth != 8 && out_depth != 16) || (channels != 1 && channels != 3 && channels != 4) ||
        row_bytes != (size_t)width * channels * (out_depth / 8)) {
        png_error(png, "unexpected sample layout after expansion (internal error)");
    }
    s->result.channels = channels;
    s->result.bit_depth = out_depth;
    s->result.pixels_size = row_bytes * height;
    s->result.pixels = (uint8_t *)malloc(s->result.pixels_size);
    s->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (s->result.pixels == NULL || s->rows == NULL) png_error(png, "out of memory for the pixels");
    for (png_uint_32 y = 0; y < height; y++) s->rows[y] = s->result.pixels + row_bytes * y;
    png_read_image(png, s->rows);
    png_read_end(png, info);

    png_textp texts = NULL;
    int text_count = 0;
    png_get_text(png, info, &texts, &text_count);
    if (text_count > 0) {
        s->result.texts = (cpng_text_entry *)calloc((size_t)text_count, sizeof(cpng_text_entry));
        if (s->result.texts == NULL) png_error(png, "out of memory for text chunks");
        for (int i = 0; i < text_count; i++) {
            cpng_text_entry *e = &s->result.texts[s->result.text_count];
            const char *key = texts[i].key ? texts[i].key : "";
            const char *value = texts[i].text ? texts[i].text : "";
            size_t value_length = strlen(value);
            e->key = strdup(key);
            e->value = (char *)malloc(value_length + 1);
            if (e->key == NULL || e->value == NULL) {
                free(e->key);
                free(e->value);
                e->key = e->value = NULL;
                png_error(png, "out of memory for text chunks");
            }
            memcpy(e->value, value, value_length + 1);
            e->value_length = value_length;
            e->utf8 = texts[i].compression >= PNG_ITXT_COMPRESSION_NONE;
            s->result.text_count++;
        }
    }
    return 1;
}

int cpng_decode(const uint8_t *data, size_t size, const cpng_decode_options *options,
                cpng_decoded *out, char *message) {
    memset(out, 0, sizeof *out);
    set_message(message, "");
    uint32_t w, h, d, c, i;
    if (!cpng_read_header(data, size, &w, &h, &d, &c, &i, message)) return 0;

    decode_state *s = (decode_state *)calloc(1, sizeof(decode_state));
    if (s == NULL) {
        set_message(message, "out of memory");
        return 0;
    }
    s->data = data;
    s->size = size;
    s->message = message;
    s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, on_error, on_warning);
    if (s->png != NULL) s->info = png_create_info_struct(s->png);
    int ok = 0;
    if (s->png == NULL || s->info == NULL) {
        set_message(message, "libpng could not be initialised (out of memory?)");
    } else {
        ok = decode_inner(s, options);
    }
    if (s->png != NULL) png_destroy_read_struct(&s->png, s->info ? &s->info : NULL, NULL);
    free(s->rows);
    if (ok) {
        *out = s->result;
    } else {
        cpng_decoded_free(&s->result);
        if (message != NULL && message[0] == 0) set_message(message, "unknown libpng error");
    }
    free(s);
    return ok;
}

void cpng_decoded_free(cpng_decoded *out) {
    if (out == NULL) return;
    free(out->pixels);
    free(out->palette);
    for (size_t i = 0; i < out->text_count; i++) {
        free(out->texts[i].key);
        free(out->texts[i].value);
    }
    free(out->texts);
    memset(out, 0, sizeof *out);
}

// ---------------------------------------------------------------------------------------------
// Encoding

typedef struct {
    cpng_buffer *out;
    png_structp png;
    png_infop info;
    png_bytep *rows;
    png_textp texts;
    size_t text_count;   // entries of `texts` whose key/text were allocated
} encode_state;

static void write_memory(png_structp png, png_bytep bytes, size_t count) {
    encode_state *s = (encode_state *)png_get_io_ptr(png);
    cpng_buffer *b = s->out;
    if (count > SIZE_MAX - b->size) png_error(png, "encoded PNG is too large");
    if (b->size + count > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + count) {
            if (capacity > SIZE_MAX / 2) png_error(png, "encoded PNG is too large");
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(b->data, capacity);
        if (grown == NULL) png_error(png, "out of memory for the encoded PNG");
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, bytes, count);
    b->size += count;
}

static void flush_memory(png_structp png) { (void)png; }

static int encode_inner(encode_state *s, const void *pixels, uint32_t width, uint32_t height,
                        uint32_t channels, uint32_t bit_depth, const uint8_t *palette,
                        size_t palette_count, const uint8_t *blob, const cpng_text_input *texts,
                        size_t text_count, int compression_level) {
    png_structp png = s->png;
    png_infop info = s->info;
    if (setjmp(png_jmpbuf(png))) return 0;

    png_set_write_fn(png, s, write_memory, flush_memory);
    int color;
    if (palette_count > 0) {
        if (channels != 1 || bit_depth != 8 || palette_count > 256) {
            png_error(png, "a palette image needs 1 channel of 8-bit indices and at most 256 colours");
        }
        color = PNG_COLOR_TYPE_PALETTE;
    } else {
        switch (channels) {
        case 1: color = PNG_COLOR_TYPE_GRAY; break;
        case 2: color = PNG_COLOR_TYPE_GRAY_ALPHA; break;
        case 3: color = PNG_COLOR_TYPE_RGB; break;
        case 4: color = PNG_COLOR_TYPE_RGB_ALPHA; break;
        default: png_error(png, "channel count must be 1, 2, 3 or 4");
        }
    }
    if (bit_depth != 8 && bit_depth != 16) png_error(png, "bit depth must be 8 or 16");
    png_set_IHDR(png, info, width, height, (int)bit_depth, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette_count > 0) {
        png_color colors[256];
        png_byte alpha[256];
        int alpha_count = 0;
        for (size_t i = 0; i < palette_count; i++) {
            colors[i].red = palette[4 * i];
            colors[i].green = palette[4 * i + 1];
            colors[i].blue = palette[4 * i + 2];
            alpha[i] = palette[4 * i + 3];
            if (alpha[i] != 255) alpha_count = (int)i + 1;
        }
        png_set_PLTE(png, info, colors, (int)palette_count);
        if (alpha_count > 0) png_set_tRNS(png, info, alpha, alpha_count, NULL);
    }
    png_set_compression_level(png, compression_level);

    if (text_count > 0) {
        s->texts = (png_textp)calloc(text_count, sizeof(png_text));
        if (s->texts == NULL) png_error(png, "out of memory for text chunks");
        for (size_t i = 0; i < text_count; i++) {
            const cpng_text_input *t = &texts[i];
            png_textp p = &s->texts[i];
            p->key = (png_charp)malloc(t->key_length + 1);
            p->text = (png_charp)malloc(t->value_length + 1);
            s->text_count = i + 1;
            if (p->key == NULL || p->text == NULL) png_error(png, "out of memory for text chunks");
            memcpy(p->key, blob + t->key_offset, t->key_length);
            p->key[t->key_length] = 0;
            memcpy(p->text, blob + t->value_offset, t->value_length);
            p->text[t->value_length] = 0;
            p->compression = t->utf8 ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
        }
        png_set_text(png, info, s->texts, (int)text_count);
    }
    png_write_info(png, info);
    if (bit_depth == 16 && is_little_endian()) png_set_swap(png);

    size_t row_bytes = (size_t)width * channels * (bit_depth / 8);
    s->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (s->rows == NULL) png_error(png, "out of memory for row pointers");
    // libpng copies each row before transforming it, so the caller's pixels are never written.
    for (uint32_t y = 0; y < height; y++) s->rows[y] = (png_bytep)pixels + row_bytes * y;
    png_write_image(png, s->rows);
    png_write_end(png, NULL);
    return 1;
}

int cpng_encode(const void *pixels, uint32_t width, uint32_t height, uint32_t channels,
                uint32_t bit_depth, const uint8_t *palette, size_t palette_count,
                const uint8_t *blob, const cpng_text_input *texts, size_t text_count,
                int compression_level, cpng_buffer *out, char *message) {
    memset(out, 0, sizeof *out);
    set_message(message, "");
    encode_state *s = (encode_state *)calloc(1, sizeof(encode_state));
    if (s == NULL) {
        set_message(message, "out of memory");
        return 0;
    }
    s->out = out;
    s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, on_error, on_warning);
    if (s->png != NULL) s->info = png_create_info_struct(s->png);
    int ok = 0;
    if (s->png == NULL || s->info == NULL) {
        set_message(message, "libpng could not be initialised (out of memory?)");
    } else {
        ok = encode_inner(s, pixels, width, height, channels, bit_depth, palette, palette_count,
                          blob, texts, text_count, compression_level);
    }
    if (s->png != NULL) png_destroy_write_struct(&s->png, s->info ? &s->info : NULL);
    free(s->rows);
    for (size_t i = 0; i < s->text_count; i++) {
        free(s->texts[i].key);
        free(s->texts[i].text);
    }
    free(s->texts);
    free(s);
    if (!ok) {
        cpng_buffer_free(out);
        if (message != NULL && message[0] == 0) set_message(message, "unknown libpng error");
    }
    return ok;
}

void cpng_buffer_free(cpng_buffer *buffer) {
    if (buffer == NULL) return;
    free(buffer->data);
    memset(buffer, 0, sizeof *buffer);
}

// JPEG through libturbojpeg, PNG through libpng's simplified API. See CImageCodec.h for why this shim exists.
#include "CImageCodec.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

// Larger images are refused before any allocation: a kiosk never sees them, and a corrupt header must not
// make us allocate gigabytes.
#define CIC_MAX_PIXELS (8192 * 8192)

static void set_error(char *err, size_t len, const char *msg) {
    if (err != NULL && len > 0) snprintf(err, len, "%s", msg);
}

static int valid_size(int w, int h) { return w > 0 && h > 0 && (long long)w * h <= CIC_MAX_PIXELS; }

// BT.601 luma with OpenCV's fixed-point weights (cv::cvtColor BGR2GRAY), so gray output is the same as before.
static void bgr_to_gray(const uint8_t *bgr, uint8_t *gray, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint8_t *p = bgr + 3 * i;
        gray[i] = (uint8_t)((p[0] * 1868u + p[1] * 9617u + p[2] * 4899u + 8192u) >> 14);
    }
}

static int within(int w, int h, int max_width, int max_height) {
    return (max_width <= 0 || w <= max_width) && (max_height <= 0 || h <= max_height);
}

static cic_status decode_jpeg(const uint8_t *data, size_t length, int want_gray, int max_width, int max_height, cic_image *out,
                              char *err, size_t err_len) {
    tjhandle tj = tjInitDecompress();
    if (tj == NULL) {
        set_error(err, err_len, "cannot start the JPEG decoder");
        return CIC_ERR_MEMORY;
    }
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    cic_status status = CIC_OK;
    if (tjDecompressHeader3(tj, data, (unsigned long)length, &w, &h, &subsamp, &colorspace) != 0) {
        set_error(err, err_len, tjGetErrorStr2(tj));
        status = CIC_ERR_DECODE;
    } else if (!valid_size(w, h)) {
        set_error(err, err_len, "image too large");
        status = CIC_ERR_DECODE;
    } else if (!within(w, h, max_width, max_height)) {
        char msg[96];
        snprintf(msg, sizeof msg, "image is %dx%d, larger than the %dx%d allowed", w, h, max_width, max_height);
        set_error(err, err_len, msg);
        status = CIC_ERR_DECODE;
    } else {
        const int channels = want_gray ? 1 : 3;
        uint8_t *pixels = malloc((size_t)w * h * channels);
        if (pixels == NULL) {
            set_error(err, err_len, "out of memory");
            status = CIC_ERR_MEMORY;
        } else if (tjDecompress2(tj, data, (unsigned long)length, pixels, w, 0, h, want_gray ? TJPF_GRAY : TJPF_BGR, 0) != 0 &&
                   tjGetErrorCode(tj) != TJERR_WARNING) {
            // A warning (e.g. a few bytes of a frame missing) still yields a whole image, as libjpeg did in OpenCV.
            set_error(err, err_len, tjGetErrorStr2(tj));
            free(pixels);
            status = CIC_ERR_DECODE;
        } else {
            out->pixels = pixels;
            out->width = w;
            out->height = h;
            out->channels = channels;
        }
    }
    tjDestroy(tj);
    return status;
}

static cic_status decode_png(const uint8_t *data, size_t length, int want_gray, int max_width, int max_height, cic_image *out,
                             char *err, size_t err_len) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, length)) {
        set_error(err, err_len, img.message);
        return CIC_ERR_DECODE;
    }
    if (!valid_size((int)img.width, (int)img.height) || img.width > 65535 || img.height > 65535) {
        png_image_free(&img);
        set_error(err, err_len, "image too large");
        return CIC_ERR_DECODE;
    }
    if (!within((int)img.width, (int)img.height, max_width, max_height)) {
        png_image_free(&img);
        char msg[96];
        snprintf(msg, sizeof msg, "image is %ux%u, larger than the %dx%d allowed", (unsigned)img.width, (unsigned)img.height, max_width, max_height);
        set_error(err, err_len, msg);
        return CIC_ERR_DECODE;
    }
    img.format = PNG_FORMAT_BGR;   // alpha, palette and 16-bit samples are converted by libpng
    const size_t n = (size_t)img.width * img.height;
    uint8_t *bgr = malloc(n * 3);
    if (bgr == NULL) {
        png_image_free(&img);
        set_error(err, err_len, "out of memory");
        return CIC_ERR_MEMORY;
    }
    if (!png_image_finish_read(&img, NULL, bgr, 0, NULL)) {
        set_error(err, err_len, img.message);
        free(bgr);
        return CIC_ERR_DECODE;
    }
    uint8_t *pixels = bgr;
    if (want_gray) {
        pixels = malloc(n);
        if (pixels == NULL) {
            free(bgr);
            set_error(err, err_len, "out of memory");
            return CIC_ERR_MEMORY;
        }
        bgr_to_gray(bgr, pixels, n);
        free(bgr);
    }
    out->pixels = pixels;
    out->width = (int)img.width;
    out->height = (int)img.height;
    out->channels = want_gray ? 1 : 3;
    return CIC_OK;
}

cic_status cic_decode(const uint8_t *data, size_t length, int want_gray, cic_image *out, char *err, size_t err_len) {
    return cic_decode_bounded(data, length, want_gray, 0, 0, out, err, err_len);
}

cic_status cic_decode_bounded(const uint8_t *data, size_t length, int want_gray, int max_width, int max_height, cic_image *out,
                              char *err, size_t err_len) {
    if (data == NULL || length == 0 || out == NULL) {
        set_error(err, err_len, "empty input");
        return CIC_ERR_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    if (length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return decode_jpeg(data, length, want_gray, max_width, max_height, out, err, err_len);
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (length >= 8 && memcmp(data, png_magic, 8) == 0) return decode_png(data, length, want_gray, max_width, max_height, out, err, err_len);
    set_error(err, err_len, "not a JPEG or PNG image");
    return CIC_ERR_DECODE;
}

cic_status cic_encode(const uint8_t *pixels, int width, int height, int channels, int png, int quality,
                      uint8_t **out, size_t *out_length, char *err, size_t err_len) {
    if (pixels == NULL || !valid_size(width, height) || (channels != 1 && channels != 3) || out == NULL || out_length == NULL) {
        set_error(err, err_len, "invalid image arguments");
        return CIC_ERR_ARGUMENT;
    }
    *out = NULL;
    *out_length = 0;
    if (png) {
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        img.width = (png_uint_32)width;
        img.height = (png_uint_32)height;
        img.format = channels == 3 ? PNG_FORMAT_BGR : PNG_FORMAT_GRAY;
        png_alloc_size_t size = 0;
        if (!png_image_write_to_memory(&img, NULL, &size, 0, pixels, 0, NULL)) {
            set_error(err, err_len, img.message);
            return CIC_ERR_ENCODE;
        }
        uint8_t *buf = malloc(size);
        if (buf == NULL) {
            set_error(err, err_len, "out of memory");
            return CIC_ERR_MEMORY;
        }
        if (!png_image_write_to_memory(&img, buf, &size, 0, pixels, 0, NULL)) {
            set_error(err, err_len, img.message);
            free(buf);
            return CIC_ERR_ENCODE;
        }
        *out = buf;
        *out_length = size;
        return CIC_OK;
    }
    if (quality < 1 || quality > 100) {
        set_error(err, err_len, "JPEG quality must be 1–100");
        return CIC_ERR_ARGUMENT;
    }
    tjhandle tj = tjInitCompress();
    if (tj == NULL) {
        set_error(err, err_len, "cannot start the JPEG encoder");
        return CIC_ERR_MEMORY;
    }
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    cic_status status = CIC_OK;
    if (tjCompress2(tj, pixels, width, 0, height, channels == 3 ? TJPF_BGR : TJPF_GRAY, &jpeg, &size,
                    channels == 3 ? TJSAMP_420 : TJSAMP_GRAY, quality, 0) != 0) {
        set_error(err, err_len, tjGetErrorStr2(tj));
        status = CIC_ERR_ENCODE;
    } else if ((*out = malloc(size)) == NULL) {
        set_error(err, err_len, "out of memory");
        status = CIC_ERR_MEMORY;
    } else {
        memcpy(*out, jpeg, size);   // callers free with cic_buffer_free (free), not tjFree
        *out_length = size;
    }
    tjFree(jpeg);
    tjDestroy(tj);
    return status;
}

void cic_image_free(cic_image *image) {
    if (image != NULL) {
        free(image->pixels);
        image->pixels = NULL;
    }
}

void cic_buffer_free(uint8_t *buffer) { free(buffer); }

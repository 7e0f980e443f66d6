// CImageCodec: decode and encode still images (JPEG, PNG) from Swift.
// Why this shim exists: Swift on Linux has no image codecs. JPEG goes through libturbojpeg and PNG through
// libpng's simplified API (plain C, status codes, messages as text). OpenCV's imgcodecs did this before, but on
// Debian it drags in GDAL, GDCM, Poppler and ~25 MB of resident libraries the kiosk never uses. Used for MJPEG
// frames, replay files, face snapshots and technician PNGs.
#ifndef CIMAGECODEC_H
#define CIMAGECODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CIC_OK = 0,
    CIC_ERR_ARGUMENT = 1,
    CIC_ERR_DECODE = 2,
    CIC_ERR_ENCODE = 3,
    CIC_ERR_MEMORY = 4,
    CIC_ERR_OPENCV = 5,  // unused since the codecs left OpenCV; kept so the values stay stable
} cic_status;

/// A malloc'ed, tightly packed image; release with cic_image_free.
typedef struct {
    uint8_t *pixels;
    int width;
    int height;
    int channels; // 1 = gray, 3 = BGR
} cic_image;

/// Decodes a JPEG or PNG image to BGR (channels = 3) or gray (want_gray != 0).
/// On failure returns a status and writes a message into err (if err_len > 0).
cic_status cic_decode(const uint8_t *data, size_t length, int want_gray, cic_image *out, char *err, size_t err_len);

/// As cic_decode, but an image wider than max_width or taller than max_height (each when > 0) is refused from its
/// header, before any pixel memory is allocated: a camera's MJPEG frame can never be larger than the negotiated size.
cic_status cic_decode_bounded(const uint8_t *data, size_t length, int want_gray, int max_width, int max_height, cic_image *out,
                              char *err, size_t err_len);

/// Encodes packed BGR (channels 3) or gray (channels 1) pixels as JPEG (quality 1–100) or PNG.
/// The result is malloc'ed: release with cic_buffer_free.
cic_status cic_encode(const uint8_t *pixels, int width, int height, int channels, int png, int quality,
                      uint8_t **out, size_t *out_length, char *err, size_t err_len);

void cic_image_free(cic_image *image);
void cic_buffer_free(uint8_t *buffer);

#ifdef __cplusplus
}
#endif
#endif

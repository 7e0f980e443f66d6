// CQRDecoder: QR-code decoding over ZXing-C++, callable from Swift.
// Why this shim exists: ZXing-C++ is C++ only before 2.3 (Debian 12 ships 1.4.0), throws C++ exceptions,
// and its API changed across 1.4 → 2.0 → 2.2; Swift's C++ interop would abort on an uncaught exception and
// is viral across modules. This header is pure C (an opaque handle, status codes, plain bytes): no ZXing type
// or version leaks out, and every exception is caught in the .cpp and returned as text.
//
// A reader is NOT thread-safe (it owns the storage of the last results): use one per thread.
#ifndef CQRDECODER_H
#define CQRDECODER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes returned by every cqr_ function.
typedef enum {
    CQR_OK = 0,
    CQR_ERR_ARGUMENT = 1,
    CQR_ERR_DECODER = 2,
    CQR_ERR_MEMORY = 3,
} cqr_status;

/// Symbologies a reader looks for (bit flags; 0 means CQR_FORMAT_QR).
enum {
    CQR_FORMAT_QR = 1 << 0,
    CQR_FORMAT_MICRO_QR = 1 << 1,
    CQR_FORMAT_DATA_MATRIX = 1 << 2,
    CQR_FORMAT_AZTEC = 1 << 3,
    CQR_FORMAT_PDF417 = 1 << 4,
};

/// Reader settings.
typedef struct {
    /// CQR_FORMAT_* flags; 0 = QR codes only.
    unsigned formats;
    /// Spend more time per frame (more binariser passes, scans every line): finds more damaged or small codes.
    int try_harder;
    /// Also look for codes turned by 90° (matters for linear codes only; QR finders are rotation-invariant).
    int try_rotate;
    /// Also try downscaled copies of a large image (helps blurred codes that cover many pixels).
    int try_downscale;
    /// The most codes returned per image (1–255).
    int max_codes;
} cqr_options;

/// One decoded code. `bytes` are the symbol's raw content (no character-set conversion); `format` is a
/// static name such as "QRCode". Both stay valid until the next cqr_decode on the same reader or cqr_destroy.
typedef struct {
    const uint8_t *bytes;
    size_t length;
    const char *format;
} cqr_code;

typedef struct cqr_reader cqr_reader;

/// The options a reader uses when given none: QR only, try_harder, try_downscale, no rotation, 8 codes.
cqr_options cqr_default_options(void);

/// The decoding library, for diagnostics only (e.g. "ZXing-C++ 1.4.0").
const char *cqr_library(void);

/// Creates a reader (`options` NULL = cqr_default_options()).
cqr_status cqr_create(const cqr_options *options, cqr_reader **out, char *err, size_t err_len);

/// Releases a reader (NULL is ignored).
void cqr_destroy(cqr_reader *reader);

/// Decodes an 8-bit grayscale image, `stride` bytes per row (0 = packed). On CQR_OK, *codes points at *count
/// codes (possibly 0) owned by the reader. Codes that fail their error correction are never returned.
cqr_status cqr_decode(cqr_reader *reader, const uint8_t *pixels, int width, int height, size_t stride,
                      const cqr_code **codes, int *count, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif

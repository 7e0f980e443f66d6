#include "CQRDecoder.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#define ZX_USE_UTF8 1     // ZXing 1.4: take the std::string API of Result (text() is not used: bytes() is)
#include <ZXing/ReadBarcode.h>  // ZXing-C++ (Debian libzxing-dev, pkg-config zxing)
#include <ZXing/ZXVersion.h>

namespace {

void set_error(char *err, size_t len, const std::string &msg) {
    if (err != nullptr && len > 0) {
        std::strncpy(err, msg.c_str(), len - 1);
        err[len - 1] = '\0';
    }
}

// Called from a catch (...) block: turns the exception in flight into a status and a message, so no C++
// exception crosses into Swift.
cqr_status exception_status(cqr_status fallback, char *err, size_t len) {
    try {
        throw;
    } catch (const std::bad_alloc &) {
        set_error(err, len, "out of memory");
        return CQR_ERR_MEMORY;
    } catch (const std::exception &e) {
        set_error(err, len, e.what());
    } catch (...) {
        set_error(err, len, "unknown C++ exception");
    }
    return fallback;
}

#define CQR_STR2(x) #x
#define CQR_STR(x) CQR_STR2(x)
const char library_name[] = "ZXing-C++ " CQR_STR(ZXING_VERSION_MAJOR) "." CQR_STR(ZXING_VERSION_MINOR) "." CQR_STR(ZXING_VERSION_PATCH);

ZXing::BarcodeFormats zxing_formats(unsigned flags) {
    if (flags == 0) flags = CQR_FORMAT_QR;
    ZXing::BarcodeFormats f;
    if (flags & CQR_FORMAT_QR) f |= ZXing::BarcodeFormat::QRCode;
    if (flags & CQR_FORMAT_MICRO_QR) f |= ZXing::BarcodeFormat::MicroQRCode;
    if (flags & CQR_FORMAT_DATA_MATRIX) f |= ZXing::BarcodeFormat::DataMatrix;
    if (flags & CQR_FORMAT_AZTEC) f |= ZXing::BarcodeFormat::Aztec;
    if (flags & CQR_FORMAT_PDF417) f |= ZXing::BarcodeFormat::PDF417;
    return f;
}

constexpr unsigned known_formats =
    CQR_FORMAT_QR | CQR_FORMAT_MICRO_QR | CQR_FORMAT_DATA_MATRIX | CQR_FORMAT_AZTEC | CQR_FORMAT_PDF417;

} // namespace

struct cqr_reader {
    ZXing::DecodeHints hints;
    std::vector<std::vector<uint8_t>> storage; // the bytes of the last results
    std::vector<cqr_code> codes;
};

extern "C" cqr_options cqr_default_options(void) {
    cqr_options o;
    o.formats = CQR_FORMAT_QR;
    o.try_harder = 1;
    o.try_rotate = 0;
    o.try_downscale = 1;
    o.max_codes = 8;
    return o;
}

extern "C" const char *cqr_library(void) { return library_name; }

extern "C" cqr_status cqr_create(const cqr_options *options, cqr_reader **out, char *err, size_t err_len) {
    if (out == nullptr) {
        set_error(err, err_len, "output pointer is NULL");
        return CQR_ERR_ARGUMENT;
    }
    *out = nullptr;
    const cqr_options o = options != nullptr ? *options : cqr_default_options();
    if ((o.formats & ~known_formats) != 0) {
        set_error(err, err_len, "unknown format flags");
        return CQR_ERR_ARGUMENT;
    }
    if (o.max_codes < 1 || o.max_codes > 255) {
        set_error(err, err_len, "max_codes must lie between 1 and 255");
        return CQR_ERR_ARGUMENT;
    }
    try {
        std::unique_ptr<cqr_reader> r(new cqr_reader());
        r->hints.setFormats(zxing_formats(o.formats));
        r->hints.setTryHarder(o.try_harder != 0);
        r->hints.setTryRotate(o.try_rotate != 0);
        r->hints.setTryDownscale(o.try_downscale != 0);
        r->hints.setMaxNumberOfSymbols(static_cast<uint8_t>(o.max_codes));
        r->hints.setReturnErrors(false); // never hand out a symbol that failed its error correction
        *out = r.release();
        return CQR_OK;
    } catch (...) {
        return exception_status(CQR_ERR_DECODER, err, err_len);
    }
}

extern "C" void cqr_destroy(cqr_reader *reader) { delete reader; }

extern "C" cqr_status cqr_decode(cqr_reader *reader, const uint8_t *pixels, int width, int height, size_t stride,
                                 const cqr_code **codes, int *count, char *err, size_t err_len) {
    if (count != nullptr) *count = 0;
    if (codes != nullptr) *codes = nullptr;
    if (reader == nullptr || pixels == nullptr || codes == nullptr || count == nullptr) {
        set_error(err, err_len, "reader, pixels, codes or count is NULL");
        return CQR_ERR_ARGUMENT;
    }
    if (width <= 0 || height <= 0) {
        set_error(err, err_len, "image must have a positive size");
        return CQR_ERR_ARGUMENT;
    }
    if (stride == 0) stride = static_cast<size_t>(width);
    if (stride < static_cast<size_t>(width) || stride > static_cast<size_t>(std::numeric_limits<int>::max())) {
        set_error(err, err_len, "row stride is smaller than the width (or absurdly large)");
        return CQR_ERR_ARGUMENT;
    }
    try {
        reader->storage.clear();
        reader->codes.clear();
        const ZXing::ImageView view(pixels, width, height, ZXing::ImageFormat::Lum, static_cast<int>(stride));
        const ZXing::Results results = ZXing::ReadBarcodes(view, reader->hints);
        for (const auto &r : results) {
            if (!r.isValid()) continue;
            const auto &b = r.bytes();
            reader->storage.emplace_back(b.begin(), b.end());
        }
        // Pointers are taken only once storage stops growing.
        size_t i = 0;
        for (const auto &r : results) {
            if (!r.isValid()) continue;
            const auto &bytes = reader->storage[i++];
            reader->codes.push_back(cqr_code{bytes.data(), bytes.size(), ZXing::ToString(r.format())});
        }
        *codes = reader->codes.data();
        *count = static_cast<int>(reader->codes.size());
        return CQR_OK;
    } catch (...) {
        reader->storage.clear();
        reader->codes.clear();
        return exception_status(CQR_ERR_DECODER, err, err_len);
    }
}

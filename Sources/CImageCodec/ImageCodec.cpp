#include "CImageCodec.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

namespace {
void set_error(char *err, size_t len, const char *msg) {
    if (err != nullptr && len > 0) {
        std::strncpy(err, msg, len - 1);
        err[len - 1] = '\0';
    }
}
/// Turns the exception being handled into OpenCV's text and a status; called only inside a catch.
cic_status exception_status(char *err, size_t len) {
    try {
        throw;
    } catch (const std::exception &e) {  // cv::Exception derives from std::exception
        set_error(err, len, e.what());
    } catch (...) {
        set_error(err, len, "unknown C++ exception");
    }
    return CIC_ERR_OPENCV;
}
struct QuietOpenCV {
    QuietOpenCV() { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); }
};
const QuietOpenCV quiet;
}

extern "C" cic_status cic_decode(const uint8_t *data, size_t length, int want_gray, cic_image *out, char *err, size_t err_len) {
    if (data == nullptr || length == 0 || out == nullptr) {
        set_error(err, err_len, "empty input");
        return CIC_ERR_ARGUMENT;
    }
    try {
        cv::Mat raw(1, static_cast<int>(length), CV_8UC1, const_cast<uint8_t *>(data));
        cv::Mat img = cv::imdecode(raw, want_gray ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
        if (img.empty()) {
            set_error(err, err_len, "not a decodable image (corrupt or unsupported format)");
            return CIC_ERR_DECODE;
        }
        if (!img.isContinuous()) img = img.clone();
        size_t bytes = img.total() * img.elemSize();
        auto *buf = static_cast<uint8_t *>(std::malloc(bytes));
        if (buf == nullptr) {
            set_error(err, err_len, "out of memory");
            return CIC_ERR_MEMORY;
        }
        std::memcpy(buf, img.data, bytes);
        out->pixels = buf;
        out->width = img.cols;
        out->height = img.rows;
        out->channels = img.channels();
        return CIC_OK;
    } catch (...) {
        return exception_status(err, err_len);
    }
}

extern "C" cic_status cic_encode(const uint8_t *pixels, int width, int height, int channels, int png, int quality,
                                 uint8_t **out, size_t *out_length, char *err, size_t err_len) {
    if (pixels == nullptr || width <= 0 || height <= 0 || (channels != 1 && channels != 3) || out == nullptr || out_length == nullptr) {
        set_error(err, err_len, "invalid image arguments");
        return CIC_ERR_ARGUMENT;
    }
    try {
        cv::Mat img(height, width, channels == 3 ? CV_8UC3 : CV_8UC1, const_cast<uint8_t *>(pixels));
        std::vector<uchar> encoded;
        std::vector<int> params;
        if (!png) {
            params = {cv::IMWRITE_JPEG_QUALITY, quality < 1 ? 1 : (quality > 100 ? 100 : quality)};
        }
        if (!cv::imencode(png ? ".png" : ".jpg", img, encoded, params)) {
            set_error(err, err_len, "encoder refused the image");
            return CIC_ERR_ENCODE;
        }
        auto *buf = static_cast<uint8_t *>(std::malloc(encoded.size()));
        if (buf == nullptr) {
            set_error(err, err_len, "out of memory");
            return CIC_ERR_MEMORY;
        }
        std::memcpy(buf, encoded.data(), encoded.size());
        *out = buf;
        *out_length = encoded.size();
        return CIC_OK;
    } catch (...) {
        return exception_status(err, err_len);
    }
}

extern "C" void cic_image_free(cic_image *image) {
    if (image != nullptr) {
        std::free(image->pixels);
        image->pixels = nullptr;
    }
}

extern "C" void cic_buffer_free(uint8_t *buffer) { std::free(buffer); }

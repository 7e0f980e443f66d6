#include "CFaceDetector.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace {

void set_error(char *err, size_t len, const std::string &msg) {
    if (err != nullptr && len > 0) {
        std::strncpy(err, msg.c_str(), len - 1);
        err[len - 1] = '\0';
    }
}

// Called from a catch (...) block: turns the exception in flight into a status and a message, so no C++
// exception crosses into Swift. Out of memory is its own status; everything else is `fallback`.
cfd_status exception_status(cfd_status fallback, char *err, size_t len) {
    try {
        throw;
    } catch (const std::bad_alloc &) {
        set_error(err, len, "out of memory");
        return CFD_ERR_MEMORY;
    } catch (const std::exception &e) {  // cv::Exception derives from std::exception
        set_error(err, len, e.what());
    } catch (...) {
        set_error(err, len, "unknown C++ exception");
    }
    return fallback;
}

// OpenCV prints warnings to stderr by default; the daemon logs through swift-log instead.
struct QuietOpenCV {
    QuietOpenCV() { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); }
};
const QuietOpenCV quiet;

bool valid_options(const cfd_options *o, char *err, size_t err_len) {
    if (o == nullptr) {
        set_error(err, err_len, "options are NULL");
        return false;
    }
    if (o->detect_width < 0 || o->detect_height < 0 || (o->detect_width == 0) != (o->detect_height == 0)) {
        set_error(err, err_len, "detection size must be two positive numbers, or 0x0 for the image's own size");
        return false;
    }
    if (!(o->score_threshold > 0.0f && o->score_threshold < 1.0f) || !(o->nms_threshold > 0.0f && o->nms_threshold < 1.0f)) {
        set_error(err, err_len, "score and NMS thresholds must lie strictly between 0 and 1");
        return false;
    }
    if (o->top_k <= 0) {
        set_error(err, err_len, "top_k must be positive");
        return false;
    }
    return true;
}

} // namespace

struct cfd_detector {
    cfd_kind kind;
    cfd_options options;
    cv::Ptr<cv::FaceDetectorYN> yunet;
    cv::CascadeClassifier haar;
    cv::Size input_size; // the size YuNet was last told (setInputSize is not free: set only on change)
    cv::Mat resized, bgr, gray, out;

    // Detects on `img` (BGR, or gray for Haar) and writes faces mapped back by the per-axis factors.
    void run(const cv::Mat &img, double sx, double sy, std::vector<cfd_face> &faces) {
        if (kind == CFD_KIND_YUNET) {
            if (img.size() != input_size) {
                yunet->setInputSize(img.size());
                input_size = img.size();
            }
            yunet->detect(img, out);
            // With no faces, 4.6 returns an empty Mat that is not CV_32F: check before reading. Each row is
            // box (4), five landmarks (10) and the score: fewer than 15 columns (another model's output) is not read.
            if (out.empty() || out.type() != CV_32F || out.cols < 15) return;
            for (int r = 0; r < out.rows; ++r) {
                const float *row = out.ptr<float>(r);
                cfd_face f{};
                f.x = static_cast<float>(row[0] / sx);
                f.y = static_cast<float>(row[1] / sy);
                f.width = static_cast<float>(row[2] / sx);
                f.height = static_cast<float>(row[3] / sy);
                for (int i = 0; i < 10; i += 2) {
                    f.landmarks[i] = static_cast<float>(row[4 + i] / sx);
                    f.landmarks[i + 1] = static_cast<float>(row[5 + i] / sy);
                }
                f.score = row[14];
                f.has_landmarks = 1;
                faces.push_back(f);
            }
        } else {
            std::vector<cv::Rect> rects;
            const int min_size = std::max(8, options.min_face_size);
            haar.detectMultiScale(img, rects, 1.1, 3, 0, cv::Size(min_size, min_size));
            for (const auto &r : rects) {
                cfd_face f{};
                f.x = static_cast<float>(r.x / sx);
                f.y = static_cast<float>(r.y / sy);
                f.width = static_cast<float>(r.width / sx);
                f.height = static_cast<float>(r.height / sy);
                f.score = 1.0f;
                f.has_landmarks = 0;
                faces.push_back(f);
            }
        }
    }
};

extern "C" const char *cfd_opencv_version(void) { return CV_VERSION; }

extern "C" cfd_status cfd_create_yunet(const char *model_path, const cfd_options *options, cfd_detector **out, char *err,
                                       size_t err_len) {
    if (model_path == nullptr || out == nullptr) {
        set_error(err, err_len, "model path or output pointer is NULL");
        return CFD_ERR_ARGUMENT;
    }
    *out = nullptr;
    if (!valid_options(options, err, err_len)) return CFD_ERR_ARGUMENT;
    try {
        std::unique_ptr<cfd_detector> d(new cfd_detector());
        d->kind = CFD_KIND_YUNET;
        d->options = *options;
        const cv::Size warm(options->detect_width > 0 ? options->detect_width : 320,
                            options->detect_height > 0 ? options->detect_height : 240);
        d->yunet = cv::FaceDetectorYN::create(model_path, "", warm, options->score_threshold, options->nms_threshold,
                                              options->top_k);
        if (d->yunet.empty()) {
            set_error(err, err_len, "cv::FaceDetectorYN::create returned nothing");
            return CFD_ERR_MODEL;
        }
        d->input_size = warm;
        // Warm-up: a wrong model (e.g. 2023mar on OpenCV 4.6) loads fine and only fails here.
        cv::Mat blank(warm, CV_8UC3, cv::Scalar(0, 0, 0));
        d->yunet->detect(blank, d->out);
        *out = d.release();
        return CFD_OK;
    } catch (...) {
        return exception_status(CFD_ERR_MODEL, err, err_len);
    }
}

extern "C" cfd_status cfd_create_haar(const char *cascade_path, const cfd_options *options, cfd_detector **out, char *err,
                                      size_t err_len) {
    if (cascade_path == nullptr || out == nullptr) {
        set_error(err, err_len, "cascade path or output pointer is NULL");
        return CFD_ERR_ARGUMENT;
    }
    *out = nullptr;
    if (!valid_options(options, err, err_len)) return CFD_ERR_ARGUMENT;
    try {
        std::unique_ptr<cfd_detector> d(new cfd_detector());
        d->kind = CFD_KIND_HAAR;
        d->options = *options;
        if (!d->haar.load(cascade_path) || d->haar.empty()) {
            set_error(err, err_len, "not a loadable cascade XML");
            return CFD_ERR_MODEL;
        }
        *out = d.release();
        return CFD_OK;
    } catch (...) {
        return exception_status(CFD_ERR_MODEL, err, err_len);
    }
}

extern "C" void cfd_destroy(cfd_detector *detector) { delete detector; }

extern "C" cfd_kind cfd_detector_kind(const cfd_detector *detector) { return detector->kind; }

extern "C" cfd_status cfd_detect(cfd_detector *detector, const uint8_t *pixels, int width, int height, int channels,
                                 size_t stride, cfd_face *faces, int capacity, int *count, char *err, size_t err_len) {
    if (count != nullptr) *count = 0;
    if (detector == nullptr || pixels == nullptr || count == nullptr || (faces == nullptr && capacity > 0)) {
        set_error(err, err_len, "detector, pixels, faces or count is NULL");
        return CFD_ERR_ARGUMENT;
    }
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        set_error(err, err_len, "image must have a positive size and 1 (gray) or 3 (BGR) channels");
        return CFD_ERR_ARGUMENT;
    }
    const size_t packed = static_cast<size_t>(width) * static_cast<size_t>(channels);
    if (stride == 0) stride = packed;
    if (stride < packed) {
        set_error(err, err_len, "row stride is smaller than width × channels");
        return CFD_ERR_ARGUMENT;
    }
    try {
        cv::Mat src(height, width, channels == 3 ? CV_8UC3 : CV_8UC1, const_cast<uint8_t *>(pixels), stride);
        // YuNet wants BGR; the cascade wants equalised gray.
        const cv::Mat *img = &src;
        if (detector->kind == CFD_KIND_YUNET && channels == 1) {
            cv::cvtColor(src, detector->bgr, cv::COLOR_GRAY2BGR);
            img = &detector->bgr;
        } else if (detector->kind == CFD_KIND_HAAR) {
            if (channels == 3) cv::cvtColor(src, detector->gray, cv::COLOR_BGR2GRAY);
            else src.copyTo(detector->gray);
            img = &detector->gray;
        }
        double scale = 1.0;
        const int dw = detector->options.detect_width, dh = detector->options.detect_height;
        if (dw > 0 && dh > 0) scale = std::min({1.0, static_cast<double>(dw) / width, static_cast<double>(dh) / height});
        const cv::Mat *input = img;
        double sx = 1.0, sy = 1.0;
        if (scale < 1.0) {
            const cv::Size size(std::max(1, static_cast<int>(std::lround(width * scale))),
                                std::max(1, static_cast<int>(std::lround(height * scale))));
            cv::resize(*img, detector->resized, size, 0, 0, cv::INTER_AREA);
            // Map back with the exact per-axis factors actually used (rounding differs from `scale`).
            sx = static_cast<double>(size.width) / width;
            sy = static_cast<double>(size.height) / height;
            input = &detector->resized;
        }
        if (detector->kind == CFD_KIND_HAAR) {
            cv::Mat eq;
            cv::equalizeHist(*input, eq);
            detector->resized = eq;
            input = &detector->resized;
        }
        std::vector<cfd_face> found;
        detector->run(*input, sx, sy, found);
        std::sort(found.begin(), found.end(), [](const cfd_face &a, const cfd_face &b) {
            return a.score != b.score ? a.score > b.score : (a.x != b.x ? a.x < b.x : a.y < b.y);
        });
        const int n = std::min(capacity, static_cast<int>(found.size()));
        for (int i = 0; i < n; ++i) faces[i] = found[i];
        *count = n;
        return CFD_OK;
    } catch (...) {
        return exception_status(CFD_ERR_OPENCV, err, err_len);
    }
}

extern "C" void cfd_set_num_threads(int n) { cv::setNumThreads(n); }

extern "C" int cfd_get_num_threads(void) { return cv::getNumThreads(); }

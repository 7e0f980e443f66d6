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
    if (o->gate_reference_width < 0 || !(o->gate_focal_px >= 0.0f) || !(o->gate_near_m >= 0.0f) || !(o->gate_far_m >= 0.0f) ||
        (o->gate_far_m > 0.0f && o->gate_near_m > o->gate_far_m) ||
        (o->gate_focal_px > 0.0f && !(o->gate_eye_m > 0.0f && o->gate_face_m > 0.0f))) {
        set_error(err, err_len, "range gate: focal length, distances and reference width must be >= 0 (0 = off), near <= far, and the eye and face sizes positive");
        return false;
    }
    if (o->verify_size != 0) {
        if (o->verify_size < 32 || o->verify_size > 640) {
            set_error(err, err_len, "verification size must be 0 (off) or 32…640 pixels");
            return false;
        }
        if (!(o->verify_score_threshold > 0.0f && o->verify_score_threshold < 1.0f)) {
            set_error(err, err_len, "verification score threshold must lie strictly between 0 and 1");
            return false;
        }
        if (!(o->verify_margin >= 0.0f && o->verify_margin <= 2.0f)) {
            set_error(err, err_len, "verification margin must lie in 0…2");
            return false;
        }
        if (o->max_proposals <= 0) {
            set_error(err, err_len, "max_proposals must be positive when verification is on");
            return false;
        }
        if (!(o->flip_below >= 0.0f && o->flip_below <= 1.0f)) {
            set_error(err, err_len, "flip_below must lie in 0…1 (0 = no mirror-image check, 1 = every verified crop)");
            return false;
        }
    }
    return true;
}

float iou(const cfd_face &a, const cfd_face &b) {
    const float ix = std::max(0.0f, std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x));
    const float iy = std::max(0.0f, std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y));
    const float inter = ix * iy, uni = a.width * a.height + b.width * b.height - inter;
    return uni > 0 ? inter / uni : 0.0f;
}

// Reads YuNet's output rows (box, five landmarks, score) into faces mapped by x' = x / sx + ox.
void read_yunet(const cv::Mat &out, double sx, double sy, double ox, double oy, std::vector<cfd_face> &faces) {
    // With no faces, 4.6 returns an empty Mat that is not CV_32F: check before reading. Each row is
    // box (4), five landmarks (10) and the score: fewer than 15 columns (another model's output) is not read.
    if (out.empty() || out.type() != CV_32F || out.cols < 15) return;
    for (int r = 0; r < out.rows; ++r) {
        const float *row = out.ptr<float>(r);
        cfd_face f{};
        f.x = static_cast<float>(row[0] / sx + ox);
        f.y = static_cast<float>(row[1] / sy + oy);
        f.width = static_cast<float>(row[2] / sx);
        f.height = static_cast<float>(row[3] / sy);
        for (int i = 0; i < 10; i += 2) {
            f.landmarks[i] = static_cast<float>(row[4 + i] / sx + ox);
            f.landmarks[i + 1] = static_cast<float>(row[5 + i] / sy + oy);
        }
        f.score = row[14];
        f.proposal_score = row[14];
        f.has_landmarks = 1;
        f.verified = 1;
        faces.push_back(f);
    }
}

// The range gate: false for a box whose width says it is nearer, or whose width and eye distance both say it is
// farther, than the options allow.
bool in_range(const cfd_options &o, const cfd_face &f, int image_width) {
    if (o.gate_focal_px <= 0.0f || (o.gate_near_m <= 0.0f && o.gate_far_m <= 0.0f)) return true;
    const double focal = o.gate_focal_px * (o.gate_reference_width > 0 ? static_cast<double>(image_width) / o.gate_reference_width : 1.0);
    const double by_width = f.width > 1.0f ? focal * o.gate_face_m / f.width : 1e9;
    double nearest = by_width;
    if (f.has_landmarks) {
        const double eye = std::hypot(f.landmarks[2] - f.landmarks[0], f.landmarks[3] - f.landmarks[1]);
        const double by_eyes = eye > 1.0 ? focal * o.gate_eye_m / eye : 1e9;
        nearest = std::min(by_width, by_eyes);
    }
    // Near: the width alone. A turned head's eye distance is short (reads farther), never long, so the width is the
    // estimate to trust for "too near"; and YuNet's frame-filling boxes on a plain wall (350-500 px wide on the
    // evaluation set's empty booths) carry landmarks close together that would let them through if both had to agree.
    if (o.gate_near_m > 0.0f && by_width < o.gate_near_m) return false;
    if (o.gate_far_m > 0.0f && nearest > o.gate_far_m) return false;     // both say too far (a turned head reads far by its eyes)
    return true;
}

} // namespace

struct cfd_detector {
    cfd_kind kind;
    cfd_options options;
    cv::Ptr<cv::FaceDetectorYN> yunet;
    // The verification pass: a second YuNet with its input fixed at verify_size² (setInputSize is not free).
    cv::Ptr<cv::FaceDetectorYN> verifier;
    cv::Mat crop, flipped, verify_out;
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
            read_yunet(out, sx, sy, 0, 0, faces);
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
                f.proposal_score = 1.0f;
                f.has_landmarks = 0;
                f.verified = 1;
                faces.push_back(f);
            }
        }
    }
};

// Verifies each proposal (boxes in `full`'s pixels) on a square crop of `full` around it; returns the
// verified faces, and the rejected proposals too when keep_rejected is set. Best proposals first, at most max_proposals.
std::vector<cfd_face> verify(cfd_detector &d, const cv::Mat &full, std::vector<cfd_face> proposals) {
    const cfd_options &o = d.options;
    std::sort(proposals.begin(), proposals.end(), [](const cfd_face &a, const cfd_face &b) { return a.score > b.score; });
    if (static_cast<int>(proposals.size()) > o.max_proposals) proposals.resize(static_cast<size_t>(o.max_proposals));
    const int vs = o.verify_size;
    std::vector<cfd_face> result, found;
    for (const cfd_face &p : proposals) {
        if (p.score >= o.verify_above) {  // confident enough at the detection size: no crop needed
            cfd_face v = p;
            v.proposal_score = p.score;
            v.verified = 1;
            result.push_back(v);
            continue;
        }
        const double side = std::max(p.width, p.height) * (1.0 + 2.0 * o.verify_margin);
        if (!(side >= 2.0)) continue;
        const double cx = p.x + p.width / 2.0, cy = p.y + p.height / 2.0;
        const double x0 = cx - side / 2.0, y0 = cy - side / 2.0, k = vs / side;
        // The part of the crop inside the image, scaled into its place on a grey square (the rest stays grey).
        const int ix0 = std::max(0, static_cast<int>(std::floor(x0))), iy0 = std::max(0, static_cast<int>(std::floor(y0)));
        const int ix1 = std::min(full.cols, static_cast<int>(std::ceil(x0 + side))), iy1 = std::min(full.rows, static_cast<int>(std::ceil(y0 + side)));
        d.crop.create(vs, vs, CV_8UC3);
        d.crop.setTo(cv::Scalar(118, 118, 118));
        if (ix1 <= ix0 || iy1 <= iy0) continue;
        const int dx0 = std::max(0, static_cast<int>(std::lround((ix0 - x0) * k))), dy0 = std::max(0, static_cast<int>(std::lround((iy0 - y0) * k)));
        const int dx1 = std::min(vs, static_cast<int>(std::lround((ix1 - x0) * k))), dy1 = std::min(vs, static_cast<int>(std::lround((iy1 - y0) * k)));
        if (dx1 <= dx0 || dy1 <= dy0) continue;
        cv::Mat dst = d.crop(cv::Rect(dx0, dy0, dx1 - dx0, dy1 - dy0));
        cv::resize(full(cv::Rect(ix0, iy0, ix1 - ix0, iy1 - iy0)), dst, dst.size(), 0, 0, k < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
        d.verifier->detect(d.crop, d.verify_out);
        // Map back with the per-axis factors actually used for the placed part.
        const double kx = static_cast<double>(dx1 - dx0) / (ix1 - ix0), ky = static_cast<double>(dy1 - dy0) / (iy1 - iy0);
        found.clear();
        read_yunet(d.verify_out, kx, ky, ix0 - dx0 / kx, iy0 - dy0 / ky, found);
        // The verifying face must be the proposal's face, at the proposal's place and size (IoU >= 0.3): a loose
        // proposal around a whole head must not be confirmed by the smaller real face inside its crop.
        const cfd_face *best = nullptr;
        for (const cfd_face &f : found)
            if (iou(f, p) >= 0.3f && (best == nullptr || f.score > best->score)) best = &f;
        float score = best != nullptr ? best->score : 0.0f;
        if (best != nullptr && score >= o.verify_score_threshold && (o.flip_below >= 1.0f || score < o.flip_below)) {
            // The mirror image of the same crop: YuNet must find the face there too. Its boxes are mirrored
            // back (x -> vs - x - w, in crop pixels) before the proposal's place is checked.
            cv::flip(d.crop, d.flipped, 1);
            d.verifier->detect(d.flipped, d.verify_out);
            if (!d.verify_out.empty() && d.verify_out.type() == CV_32F && d.verify_out.cols >= 15)
                for (int r = 0; r < d.verify_out.rows; ++r) {
                    float *row = d.verify_out.ptr<float>(r);
                    row[0] = static_cast<float>(vs) - row[0] - row[2];
                }
            std::vector<cfd_face> mirrored;
            read_yunet(d.verify_out, kx, ky, ix0 - dx0 / kx, iy0 - dy0 / ky, mirrored);
            float mscore = 0.0f;
            for (const cfd_face &f : mirrored)
                if (iou(f, p) >= 0.3f) mscore = std::max(mscore, f.score);
            score = std::min(score, mscore);
        }
        if (best != nullptr && score >= o.verify_score_threshold) {
            // The verification pass decides whether; the proposal keeps where (box and landmarks as the one-pass
            // detector gives them: the crop's landmarks read head roll differently on small crops).
            cfd_face v = p;
            v.score = score;
            v.proposal_score = p.score;
            v.verified = 1;
            result.push_back(v);
        } else if (o.keep_rejected) {
            cfd_face r = p;
            r.proposal_score = p.score;
            r.score = score;
            r.verified = 0;
            result.push_back(r);
        }
    }
    // Two proposals of one face verify to the same face: keep the better one, better by the proposal score. The
    // proposal pass saw every box at one scale; verification scores come from crops zoomed to each box and do not
    // compare: a box around part of a face (the eyes and nose of a face filling the frame) verifies at 0.99 on its
    // zoomed crop and, ranked first, would keep the whole face (proposal 0.86 against 0.48) as a second face.
    std::sort(result.begin(), result.end(), [](const cfd_face &a, const cfd_face &b) {
        if (a.verified != b.verified) return a.verified > b.verified;
        return a.proposal_score != b.proposal_score ? a.proposal_score > b.proposal_score : a.score > b.score;
    });
    // A face overlapping a better one by 30 % of its own area or more (a mask, a mouth, a collar under the chin) is part
    // of it, not a second face: two real heads do not overlap that much, and side by side their boxes do not touch.
    // (0.6 let a masked chin box hanging half below the face through: VisionSequenceTests' two people side by side.)
    std::vector<cfd_face> kept;
    for (const cfd_face &f : result) {
        bool dup = false;
        for (const cfd_face &k2 : kept) {
            if (!f.verified || !k2.verified) continue;
            const float ix = std::max(0.0f, std::min(f.x + f.width, k2.x + k2.width) - std::max(f.x, k2.x));
            const float iy = std::max(0.0f, std::min(f.y + f.height, k2.y + k2.height) - std::max(f.y, k2.y));
            const float area = f.width * f.height;
            if (iou(f, k2) > o.nms_threshold || (area > 0 && ix * iy / area >= 0.3f)) dup = true;
        }
        if (!dup) kept.push_back(f);
    }
    return kept;
}

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
        if (options->verify_size > 0) {
            const cv::Size vs(options->verify_size, options->verify_size);
            // Its own threshold is low so that a rejected proposal can report how close it came.
            d->verifier = cv::FaceDetectorYN::create(model_path, "", vs, std::min(0.3f, options->verify_score_threshold),
                                                     options->nms_threshold, options->top_k);
            if (d->verifier.empty()) {
                set_error(err, err_len, "cv::FaceDetectorYN::create returned nothing (verifier)");
                return CFD_ERR_MODEL;
            }
            cv::Mat vblank(vs, CV_8UC3, cv::Scalar(0, 0, 0));
            d->verifier->detect(vblank, d->verify_out);
        }
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
        std::vector<cfd_face> gated;
        {
            std::vector<cfd_face> in;
            for (cfd_face &f : found) {
                if (in_range(detector->options, f, width)) {
                    in.push_back(f);
                } else if (detector->options.keep_rejected) {
                    f.verified = 0;
                    f.score = 0.0f;
                    gated.push_back(f);
                }
            }
            found.swap(in);
        }
        if (detector->kind == CFD_KIND_YUNET && detector->verifier) found = verify(*detector, *img, std::move(found));
        found.insert(found.end(), gated.begin(), gated.end());
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

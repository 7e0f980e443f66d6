// CFaceDetector: face detection over OpenCV, callable from Swift.
// Why this shim exists: OpenCV is C++ and throws cv::Exception; Swift's C++ interop would abort the
// process on an uncaught exception and is viral across modules. This header is pure C (opaque
// handles, status codes); every exception is caught in the .cpp and returned as text.
//
// Two detectors sit behind one handle type:
//   - YuNet (cv::FaceDetectorYN, model face_detection_yunet_2022mar.onnx): boxes, scores, 5 landmarks,
//     finds masked faces. The only YuNet export that OpenCV 4.6 runs.
//   - Haar frontalface_alt2 (cv::CascadeClassifier): the fallback; boxes only, blind to masked faces.
// A handle is NOT thread-safe: use one per thread.
#ifndef CFACEDETECTOR_H
#define CFACEDETECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes returned by every cfd_ function.
typedef enum {
    CFD_OK = 0,
    CFD_ERR_ARGUMENT = 1,
    CFD_ERR_MODEL = 2,
    CFD_ERR_OPENCV = 3,
    CFD_ERR_MEMORY = 4,
} cfd_status;

/// Which detector a handle runs.
typedef enum {
    CFD_KIND_YUNET = 0,
    CFD_KIND_HAAR = 1,
} cfd_kind;

/// One detected face, in the coordinates of the image passed to cfd_detect (not the detection size).
typedef struct {
    float x, y, width, height;
    /// YuNet's confidence (0–1). The Haar cascade has no confidence: it reports 1.
    float score;
    /// x,y pairs: right eye, left eye, nose tip, right mouth corner, left mouth corner
    /// ("right" is the person's right, which is on the image's left). Valid only if has_landmarks.
    float landmarks[10];
    int has_landmarks;
    /// The score in the proposal pass at the detection size (equal to `score` when verification is off).
    float proposal_score;
    /// 1: a face (verification passed, or verification is off). 0: a proposal that failed verification;
    /// only returned when cfd_options.keep_rejected is set, with the proposal's box and the best
    /// verification score found for it (0 when the crop held no face at all) in `score`.
    int verified;
} cfd_face;

/// Detector settings.
typedef struct {
    /// The image is downscaled (aspect ratio kept) to fit inside this size before detection, and the
    /// boxes are mapped back. 0 × 0 means: detect at the image's own size. Images already smaller are not upscaled.
    int detect_width;
    int detect_height;
    /// YuNet: minimum score (0.75 keeps a margin for masked faces; OpenCV's default 0.9 drops some).
    float score_threshold;
    /// YuNet: non-maximum-suppression IoU threshold.
    float nms_threshold;
    /// YuNet: keep at most this many candidates before NMS.
    int top_k;
    /// Haar: smallest face, in detection-size pixels.
    int min_face_size;
    /// YuNet two-pass detection. 0: off (one pass at the detection size; score_threshold decides).
    /// > 0: the pass at the detection size only proposes candidates (keep score_threshold low); each
    /// proposal is then verified on a square crop of the FULL-resolution image around it (the box's
    /// larger side plus verify_margin of it on every side), scaled to verify_size × verify_size, and is a
    /// face only if YuNet finds a face there, centred on the proposal, scoring at least
    /// verify_score_threshold. A verified face keeps the proposal's box and landmarks; its score is the verification score.
    int verify_size;
    float verify_score_threshold;
    /// Margin around the proposal box on each side, as a fraction of its larger side (e.g. 0.4).
    float verify_margin;
    /// Most proposals verified per image, best proposal score first (the cost bound).
    int max_proposals;
    /// 1: also return the proposals that failed verification (verified = 0), for diagnostics.
    int keep_rejected;
    /// Two-pass only: a proposal scoring at least this at the detection size is a face without a
    /// verification crop (its score stays the proposal score); >= 1 verifies every proposal.
    float verify_above;
    /// Range gate, applied before verification. A box's distance is estimated twice, as the kiosk does:
    /// gate_focal_px × gate_eye_m / its eye distance in pixels (landmarks), and gate_focal_px × gate_face_m /
    /// its width. A box whose width puts it nearer than gate_near_m (a wall or a photo filling the frame) or
    /// that both estimates put farther than gate_far_m (a valve, a badge, a face far behind) is not a face;
    /// needing both for "too far" keeps a turned head (its eye distance is short: it reads farther, never
    /// nearer, which is why "too near" trusts the width). 0 = no bound. gate_focal_px holds for images
    /// gate_reference_width pixels wide (the capture width); other widths scale it in proportion (0: as is).
    /// Boxes without landmarks (Haar) are judged on the width alone. Gated boxes come back as rejected
    /// (verified = 0, score 0) with keep_rejected.
    float gate_focal_px;
    float gate_eye_m;
    float gate_face_m;
    float gate_near_m;
    float gate_far_m;
    int gate_reference_width;
    /// Two-pass only: a crop whose verification score is at least verify_score_threshold but below this is
    /// verified again on its mirror image (a face is nearly symmetric; a wheel, a wall or a blurred head's
    /// outline often is not), and passes only if YuNet finds the face at the proposal's place in the mirror
    /// image too, scoring at least verify_score_threshold; the face's score is then the lower of the two.
    /// 0 = never (no extra cost); 1 = every crop that passed. 0…1.
    float flip_below;
} cfd_options;

typedef struct cfd_detector cfd_detector;

/// OpenCV's own version string, e.g. "4.6.0".
const char *cfd_opencv_version(void);

/// Creates a YuNet detector from an ONNX file. OpenCV 4.6 parses the graph lazily and only fails on
/// the first detect for some wrong models, so this runs one warm-up detection before returning.
cfd_status cfd_create_yunet(const char *model_path, const cfd_options *options, cfd_detector **out, char *err, size_t err_len);

/// Creates a Haar cascade detector from an XML file (e.g. haarcascade_frontalface_alt2.xml).
cfd_status cfd_create_haar(const char *cascade_path, const cfd_options *options, cfd_detector **out, char *err, size_t err_len);

/// Releases a detector (NULL is ignored).
void cfd_destroy(cfd_detector *detector);

/// The detector's kind.
cfd_kind cfd_detector_kind(const cfd_detector *detector);

/// Detects faces in a packed image: channels 3 = BGR, 1 = gray; `stride` bytes per row (0 = packed).
/// Writes up to `capacity` faces (highest score first) and the number written into *count.
cfd_status cfd_detect(cfd_detector *detector, const uint8_t *pixels, int width, int height, int channels, size_t stride,
                      cfd_face *faces, int capacity, int *count, char *err, size_t err_len);

/// OpenCV's worker-thread count (process-wide). n <= 0 lets OpenCV choose.
void cfd_set_num_threads(int n);
int cfd_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif

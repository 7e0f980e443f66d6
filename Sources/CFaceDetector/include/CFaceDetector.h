// CFaceDetector: face detection over OpenCV, callable from Swift.
// Why this shim exists: OpenCV is C++ and throws cv::Exception; Swift's C++ interop would abort the
// process on an uncaught exception and is viral across modules. This header is pure C (opaque
// handles, status codes); every exception is caught in the .cpp and returned as text.
#ifndef CFACEDETECTOR_H
#define CFACEDETECTOR_H

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

/// OpenCV's own version string, e.g. "4.6.0".
const char *cfd_opencv_version(void);

#ifdef __cplusplus
}
#endif
#endif

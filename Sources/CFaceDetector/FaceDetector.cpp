#include "CFaceDetector.h"
#include <opencv2/core.hpp>

extern "C" const char *cfd_opencv_version(void) { return CV_VERSION; }

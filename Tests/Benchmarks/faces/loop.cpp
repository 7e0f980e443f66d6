// Plain C++ reference loop for the faces benchmark: what the shim does, minus the shim.
// For each frame: resize (INTER_AREA, aspect kept, like the shim) to fit the detection size, then
// FaceDetectorYN::detect. Prints the mean over frames of each frame's fastest ms over `repeat` runs in a row
// (after one warm-up pass; the fastest run is the one least disturbed by other load on a shared
// machine), and the faces found in one pass — the same statistic `checkpointctl detect --repeat` gives.
// usage: loop MODEL WxH THREADS REPEAT FRAME...
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

int main(int argc, char **argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: %s MODEL WxH THREADS REPEAT FRAME...\n", argv[0]);
        return 2;
    }
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    int dw = 0, dh = 0;
    if (std::sscanf(argv[2], "%dx%d", &dw, &dh) != 2) return 2;
    cv::setNumThreads(std::atoi(argv[3]));
    const int repeat = std::atoi(argv[4]);
    std::vector<cv::Mat> frames;
    for (int i = 5; i < argc; ++i) frames.push_back(cv::imread(argv[i], cv::IMREAD_COLOR));
    auto det = cv::FaceDetectorYN::create(argv[1], "", cv::Size(dw, dh), 0.75f, 0.3f, 50);
    cv::Mat small, out;
    cv::Size current(dw, dh);
    std::vector<std::vector<double>> ms(frames.size());
    int faces = 0;
    // Same order as `checkpointctl detect --repeat`: each frame `repeat` times in a row (after one warm-up pass
    // over all frames), so both sides see the same cache behaviour.
    for (size_t i = 0; i < frames.size(); ++i) {
        for (int r = (i == 0 ? -1 : 0); r < repeat; ++r) {
            if (r < 0) {  // warm-up pass over every frame
                for (const cv::Mat &w : frames) {
                    const double s = std::min({1.0, double(dw) / w.cols, double(dh) / w.rows});
                    cv::resize(w, small, cv::Size(int(std::lround(w.cols * s)), int(std::lround(w.rows * s))), 0, 0, cv::INTER_AREA);
                    if (small.size() != current) { det->setInputSize(small.size()); current = small.size(); }
                    det->detect(small, out);
                }
                continue;
            }
            const cv::Mat &f = frames[i];
            auto t0 = std::chrono::steady_clock::now();
            const double s = std::min({1.0, double(dw) / f.cols, double(dh) / f.rows});
            const cv::Mat *in = &f;
            if (s < 1.0) {
                cv::resize(f, small, cv::Size(int(std::lround(f.cols * s)), int(std::lround(f.rows * s))), 0, 0, cv::INTER_AREA);
                in = &small;
            }
            // setInputSize regenerates YuNet's priors: like the shim, call it only when the size changes.
            if (in->size() != current) {
                det->setInputSize(in->size());
                current = in->size();
            }
            det->detect(*in, out);
            auto t1 = std::chrono::steady_clock::now();
            ms[i].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            if (r == 0) faces += out.empty() ? 0 : out.rows;
        }
    }
    double sum = 0;
    for (auto &v : ms) sum += *std::min_element(v.begin(), v.end());
    std::printf("%.4f %d\n", sum / ms.size(), faces);
    return 0;
}

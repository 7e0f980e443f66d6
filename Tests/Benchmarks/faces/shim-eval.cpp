// Drives the C shim Sources/CFaceDetector (the code checkpointd and `checkpointctl detect` run) over image
// files with the scheme's options given on the command line, printing `checkpointctl detect --json` lines
// (image, width, height, ms, faces[x, y, w, h, score, landmarks]) that faces/eval.py scores. For trying
// schemes on the local evaluation set without rebuilding the Swift package; the figures that count are
// measured with the release checkpointctl (faces/bench.py).
//
// build: g++ -O2 -std=c++17 -I Sources/CFaceDetector/include -o /tmp/shim-eval \
//            Tests/Benchmarks/faces/shim-eval.cpp Sources/CFaceDetector/FaceDetector.cpp $(pkg-config --cflags --libs opencv4)
// usage: shim-eval MODEL [key=value ...] IMAGE...   (keys: the cfd_options field names, plus repeat=N, threads=N)
// Defaults are the [detector] defaults of the config schema at the time of writing; pass every key you rely on.
#include "CFaceDetector.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: shim-eval MODEL [key=value ...] IMAGE...\n");
        return 64;
    }
    cfd_options o{};
    o.detect_width = 320; o.detect_height = 240;
    o.score_threshold = 0.35f; o.nms_threshold = 0.3f; o.top_k = 50; o.min_face_size = 30;
    o.verify_size = 224; o.verify_score_threshold = 0.8f; o.verify_margin = 0.5f; o.max_proposals = 4;
    o.verify_above = 0.95f;
    o.gate_focal_px = 600; o.gate_eye_m = 0.063f; o.gate_face_m = 0.15f; o.gate_near_m = 0.25f; o.gate_far_m = 3.0f;
    o.gate_reference_width = 640;
    o.flip_below = 1.0f;
    int repeat = 1, threads = 1;
    std::vector<std::string> images;
    for (int i = 2; i < argc; ++i) {
        const char *a = argv[i];
        const char *eq = std::strchr(a, '=');
        if (eq == nullptr) { images.emplace_back(a); continue; }
        const std::string k(a, eq - a);
        const double v = std::atof(eq + 1);
#define F(name) else if (k == #name) o.name = static_cast<decltype(o.name)>(v)
        if (k == "repeat") repeat = static_cast<int>(v);
        else if (k == "threads") threads = static_cast<int>(v);
        F(detect_width); F(detect_height); F(score_threshold); F(nms_threshold); F(top_k); F(verify_size);
        F(verify_score_threshold); F(verify_margin); F(max_proposals); F(verify_above); F(gate_focal_px);
        F(gate_near_m); F(gate_far_m); F(flip_below);
        else { std::fprintf(stderr, "unknown key %s\n", k.c_str()); return 64; }
#undef F
    }
    cfd_set_num_threads(threads);
    cfd_detector *d = nullptr;
    char err[512];
    if (cfd_create_yunet(argv[1], &o, &d, err, sizeof err) != CFD_OK) {
        std::fprintf(stderr, "error: %s\n", err);
        return 1;
    }
    cfd_face faces[16];
    for (const std::string &path : images) {
        cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
        if (img.empty()) { std::fprintf(stderr, "error: %s unreadable\n", path.c_str()); continue; }
        int n = 0;
        double best = 1e18;
        for (int r = 0; r < repeat; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            if (cfd_detect(d, img.data, img.cols, img.rows, 3, img.step, faces, 16, &n, err, sizeof err) != CFD_OK) {
                std::fprintf(stderr, "error: %s: %s\n", path.c_str(), err);
                break;
            }
            best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::printf("{\"image\":\"%s\",\"width\":%d,\"height\":%d,\"ms\":%.3f,\"faces\":[", path.c_str(), img.cols, img.rows, best);
        bool first = true;
        for (int i = 0; i < n; ++i) {
            const cfd_face &f = faces[i];
            if (!f.verified) continue;
            std::printf("%s{\"x\":%.2f,\"y\":%.2f,\"w\":%.2f,\"h\":%.2f,\"score\":%.4f,\"proposal_score\":%.4f,\"landmarks\":[", first ? "" : ",",
                        f.x, f.y, f.width, f.height, f.score, f.proposal_score);
            first = false;
            for (int j = 0; j < 5 && f.has_landmarks; ++j) std::printf("%s[%.2f,%.2f]", j ? "," : "", f.landmarks[2 * j], f.landmarks[2 * j + 1]);
            std::printf("]}");
        }
        std::printf("]}\n");
    }
    cfd_destroy(d);
    return 0;
}

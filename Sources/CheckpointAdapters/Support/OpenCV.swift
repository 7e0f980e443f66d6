import CFaceDetector

/// Facts about the linked OpenCV build.
public enum OpenCVInfo {
    public static var version: String { String(cString: cfd_opencv_version()) }
}

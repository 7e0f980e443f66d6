import CheckpointCore
import CheckpointAdapters
print("checkpointd \(CheckpointVersion.string) (OpenCV \(OpenCVInfo.version))")

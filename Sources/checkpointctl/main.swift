import CheckpointCore
print("checkpointctl \(CheckpointVersion.string)")

import CheckpointCore
print("checkpoint-receiver \(CheckpointVersion.string)")

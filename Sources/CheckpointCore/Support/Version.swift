/// The software version recorded in every declaration and printed by `--version`.
public enum CheckpointVersion {
    public static let string = "0.1.0"
}

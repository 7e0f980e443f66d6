import Crypto
import Foundation

/// SHA-256 from swift-crypto (no digest of our own): the face model's check at load and by `checkpointctl model
/// install`, and the local API's idempotency body hash.
public enum Digest {
    /// The lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

// swift-tools-version:6.1
// checkpointd — edge daemon for smart health-checkpoint kiosks.
//
// The pipeline at a glance (one target per layer):
//   C shims:     CV4L2 (V4L2 ioctls) · CCurl (libcurl) · CFaceDetector (OpenCV face detection, C++ behind a
//                pure-C header) · CImageCodec (JPEG via libturbojpeg, PNG via libpng) · CQRDecoder (QR codes via
//                ZXing-C++, C++ behind a pure-C header) · CSystemdJournal (structured journal entries via libsystemd)
//   Core:        CheckpointCore      — pure Swift domain logic, imports no C
//   Adapters:    CheckpointAdapters  — the only Swift code that touches C (camera, serial, detector, QR decoder,
//                uploader, store)
//   Simulators:  CheckpointSimulators — the thermal sensor on a pseudo-terminal and a synthetic V4L2 device, for
//                `checkpointctl simulate`, `camera bench` and the tests; not linked into checkpointd
//   Services:    CheckpointServices  — the daemon's long-running services (vision, thermal, uploader, heartbeat,
//                supervisor) and their shared health board and metrics, behind small ports a test can stand in for
//   Receiver:    CheckpointReceiver  — the province's receiver (storage, contract, fleet view); no C, no OpenCV or libcurl
//   Executables: checkpointd (daemon) · checkpointctl (technician CLI) · checkpoint-receiver (the receiver's wiring)
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let testKit = Target.Dependency.product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle")
let unixSignals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")
let toml = Target.Dependency.product(name: "TOMLKit", package: "TOMLKit")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let hummingbirdTLS = Target.Dependency.product(name: "HummingbirdTLS", package: "hummingbird")
let hummingbirdTesting = Target.Dependency.product(name: "HummingbirdTesting", package: "hummingbird")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let postgres = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")
// Certificate expiry on the kiosk (`--check-config`, the metric, the heartbeat) and the receiver's TLS.
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
// The receiver reads its clients' certificates (subject, serial) with swift-certificates.
let x509 = Target.Dependency.product(name: "X509", package: "swift-certificates")
// SHA-256 on the kiosk (the face model's check, the API's idempotency body hash); swift-certificates needs it anyway.
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")

let package = Package(
    name: "checkpointd",
    products: [
        .executable(name: "checkpointd", targets: ["checkpointd"]),
        .executable(name: "checkpointctl", targets: ["checkpointctl"]),
        .executable(name: "checkpoint-receiver", targets: ["checkpoint-receiver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // MARK: C shims — each declares only what Swift cannot import by itself.
        .systemLibrary(name: "CV4L2", providers: [.apt(["linux-libc-dev"])]),   // raw ioctls: no libv4l2
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(
            name: "CFaceDetector",
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])],
            linkerSettings: [
                .linkedLibrary("opencv_objdetect"), .linkedLibrary("opencv_imgproc"), .linkedLibrary("opencv_core"),
            ]
        ),

        .target(
            name: "CQRDecoder",
            linkerSettings: [.linkedLibrary("ZXing")]   // Debian libzxing-dev (pkg-config zxing: -lZXing)
        ),

        .target(
            name: "CSystemdJournal",
            linkerSettings: [.linkedLibrary("systemd")]   // Debian libsystemd-dev: sd_journal_sendv only
        ),

        .target(
            name: "CImageCodec",
            linkerSettings: [.linkedLibrary("turbojpeg"), .linkedLibrary("png16")]
        ),

        // MARK: Core — domain logic only.
        .target(name: "CheckpointCore", dependencies: [toml, logging], swiftSettings: swiftSettings),

        // MARK: Adapters — hardware, network and storage boundaries.
        .target(
            name: "CheckpointAdapters",
            dependencies: ["CheckpointCore", "CV4L2", "CCurl", "CFaceDetector", "CQRDecoder", "CImageCodec", "CSystemdJournal", grdb, hummingbird, logging, prometheus, nioSSL, crypto],
            swiftSettings: swiftSettings
        ),

        // MARK: Simulators — stand-ins at the hardware boundary, apart from the production adapters.
        .target(
            name: "CheckpointSimulators",
            dependencies: ["CheckpointCore", "CheckpointAdapters", logging],
            swiftSettings: swiftSettings
        ),

        // MARK: Services — the daemon's services (swift-service-lifecycle), wired by checkpointd.
        .target(
            name: "CheckpointServices",
            dependencies: ["CheckpointCore", "CheckpointAdapters", lifecycle, unixSignals, logging, prometheus],
            swiftSettings: swiftSettings
        ),

        // MARK: Receiver — the province side; links no C shim.
        .target(
            name: "CheckpointReceiver",
            dependencies: ["CheckpointCore", grdb, postgres, hummingbird, hummingbirdTLS, nioSSL, x509, logging, prometheus],
            swiftSettings: swiftSettings
        ),

        // MARK: Executables — wiring only.
        .executableTarget(
            name: "checkpointd",
            dependencies: ["CheckpointCore", "CheckpointAdapters", "CheckpointServices", argumentParser, lifecycle, unixSignals, logging, prometheus],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "checkpointctl",
            dependencies: ["CheckpointCore", "CheckpointAdapters", "CheckpointSimulators", argumentParser, logging],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "checkpoint-receiver",
            dependencies: ["CheckpointCore", "CheckpointReceiver", argumentParser, hummingbird, logging],
            exclude: ["openapi.yaml"],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests mirror the targets.
        .testTarget(name: "CheckpointCoreTests", dependencies: ["CheckpointCore", logging], swiftSettings: swiftSettings),
        .testTarget(
            name: "CheckpointAdaptersTests",
            dependencies: ["CheckpointAdapters", "CheckpointSimulators", "CheckpointCore", hummingbirdTesting, hummingbird],
            exclude: ["empty-booth.jpg"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CheckpointServicesTests",
            dependencies: ["CheckpointServices", "CheckpointAdapters", "CheckpointCore", lifecycle, testKit, prometheus, logging,
                           .product(name: "InMemoryLogging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CheckpointReceiverTests",
            dependencies: ["CheckpointReceiver", "CheckpointCore", hummingbirdTesting, hummingbird, grdb],
            swiftSettings: swiftSettings
        ),
    ],
    cxxLanguageStandard: .cxx17
)

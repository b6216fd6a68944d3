// swift-tools-version:6.0
import PackageDescription

// C libraries come from Debian: libopenblas-dev, libyaml-dev, libpng-dev (see tools/bootstrap.sh).
let package = Package(
    name: "tedi",
    products: [
        .executable(name: "tedi", targets: ["tedi"]),
        .library(name: "TensorCore", targets: ["TensorCore"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        // libpng's error path is a longjmp; it is contained in C (Sources/CPNGShim) so Swift frames are never skipped.
        .target(name: "CPNGShim", path: "Sources/CPNGShim", linkerSettings: [.linkedLibrary("png16")]),
        // Re-executes with OPENBLAS_CORETYPE set when OpenBLAS falls back to generic kernels on a CPU it does not know.
        .target(name: "CBLASCore", path: "Sources/CBLASCore", linkerSettings: [.linkedLibrary("openblas")]),
        .target(name: "TensorCore", dependencies: ["CBLAS", "CBLASCore"]),
        .target(name: "Imaging", dependencies: ["TensorCore", "CPNGShim"]),
        .target(name: "Graph", dependencies: ["TensorCore", "Imaging", "CYAML"]),
        .target(name: "Models", dependencies: ["TensorCore", "Imaging", "SynthFaces", "Text"]),
        .target(name: "Text", dependencies: ["TensorCore", "SynthFaces"]),
        .target(name: "SynthFaces", dependencies: ["TensorCore", "Imaging"]),
        .target(name: "Nodes", dependencies: ["TensorCore", "Imaging", "Graph", "Models", "SynthFaces", "Text"], path: "Nodes"),
        .executableTarget(name: "tedi", dependencies: ["TensorCore", "Imaging", "Graph", "Models", "SynthFaces", "Text", "Nodes"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TensorCore"]),
        .testTarget(name: "SynthFacesTests", dependencies: ["SynthFaces", "Imaging", "TensorCore"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "TensorCore", "SynthFaces", "Imaging", "Text"], exclude: ["Fixtures"]),
        .testTarget(name: "TextTests", dependencies: ["Text", "SynthFaces", "TensorCore"]),
        .testTarget(name: "GraphTests", dependencies: ["Graph", "Nodes", "TensorCore", "Imaging", "Models", "Text"]),
        // Fixtures (tools/make_fixtures.py) are read from the source tree via #filePath.
    ],
    swiftLanguageModes: [.v5]
)

// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for tedi's untrusted-input readers. The project's modules are symlinked
// under Sources/ (SwiftPM keeps target paths inside the package), so this package compiles the
// same files with coverage + AddressSanitizer. Build and run with ../tools/fuzz.sh.
let package = Package(
    name: "TediFuzz",
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1"),
        .target(name: "CPNGShim", path: "Sources/CPNGShim", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "TensorCore", dependencies: ["CBLAS"], path: "Sources/TensorCore"),
        .target(name: "Imaging", dependencies: ["TensorCore", "CPNGShim"], path: "Sources/Imaging"),
        .target(name: "Graph", dependencies: ["TensorCore", "Imaging", "CYAML"], path: "Sources/Graph"),
        .target(name: "Models", dependencies: ["TensorCore"], path: "Sources/Models"),
        .target(name: "SynthFaces", dependencies: ["TensorCore", "Imaging"], path: "Sources/SynthFaces"),
        .target(name: "Nodes", dependencies: ["TensorCore", "Imaging", "Graph", "Models", "SynthFaces"], path: "Sources/Nodes"),
        .target(name: "CFuzzDriver", path: "Targets/CFuzzDriver"),
        .executableTarget(name: "FuzzGraph", dependencies: ["Graph", "Nodes", "CFuzzDriver"], path: "Targets/FuzzGraph"),
        .executableTarget(name: "FuzzPNG", dependencies: ["Graph", "Imaging", "Nodes", "CFuzzDriver"], path: "Targets/FuzzPNG"),
        .executableTarget(name: "FuzzSafeTensors", dependencies: ["TensorCore", "CFuzzDriver"], path: "Targets/FuzzSafeTensors"),
        .executableTarget(name: "FuzzNpy", dependencies: ["TensorCore", "CFuzzDriver"], path: "Targets/FuzzNpy"),
    ],
    swiftLanguageModes: [.v5]
)

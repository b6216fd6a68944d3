import CFuzzDriver
import Foundation
import TensorCore

// libFuzzer entry: bytes are a .npy file. A successful read must hold exactly shape-many items,
// and converting it to a tensor must either work or throw.
@main
enum FuzzNpyMain {
    static func main() {
        exit(tedi_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzNpy))
    }
}

let fuzzNpy: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    guard let data else { return 0 }
    return fuzzNpyBody(data, size)
}

func fuzzNpyBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let a = try? Npy.read(bytes: bytes) else { return 0 }
    if a.elementCount != a.shape.reduce(1, *) { fatalError("npy item count does not match its shape \(a.shape)") }
    _ = try? a.tensor()
    return 0
}

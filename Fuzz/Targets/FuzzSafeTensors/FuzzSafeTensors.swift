import CFuzzDriver
import Foundation
import TensorCore

// libFuzzer entry: bytes are a .safetensors file. A successful read must give tensors whose
// scalar counts match their shapes.
@main
enum FuzzSafeTensorsMain {
    static func main() {
        exit(tedi_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzSafeTensors))
    }
}

let fuzzSafeTensors: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    guard let data else { return 0 }
    return fuzzSafeTensorsBody(data, size)
}

func fuzzSafeTensorsBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let (tensors, _) = try? SafeTensors.read(bytes: bytes) else { return 0 }
    for (_, t) in tensors where t.scalars.count != t.shape.reduce(1, *) {
        fatalError("tensor scalars do not match its shape \(t.shape)")
    }
    return 0
}

import CFuzzDriver
import Foundation
import Graph
import Nodes

// libFuzzer entry: bytes are a graph file. Parsing and validation may throw (that is the point:
// clear errors); any crash, hang, leak past the RSS limit or sanitizer report is a finding.
// A graph that validates also has its params resolved for a few seeds, which runs `${name}`
// substitution and type coercion on the fuzzed values.
@main
enum FuzzGraphMain {
    static func main() {
        exit(tedi_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzGraph))
    }
}

let fuzzGraph: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    guard let data else { return 0 }
    return fuzzGraphBody(data, size)
}

func fuzzGraphBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? GraphFile.parse(bytes, path: "fuzz.yaml") else { return 0 }
    guard let plan = try? GraphValidator.validate(file, catalog: NodeCatalog.standard) else { return 0 }
    for seed in [0, 7] {
        for i in plan.nodes.indices { _ = try? plan.resolvedParams(i, seed: seed) }
    }
    return 0
}

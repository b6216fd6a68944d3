import Foundation
import Graph
import TensorCore

/// Every subcommand, in the order `tedi help` lists them.
let commands: [Command.Type] = [
    RunCommand.self,
    CheckCommand.self,
    PlanCommand.self,
    GraphCommand.self,
    NodesCommand.self,
    CacheCommand.self,
    DatasetCommand.self,
    BenchCommand.self,
    TrainCommand.self,
    ModelsCommand.self,
    EvalCommand.self,
    StatusCommand.self,
    SlurmCommand.self,
]

func printUsage() {
    var text = "usage: tedi COMMAND [ARGS]\n\ncommands:\n"
    for c in commands { text += "  " + c.name.padding(toLength: 10, withPad: " ", startingAt: 0) + c.summary + "\n" }
    text += "\n`tedi COMMAND --help` shows a command's options.\n"
    FileHandle.standardError.write(text.data(using: .utf8)!)
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write("tedi: error: \(message)\n".data(using: .utf8)!)
    exit(code)
}

var argv = Array(CommandLine.arguments.dropFirst())
guard let name = argv.first, !["help", "--help", "-h"].contains(name) else {
    printUsage()
    exit(argv.isEmpty ? 2 : 0)
}
guard let command = commands.first(where: { $0.name == name }) else {
    fail("unknown command '\(name)'; run `tedi help` for the list", code: 2)
}
argv.removeFirst()
if argv.contains("--help") || argv.contains("-h") {
    print(command.usage)
    exit(0)
}
Threads.configure()
do {
    exit(try command.run(argv))
} catch let e as UsageError {
    fail("\(e.description)\n\n\(command.usage)", code: 2)
} catch let e as GraphErrors {
    FileHandle.standardError.write((e.description + "\n").data(using: .utf8)!)
    exit(1)
} catch let e as NodeError {
    fail("\(e)", code: 3)
} catch {
    fail("\(error)", code: 1)
}

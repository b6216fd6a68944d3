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

/// tedi's version: the second wave (encoders, text, recipes that travel).
let tediVersion = "0.2.0"

func printUsage() {
    var text = "usage: tedi COMMAND [ARGS]\n\ncommands:\n"
    for c in commands { text += "  " + c.name.padding(toLength: 10, withPad: " ", startingAt: 0) + c.summary + "\n" }
    text += "\n`tedi COMMAND --help` shows a command's options; `tedi --version` the version, commit and BLAS kernels.\n"
    FileHandle.standardError.write(text.data(using: .utf8)!)
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write("tedi: error: \(message)\n".data(using: .utf8)!)
    exit(code)
}

/// The commit of the checkout this tedi runs from (the folder above its models), read from
/// `.git` without running git; nil outside a git checkout.
func checkoutCommit() -> String? {
    guard let root = ShippedModels.directory()?.deletingLastPathComponent() else { return nil }
    var git = root.appendingPathComponent(".git")
    // A worktree or submodule: .git is a file naming the real folder.
    if let text = try? String(contentsOf: git, encoding: .utf8), text.hasPrefix("gitdir:") {
        git = URL(fileURLWithPath: text.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines), relativeTo: root)
    }
    guard let head = try? String(contentsOf: git.appendingPathComponent("HEAD"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
    guard head.hasPrefix("ref: ") else { return head }
    let ref = String(head.dropFirst(5))
    if let loose = try? String(contentsOf: git.appendingPathComponent(ref), encoding: .utf8) { return loose.trimmingCharacters(in: .whitespacesAndNewlines) }
    let packed = (try? String(contentsOf: git.appendingPathComponent("packed-refs"), encoding: .utf8)) ?? ""
    return packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix { $0 != " " }) }
}

var argv = Array(CommandLine.arguments.dropFirst())
if argv.first == "--version" || argv.first == "version" {
    // What a bug report or a benchmark figure needs: the version, the checkout's commit, and the
    // kernels and threads this machine runs with.
    let commit = checkoutCommit().map { "commit \($0.prefix(12))" } ?? "not run from a git checkout"
    print("tedi \(tediVersion) (\(commit)); \(Threads.blasDescription), \(Threads.count) thread\(Threads.count == 1 ? "" : "s")")
    exit(0)
}
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

import Graph

/// A usage error: wrong flags or arguments. The CLI prints it with the command's usage and exits 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Minimal command-line parsing: `--name value`, `--name=value`, boolean `--flag`, positionals.
/// Call `finish()` at the end so unknown flags are reported instead of ignored.
struct Arguments {
    private var items: [String]
    private var used: [Bool]
    /// Every option and flag name the command asked about, for suggestions on a misspelt one.
    private var known: Set<String> = []

    init(_ args: [String]) {
        items = args
        used = [Bool](repeating: false, count: args.count)
    }

    /// The value of `--name V` or `--name=V` (the last one given wins), or nil.
    mutating func option(_ name: String) throws -> String? {
        known.insert(name)
        var value: String?
        var i = 0
        while i < items.count {
            if !used[i] {
                if items[i] == "--" + name {
                    guard i + 1 < items.count, !used[i + 1] else { throw UsageError("--\(name) needs a value") }
                    value = items[i + 1]
                    used[i] = true; used[i + 1] = true
                    i += 1
                } else if items[i].hasPrefix("--" + name + "=") {
                    value = String(items[i].dropFirst(name.count + 3))
                    used[i] = true
                }
            }
            i += 1
        }
        return value
    }

    /// Every value of a repeatable option, in order.
    mutating func options(_ name: String) throws -> [String] {
        known.insert(name)
        var values: [String] = []
        var i = 0
        while i < items.count {
            if !used[i] && items[i] == "--" + name {
                guard i + 1 < items.count else { throw UsageError("--\(name) needs a value") }
                values.append(items[i + 1]); used[i] = true; used[i + 1] = true; i += 1
            } else if !used[i] && items[i].hasPrefix("--" + name + "=") {
                values.append(String(items[i].dropFirst(name.count + 3))); used[i] = true
            }
            i += 1
        }
        return values
    }

    /// An integer option with a default; a non-integer value is a usage error.
    mutating func int(_ name: String, default value: Int) throws -> Int {
        guard let s = try option(name) else { return value }
        guard let v = Int(s) else { throw UsageError("--\(name) expects an integer, got '\(s)'") }
        return v
    }

    /// Whether `--name` was given.
    mutating func flag(_ name: String) -> Bool {
        known.insert(name)
        var found = false
        for i in items.indices where !used[i] && items[i] == "--" + name {
            used[i] = true
            found = true
        }
        return found
    }

    /// The remaining non-flag arguments, in order (consumes them).
    mutating func positionals() -> [String] {
        var out: [String] = []
        // Anything that looks like a flag ("-x", "--x") is left for `finish()` to report.
        for i in items.indices where !used[i] && !(items[i].hasPrefix("-") && items[i].count > 1) {
            used[i] = true
            out.append(items[i])
        }
        return out
    }

    /// The arguments nobody has consumed yet, in order.
    var remaining: [String] { items.indices.filter { !used[$0] }.map { items[$0] } }

    /// Throws a usage error naming any argument nobody consumed.
    func finish() throws {
        let rest = remaining
        guard !rest.isEmpty else { return }
        // A misspelt option: suggest the closest one this command knows.
        let hint = rest.first { $0.hasPrefix("--") }
            .flatMap { closestName(String($0.dropFirst(2).prefix { $0 != "=" }), in: known.sorted()) }
            .map { " (did you mean --\($0)?)" } ?? ""
        throw UsageError("unexpected argument\(rest.count > 1 ? "s" : ""): \(rest.joined(separator: " "))\(hint)")
    }
}

/// One `tedi` subcommand: a name, a one-line summary, a usage text, and `run`, which returns the
/// process exit code (0 ok, 1 invalid input, 2 usage, 3 a node failed at run time).
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static func run(_ args: [String]) throws -> Int32
}

/// A position in a source file, 1-based.
public struct FileLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// One compiler-style error: `FILE:LINE:COL: error: MESSAGE`.
public struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: FileLocation?
    public var message: String
    public init(_ message: String, at location: FileLocation?) {
        self.message = message
        self.location = location
    }
    public var description: String {
        if let location { return "\(location): error: \(message)" }
        return "tedi: error: \(message)"
    }
}

/// Every error found while loading or validating a graph, in source order.
public struct GraphErrors: Error, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Edit distance for did-you-mean suggestions.
func levenshtein(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count), cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}

/// The candidate closest to `word` within a small edit distance (ties: the first in sort order), or nil.
public func closestName(_ word: String, in candidates: [String]) -> String? {
    let w = word.lowercased()
    let scored = candidates.map { ($0, levenshtein(w, $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}

/// ` (did you mean 'X'?)` for the closest candidate within a small edit distance, else "".
public func didYouMean(_ word: String, in candidates: [String]) -> String {
    if let best = closestName(word, in: candidates) { return " (did you mean '\(best)'?)" }
    let w = word.lowercased()
    // A dotted name given without its namespace (`blend` for `image.blend`) or with the wrong one.
    guard !w.isEmpty else { return "" }
    let tail = w.split(separator: ".").last.map(String.init) ?? w
    let byTail = candidates.filter { ($0.lowercased().split(separator: ".").last.map(String.init) ?? "") == tail }.sorted()
    if !byTail.isEmpty { return " (did you mean \(byTail.map { "'\($0)'" }.joined(separator: " or "))?)" }
    return ""
}

import Foundation

/// A caption the text models could not read, with what to do about it.
public struct TextError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Words as the text models see them: Unicode-normalized (NFKC), lowercased, contractions opened
/// ("isn't" → "is not"), hyphens and slashes split ("middle-aged" → "middle aged"), a possessive
/// 's dropped, sentence marks kept as "," and "." tokens, other punctuation (quotes, brackets) a
/// word break, and everything else that is not a letter or digit (emoji, symbols, control
/// characters) dropped and counted.
public enum Tokenizer {
    /// Longest caption read, in characters (as `input.text`'s limit).
    public static let maxCharacters = 10_000
    /// Most words (and "," / "." marks) a caption may have after normalization.
    public static let maxWords = 64

    /// The words of `text`, and how many characters were dropped as neither letters, digits nor punctuation.
    /// Throws for text over `maxCharacters`, text with no words, and more than `maxWords` words.
    public static func words(_ text: String) throws -> (words: [String], dropped: Int) {
        guard text.count <= maxCharacters else {
            throw TextError("the caption is \(text.count) characters long; captions are read up to \(maxCharacters) — write a sentence or two about the face")
        }
        let s = text.precomposedStringWithCompatibilityMapping.lowercased()
        var words: [String] = []
        var current = ""
        var dropped = 0
        func flush() {
            guard !current.isEmpty else { return }
            words.append(contentsOf: expand(current).filter { !$0.isEmpty })
            current = ""
        }
        func mark(_ m: String) {
            flush()
            // Runs of marks ("!!", "...", ", .") collapse to the strongest one.
            if let last = words.last, last == "," || last == "." {
                if m == "." { words[words.count - 1] = "." }
            } else if !words.isEmpty {
                words.append(m)
            }
        }
        for ch in s {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if ch == "'" || ch == "’" || ch == "ʼ" || ch == "‘" || ch == "`" || ch == "´" {
                // Inside a word ("o'clock", "isn't"); quotes around words just end them.
                if !current.isEmpty { current.append("'") }
            } else if ch.isWhitespace || ch == "-" || ch == "‐" || ch == "–" || ch == "/" || ch == "_" || ch == "&" || ch == "+" {
                flush()
                if ch == "&" || ch == "+" { words.append("and") }
            } else if ch == "," || ch == ";" || ch == ":" || ch == "|" || ch == "(" || ch == ")" || ch == "—" {
                mark(",")
            } else if ch == "." || ch == "!" || ch == "?" || ch == "…" {
                mark(".")
            } else if ch.isPunctuation {
                // Quotes, brackets and other marks separate words and carry nothing.
                flush()
            } else {
                flush()
                dropped += 1
            }
        }
        flush()
        while let last = words.last, last == "," { words.removeLast() }
        guard words.contains(where: { $0 != "," && $0 != "." }) else {
            throw TextError("the caption has no words; describe the face, e.g. \"a smiling woman with long blond hair\"")
        }
        guard words.count <= maxWords else {
            throw TextError("the caption has \(words.count) words and marks; the text models read at most \(maxWords) — keep to what the face should show")
        }
        return (words, dropped)
    }

    /// One lowercased run of letters, digits and apostrophes as words: contractions opened, "'s" dropped.
    static func expand(_ w: String) -> [String] {
        var w = w
        while w.hasSuffix("'") { w.removeLast() }
        if w.isEmpty { return [] }
        let special: [String: [String]] = ["can't": ["can", "not"], "won't": ["will", "not"], "ain't": ["is", "not"],
                                           "cannot": ["can", "not"], "shan't": ["shall", "not"]]
        if let s = special[w] { return s }
        if w.hasSuffix("n't") { return [String(w.dropLast(3)), "not"] }
        if w.hasSuffix("'s") { return [String(w.dropLast(2))] }
        for (suffix, word) in [("'re", "are"), ("'ve", "have"), ("'ll", "will"), ("'m", "am"), ("'d", "would")] where w.hasSuffix(suffix) {
            return [String(w.dropLast(suffix.count)), word]
        }
        return [w]
    }
}

/// A text model's word list: ids 0 (padding) and 1 (unknown), then the words in sorted order.
/// Stored in a model file's `__metadata__` as `text.vocab`, the words joined by spaces.
public struct Vocabulary: Equatable, Sendable {
    public static let padding = 0
    public static let unknown = 1

    public let words: [String]
    private let index: [String: Int]

    /// `words` (deduplicated, sorted) after the two reserved ids.
    public init<S: Sequence>(_ words: S) where S.Element == String {
        self.words = Array(Set(words)).filter { !$0.isEmpty }.sorted()
        var ix: [String: Int] = [:]
        for (i, w) in self.words.enumerated() { ix[w] = i + 2 }
        index = ix
    }

    /// Ids including the reserved two.
    public var count: Int { words.count + 2 }

    public var metadataValue: String { words.joined(separator: " ") }

    public init(metadata value: String) { self.init(value.split(separator: " ").map(String.init)) }

    public func id(_ word: String) -> Int? { index[word] }

    /// A caption as ids: known words as themselves; an unknown word of 5+ letters within edit
    /// distance 1 (2 from 8 letters) of exactly the closest known words that begin with its
    /// letter — the first in sorted order on a tie — is read as that word and listed as
    /// corrected; any other unknown word becomes `unknown` and is listed.
    public func encode(_ text: String) throws -> EncodedText {
        let (ws, dropped) = try Tokenizer.words(text)
        var out = EncodedText(ids: [], unknown: [], corrected: [], droppedCharacters: dropped)
        for w in ws {
            if let i = index[w] {
                out.ids.append(i)
            } else if let fix = correction(w) {
                out.ids.append(index[fix]!)
                out.corrected.append(.init(from: w, to: fix))
            } else {
                out.ids.append(Vocabulary.unknown)
                // A mark the vocabulary lacks is not worth a note.
                if w != ",", w != ".", !out.unknown.contains(w) { out.unknown.append(w) }
            }
        }
        return out
    }

    /// The known word a misspelt `w` most likely means, or nil.
    func correction(_ w: String) -> String? {
        let n = w.count
        // Four-letter words are left alone: "make" is one letter from "male", "give" from "five".
        guard n >= 5, w.allSatisfy({ $0.isLetter }) else { return nil }
        let limit = n >= 8 ? 2 : 1
        var best: (Int, String)?
        let a = Array(w)
        // A correction never adds or strips what negates a word: "glassless" is not "glasses".
        let negations = (prefixes: ["un", "non", "no"], suffixes: ["less", "out"])
        func negated(_ s: String) -> (Bool, Bool) {
            (negations.prefixes.contains { s.hasPrefix($0) }, negations.suffixes.contains { s.hasSuffix($0) })
        }
        let wn = negated(w)
        // Typos keep a word's first letter far more often than not, and a real word the vocabulary
        // lacks often lies one letter from a known one there ("yellow" is not "fellow").
        for cand in words where cand.first == a.first && abs(cand.count - n) <= limit && cand.count >= 3 && negated(cand) == wn {
            let d = Vocabulary.distance(a, Array(cand), limit: limit)
            if d <= limit, best == nil || d < best!.0 { best = (d, cand) }
        }
        return best?.1
    }

    /// Damerau–Levenshtein (optimal string alignment) distance, or limit + 1 once it exceeds `limit`.
    static func distance(_ a: [Character], _ b: [Character], limit: Int) -> Int {
        let (n, m) = (a.count, b.count)
        if abs(n - m) > limit { return limit + 1 }
        var prev2 = [Int](repeating: 0, count: m + 1)
        var prev = Array(0...m)
        var cur = [Int](repeating: 0, count: m + 1)
        for i in 1...max(n, 1) where n > 0 {
            cur[0] = i
            var rowMin = cur[0]
            for j in 1...max(m, 1) where m > 0 {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { v = min(v, prev2[j - 2] + 1) }
                cur[j] = v
                rowMin = min(rowMin, v)
            }
            if rowMin > limit { return limit + 1 }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return n == 0 ? m : prev[m]
    }
}

/// A caption read by a `Vocabulary`.
public struct EncodedText: Equatable, Sendable {
    public struct Correction: Equatable, Sendable {
        public let from: String
        public let to: String
    }
    public var ids: [Int]
    /// Words outside the vocabulary (each once, in order of appearance).
    public var unknown: [String]
    /// Misspellings read as a known word.
    public var corrected: [Correction]
    /// Characters dropped as neither letters, digits nor punctuation (emoji, symbols, controls).
    public var droppedCharacters: Int

    /// Notes for a run's output: "unknown words: …", "read 'eyeglases' as 'eyeglasses'", dropped symbols.
    public var notes: [String] {
        var n: [String] = []
        // A very long "word" (pasted junk) is shown by its start only.
        let shown = unknown.map { $0.count > 40 ? String($0.prefix(40)) + "… (\($0.count) letters)" : $0 }
        if !unknown.isEmpty { n.append("unknown words: \(shown.joined(separator: ", ")) (not in the text model's vocabulary; they are ignored)") }
        for c in corrected { n.append("read '\(c.from)' as '\(c.to)'") }
        if droppedCharacters > 0 { n.append("ignored \(droppedCharacters) symbol\(droppedCharacters == 1 ? " that is" : "s that are") neither letters nor punctuation (emoji, controls)") }
        return n
    }
}

import CYAML

/// Entry points for loading YAML text into `YAMLNode` trees.
///
/// Loading is done on libyaml's event API with these rules:
/// - exactly one document: an empty file (or only comments) is an error, as is a second document;
/// - mapping keys are scalars, unique by their text (a duplicate is reported at the second key
///   and names the first's position); merge keys (`<<`) are not supported;
/// - tags: `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!` on scalars, `!!seq`/`!!map` (or `!`)
///   on collections; anything else is an error;
/// - anchors and aliases are supported; an alias is expanded by reference and counts the full
///   size of what it names against `Limits.maxNodes` and `Limits.maxExpandedScalarBytes`, so an
///   exponential "billion laughs" file fails after a few thousand events;
/// - every failure is a `YAMLError` with the file path and a 1-based line and column.
public enum YAML {
    /// Bounds that keep hostile or mistaken input from costing much time or memory.
    public struct Limits: Sendable {
        /// Largest input accepted, in bytes.
        public var maxBytes = 4 << 20
        /// Deepest nesting of sequences and mappings (after alias expansion).
        public var maxDepth = 64
        /// Most nodes in the tree after alias expansion (keys count as nodes).
        public var maxNodes = 100_000
        /// Most alias uses (`*name`) in one file.
        public var maxAliases = 1_000
        /// Most scalar bytes in the tree after alias expansion.
        public var maxExpandedScalarBytes = 16 << 20

        public init() {}

        /// 4 MiB, depth 64, 100 000 nodes, 1 000 aliases, 16 MiB of expanded scalar text.
        public static let standard = Limits()
    }

    /// Parses the single document in `text`; `path` is used in error messages only.
    public static func parse(_ text: String, path: String, limits: Limits = .standard) throws -> YAMLNode {
        try parse(Array(text.utf8), path: path, limits: limits)
    }

    /// Parses the single document in UTF-8 `bytes`; `path` is used in error messages only.
    public static func parse(_ bytes: [UInt8], path: String, limits: Limits = .standard) throws -> YAMLNode {
        if bytes.count > limits.maxBytes {
            throw YAMLError(path: path, line: 1, column: 1, message:
                "file is \(bytes.count) bytes, over the \(limits.maxBytes)-byte limit for YAML input; "
                + "split it or move data into separate files")
        }
        var loader = YAMLLoader(bytes: bytes, path: path, limits: limits)
        return try loader.run()
    }
}

/// What a subtree costs after alias expansion.
private struct ExpansionCost {
    var nodes = 1
    var scalarBytes = 0
    /// 0 for a scalar, 1 + the tallest child for a collection.
    var height = 0
}

/// A sequence or mapping whose end event has not come yet.
private struct OpenCollection {
    var isMapping: Bool
    var mark: YAMLMark
    var anchor: String?
    var items: [YAMLNode] = []
    var pairs: [YAMLPair] = []
    var pendingKey: YAMLNode?
    /// Key text → where it was first written, for duplicate detection.
    var keyMarks: [String: YAMLMark] = [:]
    var cost = ExpansionCost(nodes: 1, scalarBytes: 0, height: 1)
}

private struct YAMLLoader {
    let bytes: [UInt8]
    let path: String
    let limits: YAML.Limits

    var stack: [OpenCollection] = []
    var anchors: [String: (node: YAMLNode, cost: ExpansionCost)] = [:]
    var root: YAMLNode?
    var documents = 0
    var totalNodes = 0
    var totalScalarBytes = 0
    var aliasCount = 0

    init(bytes: [UInt8], path: String, limits: YAML.Limits) {
        // libyaml skips a UTF-8 byte-order mark only when it detects the encoding itself, and we
        // fix the encoding to UTF-8 so a UTF-16 file is an error rather than silently accepted.
        self.bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        self.path = path
        self.limits = limits
    }

    func error(_ mark: YAMLMark, _ message: String) -> YAMLError {
        YAMLError(path: path, mark: mark, message: message)
    }

    mutating func run() throws -> YAMLNode {
        guard !bytes.isEmpty else {
            throw error(YAMLMark(line: 1, column: 1), "file is empty; expected one YAML document")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else {
            throw error(YAMLMark(line: 1, column: 1), "could not start the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        return try bytes.withUnsafeBufferPointer { buffer in
            // libyaml reads `buffer` lazily during yaml_parser_parse, so all parsing stays in here.
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) != 0 else {
                    throw libyamlError(parser)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try handle(event)
            }
            guard let root else {
                throw error(YAMLMark(line: 1, column: 1),
                            "file holds no YAML document (only comments or blank lines)")
            }
            return root
        }
    }

    static func mark(_ m: yaml_mark_t) -> YAMLMark {
        YAMLMark(line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: p)
    }

    /// `tag:yaml.org,2002:int` → `!!int`; other tags unchanged.
    static func shortTag(_ tag: String?) -> String? {
        guard let tag else { return nil }
        let prefix = "tag:yaml.org,2002:"
        return tag.hasPrefix(prefix) ? "!!" + tag.dropFirst(prefix.count) : tag
    }

    mutating func handle(_ event: yaml_event_t) throws {
        let start = Self.mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            if documents > 0 {
                throw error(start, "a second YAML document starts here; a file must hold exactly one "
                            + "(remove the '---' separator or split the file)")
            }
        case YAML_DOCUMENT_END_EVENT:
            documents += 1
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text = s.value.map {
                String(decoding: UnsafeBufferPointer(start: $0, count: Int(s.length)), as: UTF8.self)
            } ?? ""
            let style: YAMLScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let tag = Self.shortTag(Self.string(s.tag))
            let value = try resolve(text, style: style, tag: tag, at: start)
            let node = YAMLNode(.scalar(YAMLScalar(text: text, style: style, tag: tag, value: value)), mark: start)
            let cost = ExpansionCost(nodes: 1, scalarBytes: text.utf8.count, height: 0)
            try add(node, cost: cost, anchor: Self.string(s.anchor))
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            try open(isMapping: false, at: start, tag: Self.shortTag(Self.string(s.tag)),
                     anchor: Self.string(s.anchor))
        case YAML_MAPPING_START_EVENT:
            let s = event.data.mapping_start
            try open(isMapping: true, at: start, tag: Self.shortTag(Self.string(s.tag)),
                     anchor: Self.string(s.anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let done = stack.popLast() else { return }
            let content: YAMLNode.Content = done.isMapping ? .mapping(done.pairs) : .sequence(done.items)
            try add(YAMLNode(content, mark: done.mark), cost: done.cost, anchor: done.anchor, counted: true)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            if stack.contains(where: { $0.anchor == name }) {
                throw error(start, "alias '*\(name)' refers to a node that contains it; recursive aliases are not supported")
            }
            guard let target = anchors[name] else {
                throw error(start, "unknown alias '*\(name)'; define the anchor '&\(name)' before using it")
            }
            aliasCount += 1
            if aliasCount > limits.maxAliases {
                throw error(start, "more than \(limits.maxAliases) aliases in one file (limit)")
            }
            var node = target.node
            node.mark = start
            try add(node, cost: target.cost, anchor: nil, alias: name)
        default:
            break
        }
    }

    func resolve(_ text: String, style: YAMLScalarStyle, tag: String?, at mark: YAMLMark) throws -> YAMLScalarValue {
        do {
            if let tag {
                guard ["!!str", "!", "!!int", "!!float", "!!bool", "!!null"].contains(tag) else {
                    throw error(mark, "unknown tag '\(tag)'; scalars may carry only !!str, !!int, !!float, !!bool or !!null")
                }
                return try YAMLCoreSchema.resolveTagged(text, tag: tag)
            }
            return style == .plain ? try YAMLCoreSchema.resolvePlain(text) : .string(text)
        } catch let failure as YAMLCoreSchema.Failure {
            switch failure {
            case .intOutOfRange:
                throw error(mark, "integer '\(text)' does not fit in 64 bits; quote it if it is meant as text")
            case .notA(let what):
                throw error(mark, "'\(text)' is tagged \(tag ?? "") but is not \(what)")
            }
        }
    }

    mutating func open(isMapping: Bool, at mark: YAMLMark, tag: String?, anchor: String?) throws {
        if let tag, tag != "!", tag != (isMapping ? "!!map" : "!!seq") {
            let allowed = isMapping ? "!!map" : "!!seq"
            throw error(mark, "unknown tag '\(tag)' on a \(isMapping ? "mapping" : "sequence"); only \(allowed) is allowed here")
        }
        if let top = stack.last, top.isMapping, top.pendingKey == nil {
            throw error(mark, "a \(isMapping ? "mapping" : "sequence") used as a mapping key is not supported; keys must be scalars")
        }
        if stack.count + 1 > limits.maxDepth {
            throw error(mark, "nesting is deeper than \(limits.maxDepth) levels (limit)")
        }
        try count(ExpansionCost(nodes: 1, scalarBytes: 0, height: 1), at: mark, alias: nil)
        stack.append(OpenCollection(isMapping: isMapping, mark: mark, anchor: anchor))
    }

    /// Adds `cost` to the document totals, failing when a limit is crossed.
    mutating func count(_ cost: ExpansionCost, at mark: YAMLMark, alias: String?) throws {
        totalNodes += cost.nodes
        totalScalarBytes += cost.scalarBytes
        let via = alias.map { "alias '*\($0)' expands the document to" } ?? "document has"
        if totalNodes > limits.maxNodes {
            throw error(mark, "\(via) more than \(limits.maxNodes) nodes (limit; aliases count the full size of what they name)")
        }
        if totalScalarBytes > limits.maxExpandedScalarBytes {
            throw error(mark, "\(via) more than \(limits.maxExpandedScalarBytes) bytes of scalar text (limit; aliases count the full size of what they name)")
        }
        if stack.count + cost.height > limits.maxDepth {
            throw error(mark, "nesting is deeper than \(limits.maxDepth) levels (limit) once alias '*\(alias ?? "")' is expanded")
        }
    }

    /// Places a finished node in its parent (or as the root). `counted` is true for collections,
    /// whose own node was counted when they opened and whose children were counted as they came.
    mutating func add(_ node: YAMLNode, cost: ExpansionCost, anchor: String?, alias: String? = nil,
                      counted: Bool = false) throws {
        if !counted {
            try count(cost, at: node.mark, alias: alias)
        }
        if let anchor {
            anchors[anchor] = (node, cost)
        }
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        stack[top].cost.nodes += cost.nodes
        stack[top].cost.scalarBytes += cost.scalarBytes
        stack[top].cost.height = max(stack[top].cost.height, cost.height + 1)
        if !stack[top].isMapping {
            stack[top].items.append(node)
            return
        }
        guard let key = stack[top].pendingKey else {
            try checkKey(node, alias: alias, in: stack[top])
            stack[top].keyMarks[node.scalar?.text ?? ""] = node.mark
            stack[top].pendingKey = node
            return
        }
        stack[top].pairs.append(YAMLPair(key: key, value: node))
        stack[top].pendingKey = nil
    }

    func checkKey(_ key: YAMLNode, alias: String?, in mapping: OpenCollection) throws {
        guard let scalar = key.scalar else {
            throw error(key.mark, "alias '*\(alias ?? "")' names \(key.kindDescription), which cannot be a mapping key; keys must be scalars")
        }
        if scalar.style == .plain, scalar.tag == nil, scalar.text == "<<" {
            throw error(key.mark, "merge keys ('<<') are not supported; write the keys out in full")
        }
        if let first = mapping.keyMarks[scalar.text] {
            throw error(key.mark, "duplicate key '\(scalar.text)' (first defined at line \(first.line), column \(first.column))")
        }
    }

    /// libyaml's own problem text at its problem position, with its context when it gives one.
    func libyamlError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown YAML syntax error"
        switch parser.error {
        case YAML_MEMORY_ERROR:
            return error(YAMLMark(line: 1, column: 1), "out of memory while parsing YAML")
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset rather than a mark.
            let mark = markOfByte(Int(parser.problem_offset))
            var message = problem
            if parser.problem_value >= 0 {
                message += " (#\(String(parser.problem_value, radix: 16, uppercase: true)))"
            }
            return error(mark, message + "; the file must be UTF-8 text")
        default:
            let mark = Self.mark(parser.problem_mark)
            var message = problem
            if let context = parser.context.map({ String(cString: $0) }) {
                message += " (\(context) at \(Self.mark(parser.context_mark)))"
            }
            if documents > 0 {
                message += "; a file must hold exactly one YAML document"
            }
            if lineIndentedWithTab(mark.line) {
                message += "; tabs cannot indent YAML, use spaces"
            }
            return error(mark, message)
        }
    }

    /// Line and column of byte `offset`, counting lines by '\n' and columns by UTF-8 lead bytes.
    func markOfByte(_ offset: Int) -> YAMLMark {
        var line = 1, column = 1
        for b in bytes.prefix(max(0, offset)) {
            if b == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return YAMLMark(line: line, column: column)
    }

    /// Whether line `line` (1-based, split on '\n') starts with whitespace containing a tab.
    func lineIndentedWithTab(_ line: Int) -> Bool {
        var current = 1
        var atIndent = true
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if current == line { return false }
                current += 1
                atIndent = true
                continue
            }
            guard current == line, atIndent else { continue }
            if b == UInt8(ascii: "\t") { return true }
            if b != UInt8(ascii: " ") { atIndent = false }
        }
        return false
    }
}

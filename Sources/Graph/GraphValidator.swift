import Foundation

/// A validated graph, ready to run: params after `--set`, and the nodes that feed a writer in a
/// deterministic topological order (ties broken by declaration order).
public struct GraphPlan {
    public var file: GraphFile
    /// Where the files the graph names are (its folder, and any a recipe rerun found elsewhere).
    public var files: FileLocations
    /// Directory that input paths resolve against.
    public var baseDirectory: URL { files.base }
    /// How recipes name the graph: the rerun PNG's own name for it, so the new PNG embeds the same
    /// text; nil = `Recipe.portableGraphPath` of the file.
    public var recipeGraphPath: String?
    /// Every declared param (plus `seed`) after `--set`, by name.
    public var params: [String: ParamValue]
    /// Declared param names in file order (`seed` first when implicit).
    public var paramOrder: [String]
    /// Nodes to run, in execution order.
    public var nodes: [PlannedNode]
    /// Declared nodes that feed no writer and so never run.
    public var unusedNodes: [String]
    /// Declared params (other than `seed`) that no node or model refers to as `${name}`: a
    /// `--set` of one changes nothing.
    public var unusedParams: [String] = []
    /// Nodes' notes from checking ("node 'id': unknown words: …"), in run order.
    public var notes: [String] = []
    /// The graph's `models:` section, resolved.
    public var models: [String: ModelRef] = [:]
    /// Whether writers may write outside `--out` (absolute paths, `..`).
    public var allowOutsideOut = false

    public struct PlannedNode {
        public var id: String
        public var spec: NodeSpec
        public var decl: GraphFile.NodeDecl
        /// Connections in declaration order: input port ← (index into `nodes`, output port of that node).
        public var inputs: [(port: String, node: Int, srcPort: String)]
        public var outputTypes: [String: ValueType]
    }

    /// Resolved params of node `index` when the graph runs with `seed`.
    public func resolvedParams(_ index: Int, seed: Int) throws -> [String: ParamValue] {
        var p = params
        p["seed"] = .int(seed)
        var errors: [Diagnostic] = []
        var r = GraphValidator.resolveParams(nodes[index].decl, spec: nodes[index].spec, params: p, file: file,
                                             allowOutsideOut: allowOutsideOut, errors: &errors)
        GraphValidator.bindModels(&r, spec: nodes[index].spec, node: nodes[index].decl, models: models, file: file, errors: &errors)
        if !errors.isEmpty { throw GraphErrors(errors) }
        return r
    }
}

extension GraphPlan {
    /// Every file a node with these resolved params reads, by param name: its `inputPath` params
    /// and the weights of the models its `.model` params name, each as a recipe names it and
    /// where it is.
    public func fileReferences(_ params: [String: ParamValue], spec: NodeSpec) -> [String: (ref: FileRef, url: URL)] {
        var out: [String: (ref: FileRef, url: URL)] = [:]
        for ps in spec.params {
            guard let p = params[ps.name]?.stringValue, !p.isEmpty else { continue }   // "" = not given
            switch ps.type {
            case .inputPath: out[ps.name] = (.path(p), files.url(p))
            case .model: if let m = models[p] { out[ps.name] = (m.fileRef, m.url) }
            default: break
            }
        }
        return out
    }
}

/// Checks a `GraphFile` against a `Catalog` and builds a `GraphPlan`, reporting every error found.
public enum GraphValidator {
    /// Validates `file`. `sets` are `--set key=value` overrides in command-line order.
    /// `allowOutsideOut` lets writers use absolute paths and `..` (a graph or recipe from someone
    /// else should not, so it is off unless the user asks).
    /// `locations` places files a recipe rerun found away from where the graph's text points.
    public static func validate(_ file: GraphFile, catalog: Catalog, sets: [(String, String)] = [],
                                seed: Int? = nil, allowOutsideOut: Bool = false,
                                locations: FileLocations? = nil) throws -> GraphPlan {
        var errors: [Diagnostic] = []
        func err(_ m: String, _ at: YAMLMark?) { errors.append(Diagnostic(m, at: at.map(file.location))) }

        // Params: typed by their default values.
        var params: [String: ParamValue] = [:]
        var paramOrder: [String] = []
        for p in file.params {
            guard let v = literal(p.value), p.value.scalar?.value != .null else {
                err("param '\(p.name)' needs a default value (a number, string or bool)", p.value.mark)
                continue
            }
            if params[p.name] != nil { err("param '\(p.name)' is declared twice", p.value.mark); continue }
            params[p.name] = v
            paramOrder.append(p.name)
        }
        if params["seed"] == nil {
            params["seed"] = .int(0)
            paramOrder.insert("seed", at: 0)
        } else if params["seed"]?.intValue == nil {
            err("param 'seed' must be an integer", file.params.first { $0.name == "seed" }?.value.mark)
        }
        for (key, text) in sets {
            guard let current = params[key] else {
                err("--set \(key)=\(text): the graph declares no param '\(key)'\(didYouMean(key, in: paramOrder)); declared: \(paramOrder.joined(separator: ", "))", nil)
                continue
            }
            switch coerce(text, like: current) {
            case let .success(v): params[key] = v
            case let .failure(m): err("--set \(key)=\(text): \(m.message)", nil)
            }
        }
        if let seed { params["seed"] = .int(seed) }

        let files = locations ?? FileLocations(base: URL(fileURLWithPath: file.path).deletingLastPathComponent().standardizedFileURL)
        let models = resolveModels(file, files: files, params: params, errors: &errors)

        // Nodes: ops, params, ports.
        if file.nodes.count > GraphLimits.maxNodes {
            err("the graph declares \(file.nodes.count) nodes, more than the limit of \(GraphLimits.maxNodes); split it into smaller graphs", file.nodes[GraphLimits.maxNodes].mark)
            throw GraphErrors(errors)
        }
        var ids = [String: Int]()
        for (i, n) in file.nodes.enumerated() {
            if ids[n.id] != nil { err("node '\(n.id)' is declared twice", n.mark) } else { ids[n.id] = i }
        }
        let allIDs = file.nodes.map(\.id)
        var specs = [NodeSpec?](repeating: nil, count: file.nodes.count)
        var edges = [[(port: String, src: Int, srcPort: String, mark: YAMLMark)]](repeating: [], count: file.nodes.count)
        var resolved = [[String: ParamValue]](repeating: [:], count: file.nodes.count)
        // Nodes whose own params failed: their op checks and type inference would only echo that error.
        var badParams = Set<Int>()
        for (i, n) in file.nodes.enumerated() {
            guard let spec = catalog[n.op] else {
                err("unknown op '\(n.op)'\(didYouMean(n.op, in: catalog.names)); run `tedi nodes` for the list", n.opMark)
                continue
            }
            specs[i] = spec
            let before = errors.count
            resolved[i] = resolveParams(n, spec: spec, params: params, file: file, allowOutsideOut: allowOutsideOut, errors: &errors)
            bindModels(&resolved[i], spec: spec, node: n, models: models, file: file, errors: &errors)
            if errors.count != before { badParams.insert(i) }
            var connected = Set<String>()
            for input in n.inputs {
                var port = input.port
                if port == nil {
                    if spec.inputs.count == 1 {
                        port = spec.inputs[0].name
                    } else {
                        err(spec.inputs.isEmpty
                            ? "op '\(n.op)' takes no inputs"
                            : "op '\(n.op)' has several inputs (\(spec.inputs.map(\.name).joined(separator: ", "))); write in: { PORT: source }", input.mark)
                        continue
                    }
                }
                guard let portName = port, let portSpec = spec.input(portName) else {
                    err("op '\(n.op)' has no input '\(port ?? "")'\(didYouMean(port ?? "", in: spec.inputs.map(\.name)))\(spec.inputs.isEmpty ? " (it takes no inputs)" : "; inputs: " + spec.inputs.map(\.name).joined(separator: ", "))", input.portMark)
                    continue
                }
                if !connected.insert(portName).inserted && !portSpec.multiple {
                    err("input '\(portName)' of node '\(n.id)' is connected twice", input.portMark)
                }
                guard let src = ids[input.source] else {
                    err("node '\(n.id)': source node '\(input.source)' does not exist\(didYouMean(input.source, in: allIDs))", input.mark)
                    continue
                }
                edges[i].append((portName, src, input.sourcePort ?? "", input.mark))
            }
            for p in spec.inputs where !p.optional && !connected.contains(p.name) {
                if n.inputs.contains(where: { $0.port == nil && spec.inputs.count != 1 }) { continue }
                err("node '\(n.id)' (\(n.op)) needs input '\(p.name)' (\(p.accepts.map(\.rawValue).joined(separator: " or ")))", n.mark)
            }
        }
        // Source ports (need the source's spec).
        for i in edges.indices {
            edges[i] = edges[i].compactMap { e in
                guard let srcSpec = specs[e.src] else { return nil }
                let names = srcSpec.outputs.map(\.name)
                if e.srcPort.isEmpty {
                    guard let first = names.first else {
                        err("node '\(file.nodes[e.src].id)' (\(srcSpec.name)) has no output to connect", e.mark)
                        return nil
                    }
                    return (e.port, e.src, first, e.mark)
                }
                guard names.contains(e.srcPort) else {
                    err("node '\(file.nodes[e.src].id)' (\(srcSpec.name)) has no output '\(e.srcPort)'\(didYouMean(e.srcPort, in: names)); outputs: \(names.joined(separator: ", "))", e.mark)
                    return nil
                }
                return e
            }
        }

        // Cycles, then a deterministic topological order (Kahn; ties by declaration order).
        let deps = edges.map { $0.map(\.src) }
        if var cycle = findCycle(deps), let first = cycle.min(), let k = cycle.firstIndex(of: first) {
            cycle = Array(cycle[k...] + cycle[..<k])   // start at the cycle's first declared node
            let path = (cycle + [cycle[0]]).map { file.nodes[$0].id }.joined(separator: " -> ")
            err("cycle: \(path)", file.nodes[cycle[0]].mark)
        }
        // Type checking goes on after structural errors so that all errors are reported at once;
        // nodes on a cycle are left out of the order and so are not typed.
        let order = topologicalOrder(deps)

        // Types along edges, in order.
        var types = [[String: ValueType]](repeating: [:], count: file.nodes.count)
        var advice = [[String]](repeating: [], count: file.nodes.count)
        for i in order {
            guard let spec = specs[i] else { continue }
            var inputTypes: [String: ValueType] = [:]
            for e in edges[i] {
                guard let t = types[e.src][e.srcPort], let portSpec = spec.input(e.port) else { continue }
                if !portSpec.accepts.contains(t.kind) {
                    err("type mismatch: input '\(e.port)' of '\(file.nodes[i].id)' (\(spec.name)) takes \(portSpec.accepts.map(\.rawValue).joined(separator: " or ")), but '\(file.nodes[e.src].id)\(e.srcPort == specs[e.src]?.outputs.first?.name ? "" : "." + e.srcPort)' gives \(t)", e.mark)
                    continue   // a wrong type must not flow on into inferred output types
                }
                inputTypes[e.port] = t
            }
            let ctx = NodeTypingContext(params: resolved[i], inputTypes: inputTypes, files: files, models: models)
            // Input files must exist before anything runs.
            for ps in spec.params where ps.type == .inputPath {
                guard let url = ctx.inputPath(ps.name) else { continue }
                var isDir: ObjCBool = false
                if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) || isDir.boolValue {
                    let mark = file.nodes[i].params.first { $0.name == ps.name }?.value.mark ?? file.nodes[i].mark
                    let written = resolved[i][ps.name]?.description ?? ""
                    err("node '\(file.nodes[i].id)': \(isDir.boolValue ? "is a directory" : "no such file"): '\(written)' (looked for \(url.path))\(isDir.boolValue ? "" : files.workingDirectoryHint(written))", mark)
                }
            }
            var out: [String: ValueType] = [:]
            for o in spec.outputs { out[o.name] = ValueType(o.kind) }
            types[i] = out
            if badParams.contains(i) { continue }
            if let infer = spec.inferTypes { out.merge(infer(ctx)) { _, new in new } }
            types[i] = out
            for problem in spec.check?(ctx) ?? [] {
                let mark = problem.param.flatMap { name in file.nodes[i].params.first { $0.name == name }?.value.mark } ?? file.nodes[i].mark
                err("node '\(file.nodes[i].id)': \(problem.message)", mark)
            }
            advice[i] = (spec.advise?(ctx) ?? []).map { "node '\(file.nodes[i].id)': \($0)" }
        }

        // A declared model of a kind no node takes is most often the wrong file (an attribute
        // network given as the generator, which the nodes then replace by the shipped one): a note,
        // and an error beside the others when the graph fails, as it may be their cause.
        var modelNotes: [(String, YAMLMark)] = []
        if specs.allSatisfy({ $0 != nil }) {   // an unknown op might have been the taker
            let took = Set(specs.compactMap { $0 }.flatMap { $0.params.filter { $0.type == .model }.map(\.modelKind) })
            for m in file.models {
                guard let ref = models[m.name], !ref.shipped, !took.contains(ref.kind) else { continue }
                modelNotes.append(("model '\(m.name)' is \(ModelRef.phrase(ref.kind)), and no node here takes one (they take \(took.sorted().map(ModelRef.phrase).joined(separator: ", "))); is it the file you meant?", m.mark))
            }
        }

        // Only what feeds a writer runs.
        var needed = Set<Int>()
        var stack = file.nodes.indices.filter { specs[$0]?.writes == true }   // also writers behind a cycle
        if stack.isEmpty {
            err("the graph has no writer node (write.png, write.grid, write.npy …), so running it would produce nothing", nil)
        }
        while let i = stack.popLast() {
            guard needed.insert(i).inserted else { continue }
            stack.append(contentsOf: deps[i])
        }
        if !errors.isEmpty {
            for (m, mark) in modelNotes { err(m, mark) }
            throw GraphErrors(sorted(errors))
        }

        let runOrder = order.filter { needed.contains($0) }
        var position = [Int: Int]()
        for (k, i) in runOrder.enumerated() { position[i] = k }
        let planned = runOrder.map { i -> GraphPlan.PlannedNode in
            let inputs = edges[i].map { (port: $0.port, node: position[$0.src]!, srcPort: $0.srcPort) }
            return GraphPlan.PlannedNode(id: file.nodes[i].id, spec: specs[i]!, decl: file.nodes[i], inputs: inputs, outputTypes: types[i])
        }
        return GraphPlan(file: file, files: files, params: params, paramOrder: paramOrder, nodes: planned,
                         unusedNodes: file.nodes.indices.filter { !needed.contains($0) }.map { file.nodes[$0].id },
                         unusedParams: paramOrder.filter { $0 != "seed" && !referencedParams(file).contains($0) },
                         notes: modelNotes.map(\.0) + runOrder.flatMap { advice[$0] }, models: models, allowOutsideOut: allowOutsideOut)
    }

    /// The names every `${name}` in the graph's node params and model declarations refers to
    /// (`$$` is a literal dollar, not a reference).
    static func referencedParams(_ file: GraphFile) -> Set<String> {
        var names = Set<String>()
        func scan(_ n: YAMLNode) {
            switch n.content {
            case let .scalar(s):
                guard case let .string(t) = s.value else { return }
                var rest = Substring(t)
                while let dollar = rest.firstIndex(of: "$") {
                    let next = rest.index(after: dollar)
                    guard next < rest.endIndex else { break }
                    if rest[next] == "$" { rest = rest[rest.index(after: next)...]; continue }
                    guard rest[next] == "{", let close = rest[next...].firstIndex(of: "}") else { rest = rest[next...]; continue }
                    names.insert(String(rest[rest.index(after: next)..<close]))
                    rest = rest[rest.index(after: close)...]
                }
            case let .sequence(items): items.forEach(scan)
            case let .mapping(pairs): pairs.forEach { scan($0.value) }
            }
        }
        for n in file.nodes { n.params.forEach { scan($0.value) } }
        for m in file.models { scan(m.path); m.config.forEach { scan($0.value) } }
        return names
    }

    static func sorted(_ d: [Diagnostic]) -> [Diagnostic] {
        // Command-line errors (no location) first, then by position; stable otherwise.
        d.enumerated().sorted { a, b in
            let la = a.element.location, lb = b.element.location
            switch (la, lb) {
            case (nil, nil): return a.offset < b.offset
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?): return (x.line, x.column, a.offset) < (y.line, y.column, b.offset)
            }
        }.map(\.element)
    }

    /// The typed value of a YAML scalar (plain scalars per the YAML core schema, quoted ones as strings).
    static func literal(_ node: YAMLNode) -> ParamValue? {
        if let items = node.sequence {
            let parts = items.compactMap { $0.text }
            guard parts.count == items.count else { return nil }
            return .string(parts.joined(separator: ","))
        }
        guard let s = node.scalar else { return nil }
        switch s.value {
        case let .int(i): return .int(i)
        case let .float(f): return .float(f)
        case let .bool(b): return .bool(b)
        case let .string(t): return .string(t)
        case .null: return .string("")
        }
    }

    /// Converts `--set` text to the type of the param's default.
    static func coerce(_ text: String, like current: ParamValue) -> Result<ParamValue, ParamTypeMismatch> {
        switch current {
        case .int:
            guard let v = Int(text) else { return .failure(ParamTypeMismatch(message: "expected int, got '\(text)'")) }
            return .success(.int(v))
        case .float:
            guard let v = Double(text), v.isFinite else { return .failure(ParamTypeMismatch(message: "expected float, got '\(text)'")) }
            return .success(.float(v))
        case .bool:
            guard text == "true" || text == "false" else { return .failure(ParamTypeMismatch(message: "expected bool (true or false), got '\(text)'")) }
            return .success(.bool(text == "true"))
        case .string:
            return .success(.string(text))
        }
    }

    /// Resolves a node's params: `${name}` substitution, defaults, type coercion.
    static func resolveParams(_ n: GraphFile.NodeDecl, spec: NodeSpec, params: [String: ParamValue],
                              file: GraphFile, allowOutsideOut: Bool = false, errors: inout [Diagnostic]) -> [String: ParamValue] {
        var out: [String: ParamValue] = [:]
        for (name, node, keyMark) in n.params {
            guard let ps = spec.param(name) else {
                let known = spec.params.map(\.name)
                errors.append(Diagnostic("op '\(spec.name)' has no param '\(name)'\(didYouMean(name, in: known + ["in"]))\(known.isEmpty ? "" : "; params: " + known.joined(separator: ", "))", at: file.location(keyMark)))
                continue
            }
            guard let raw = literal(node) else {
                errors.append(Diagnostic("param '\(name)' of '\(n.id)' must be a scalar (\(ps.type))", at: file.location(node.mark)))
                continue
            }
            switch substitute(raw, params: params) {
            case let .failure(m):
                errors.append(Diagnostic(m.message, at: file.location(node.mark)))
            case let .success(v):
                switch ps.type.coerce(v) {
                case let .success(c):
                    if ps.type == .outputPath, !allowOutsideOut, let s = c.stringValue, let why = ParamType.outputPathEscape(s) {
                        errors.append(Diagnostic("param '\(name)' of '\(n.id)' (\(spec.name)): \(why)", at: file.location(node.mark)))
                    } else {
                        out[name] = c
                    }
                case let .failure(m):
                    errors.append(Diagnostic("param '\(name)' of '\(n.id)' (\(spec.name)): \(m.message)", at: file.location(node.mark)))
                }
            }
        }
        for ps in spec.params where out[ps.name] == nil && !n.params.contains(where: { $0.name == ps.name }) {
            if let d = ps.defaultValue {
                if case let .success(v) = substitute(d, params: params), case let .success(c) = ps.type.coerce(v) { out[ps.name] = c }
            } else {
                errors.append(Diagnostic("node '\(n.id)' (\(spec.name)) needs param '\(ps.name)' (\(ps.type)): \(ps.doc)", at: file.location(n.mark)))
            }
        }
        return out
    }

    /// `${name}` substitution: a value that is exactly `${name}` takes the param's typed value;
    /// otherwise each `${name}` is replaced by its text. `$$` is a literal `$`.
    static func substitute(_ v: ParamValue, params: [String: ParamValue]) -> Result<ParamValue, ParamTypeMismatch> {
        guard case let .string(s) = v, s.contains("$") else { return .success(v) }
        if s.hasPrefix("${"), s.hasSuffix("}"), s.dropFirst(2).dropLast().allSatisfy({ $0 != "}" && $0 != "$" }) {
            let name = String(s.dropFirst(2).dropLast())
            guard let p = params[name] else {
                return .failure(ParamTypeMismatch(message: "unresolved '${\(name)}': no param '\(name)'\(didYouMean(name, in: Array(params.keys)))"))
            }
            return .success(p)
        }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            let next = s.index(after: i)
            if c == "$", next < s.endIndex, s[next] == "$" {
                out.append("$"); i = s.index(after: next); continue
            }
            if c == "$", next < s.endIndex, s[next] == "{" {
                guard let close = s[next...].firstIndex(of: "}") else {
                    return .failure(ParamTypeMismatch(message: "unterminated '${' in '\(s)'"))
                }
                let name = String(s[s.index(after: next)..<close])
                guard let p = params[name] else {
                    return .failure(ParamTypeMismatch(message: "unresolved '${\(name)}': no param '\(name)'\(didYouMean(name, in: Array(params.keys)))"))
                }
                out += p.description
                i = s.index(after: close)
                continue
            }
            out.append(c)
            i = next
        }
        return .success(.string(out))
    }

    /// Some cycle of the dependency graph (`deps[i]` = sources of i), as node indices, or nil.
    static func findCycle(_ deps: [[Int]]) -> [Int]? {
        var state = [UInt8](repeating: 0, count: deps.count)   // 0 new, 1 on stack, 2 done
        var stack: [Int] = []
        func visit(_ i: Int) -> [Int]? {
            state[i] = 1
            stack.append(i)
            for d in deps[i] {
                if state[d] == 1, let k = stack.firstIndex(of: d) {
                    // Report in data-flow order: source first.
                    return Array(stack[k...]).reversed()
                }
                if state[d] == 0, let c = visit(d) { return c }
            }
            stack.removeLast()
            state[i] = 2
            return nil
        }
        for i in deps.indices where state[i] == 0 {
            if let c = visit(i) { return c }
        }
        return nil
    }

    /// Kahn's algorithm, always taking the ready node declared first.
    static func topologicalOrder(_ deps: [[Int]]) -> [Int] {
        var indegree = deps.map { Set($0).count }
        var users = [[Int]](repeating: [], count: deps.count)
        for (i, ds) in deps.enumerated() { for d in Set(ds) { users[d].append(i) } }
        var ready = Set(deps.indices.filter { indegree[$0] == 0 })
        var order: [Int] = []
        while let i = ready.min() {
            ready.remove(i)
            order.append(i)
            for u in users[i] {
                indegree[u] -= 1
                if indegree[u] == 0 { ready.insert(u) }
            }
        }
        return order
    }
}

import Foundation

/// One op of the catalog, declared in one place: name, version, typed ports, typed params with
/// defaults and docs, and the function that runs it. Validation, `--set` coercion, `tedi nodes`
/// and memo keys all read this declaration.
public struct NodeSpec {
    public var name: String
    /// Bumped when the op's results change for the same inputs; part of every memo key.
    public var version: Int
    public var summary: String
    public var inputs: [PortSpec]
    /// Output ports; the first is the default when a source names only the node.
    public var outputs: [(name: String, kind: ValueKind)]
    public var params: [ParamSpec]
    /// Whether the op produces files under `--out` (a writer). Only nodes that feed a writer run.
    public var writes: Bool
    /// Refines output types from params and input types (e.g. the layer count of a latent).
    public var inferTypes: ((NodeTypingContext) -> [String: ValueType])?
    /// Op-specific checks beyond types; each returned message becomes an error at the node.
    public var check: ((NodeTypingContext) -> [(message: String, param: String?)])?
    /// Notes on what is known before running (unknown words of an inline caption); `tedi check`,
    /// `plan` and `run` print them. They never stop a graph.
    public var advise: ((NodeTypingContext) -> [String])?
    /// Computes the outputs. Writers return the files to write in `NodeResult.files`.
    public var run: (NodeContext) throws -> NodeResult

    public init(name: String, version: Int = 1, summary: String, inputs: [PortSpec] = [],
                outputs: [(name: String, kind: ValueKind)], params: [ParamSpec] = [], writes: Bool = false,
                inferTypes: ((NodeTypingContext) -> [String: ValueType])? = nil,
                check: ((NodeTypingContext) -> [(message: String, param: String?)])? = nil,
                advise: ((NodeTypingContext) -> [String])? = nil,
                run: @escaping (NodeContext) throws -> NodeResult) {
        self.name = name
        self.version = version
        self.summary = summary
        self.inputs = inputs
        self.outputs = outputs
        self.params = params
        self.writes = writes
        self.inferTypes = inferTypes
        self.check = check
        self.advise = advise
        self.run = run
    }

    public func param(_ name: String) -> ParamSpec? { params.first { $0.name == name } }
    public func input(_ name: String) -> PortSpec? { inputs.first { $0.name == name } }
}

/// What type inference and op checks see: resolved params and the types on the input ports.
public struct NodeTypingContext {
    public var params: [String: ParamValue]
    public var inputTypes: [String: ValueType]
    /// Where the graph's files are, for ops that peek at an input file's header to type their output.
    public var files: FileLocations
    /// The graph's models, by name (for ops that read a model's config to type their output).
    public var models: [String: ModelRef] = [:]

    /// Where an `inputPath` param points, or nil when it is empty.
    public func inputPath(_ name: String) -> URL? {
        guard let p = params[name]?.stringValue, !p.isEmpty else { return nil }
        return files.url(p)
    }
}

/// What a node's `run` sees.
public struct NodeContext {
    public var nodeID: String
    public var params: [String: ParamValue]
    /// Values on each input port (several for a `multiple` port, in declaration order).
    public var inputs: [String: [Value]]
    public var seed: Int
    /// Absolute paths of `inputPath` params, resolved against the graph's directory.
    public var inputPaths: [String: URL]
    /// Models named by this node's `.model` params, by param name.
    public var models: [String: ModelRef] = [:]
    /// The resolved recipe to embed in written files (see `Recipe`).
    public var recipe: String
    /// Reports progress of long work (step, total).
    public var progress: (Int, Int) -> Void
    /// True once the user asked to stop (Ctrl-C); long loops should throw `NodeCancelled`.
    public var isCancelled: () -> Bool
    /// Where a long-running node saves progress so a killed run resumes (nil without a cache).
    public var checkpoint: Checkpoint? = nil

    public func int(_ name: String) -> Int { params[name]?.intValue ?? 0 }
    public func double(_ name: String) -> Double { params[name]?.doubleValue ?? 0 }
    public func string(_ name: String) -> String { params[name]?.stringValue ?? params[name]?.description ?? "" }
    public func bool(_ name: String) -> Bool { params[name]?.boolValue ?? false }

    /// The value on input port `name`, or an error naming the node and port.
    public func input(_ name: String) throws -> Value {
        guard let v = inputs[name]?.first else { throw NodeError("node '\(nodeID)': nothing connected to input '\(name)'") }
        return v
    }

    /// The model a `.model` param names.
    public func model(_ param: String = "model") throws -> ModelRef {
        guard let m = models[param] else { throw NodeError("node '\(nodeID)': no model for param '\(param)'") }
        return m
    }

    /// The resolved location of an `inputPath` param, or an error when it was not given.
    public func inputPath(_ name: String) throws -> URL {
        guard let u = inputPaths[name] else { throw NodeError("node '\(nodeID)': param '\(name)' (a file to read) is not set") }
        return u
    }

    /// Every value on a `multiple` input port, in order (empty when nothing is connected).
    public func inputList(_ name: String) -> [Value] { inputs[name] ?? [] }
}

/// The result of running a node: its output values by port, and for writers the files to write
/// (relative path under `--out` → bytes). The runner writes files atomically, never the node.
public struct NodeResult {
    public var outputs: [String: Value]
    public var files: [(path: String, bytes: [UInt8])]
    /// What the user should know about how the node treated its inputs ("resized 512×512 → 64×64");
    /// kept with the result in the cache, so a rerun from the cache says it again.
    public var notes: [String]
    public init(outputs: [String: Value] = [:], files: [(path: String, bytes: [UInt8])] = [], notes: [String] = []) {
        self.outputs = outputs
        self.files = files
        self.notes = notes
    }
}

/// A failure while running a node (exit code 3).
public struct NodeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Thrown when a run is interrupted.
public struct NodeCancelled: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}

/// The set of ops a graph may use.
public struct Catalog {
    public private(set) var specs: [String: NodeSpec] = [:]
    public init(_ specs: [NodeSpec] = []) { for s in specs { register(s) } }
    public mutating func register(_ s: NodeSpec) { specs[s.name] = s }
    public subscript(_ name: String) -> NodeSpec? { specs[name] }
    public var names: [String] { specs.keys.sorted() }
}

import Foundation
import Graph
import Models
import TensorCore

/// Models loaded once per process, by kind, weights file and graph config: generators,
/// attribute networks and encoders, each read with the config its file's `__metadata__` carries
/// (a generator's may come from the graph instead).
final class ModelStore: @unchecked Sendable {
    static let shared = ModelStore()
    private let lock = NSLock()
    private var generators: [String: StyleGAN2Generator] = [:]
    private var attributeNets: [String: AttributeNet] = [:]
    private var encoders: [String: LatentEncoder] = [:]
    private var parsers: [String: FaceParser] = [:]
    private var textEncoders: [String: TextEncoder] = [:]
    private var similarities: [String: SimilarityModel] = [:]
    private var computed: [String: Tensor] = [:]

    /// `load()` once per `key` in `cache`.
    private func loaded<M>(_ cache: ReferenceWritableKeyPath<ModelStore, [String: M]>, _ key: String, _ load: () throws -> M) throws -> M {
        lock.lock(); defer { lock.unlock() }
        if let m = self[keyPath: cache][key] { return m }
        let m = try load()
        self[keyPath: cache][key] = m
        return m
    }

    /// The attribute network in `m`'s file.
    func attributes(_ m: ModelRef) throws -> AttributeNet {
        try loaded(\.attributeNets, m.url.path) { try AttributeNet.load(m.url.path) }
    }

    /// The encoder in `m`'s file.
    func encoder(_ m: ModelRef) throws -> LatentEncoder {
        try loaded(\.encoders, m.url.path) { try LatentEncoder.load(m.url.path) }
    }

    /// The face parser in `m`'s file.
    func parser(_ m: ModelRef) throws -> FaceParser {
        try loaded(\.parsers, m.url.path) { try FaceParser.load(m.url.path) }
    }

    /// The text encoder in `m`'s file.
    func textEncoder(_ m: ModelRef) throws -> TextEncoder {
        try loaded(\.textEncoders, m.url.path) { try TextEncoder.load(m.url.path) }
    }

    /// The similarity model in `m`'s file.
    func similarity(_ m: ModelRef) throws -> SimilarityModel {
        try loaded(\.similarities, m.url.path) { try SimilarityModel.load(m.url.path) }
    }

    /// The graph's inline config as a StyleGAN2 config, or nil to use the file's `__metadata__`.
    static func config(_ m: ModelRef) throws -> StyleGAN2Config? {
        var meta: [String: String] = [:]
        for (k, v) in m.config { meta[k] = v.description }
        return try StyleGAN2Config.fromMetadata(meta, source: "model '\(m.name)' in the graph")
    }

    func generator(_ m: ModelRef) throws -> StyleGAN2Generator {
        try loaded(\.generators, m.url.path + "|" + m.canonicalConfig) {
            try StyleGAN2Generator.load(path: m.url.path, config: try ModelStore.config(m))
        }
    }

    /// `make()` computed once per model and `what`.
    private func memo(_ what: String, _ m: ModelRef, _ make: () throws -> Tensor) throws -> Tensor {
        let key = what + "|" + m.url.path + "|" + m.canonicalConfig
        lock.lock()
        if let t = computed[key] { lock.unlock(); return t }
        lock.unlock()
        let t = try make()
        lock.lock(); computed[key] = t; lock.unlock()
        return t
    }

    /// rosinality's mean latent (4096 z from Philox seed 0), computed once per model.
    func meanLatent(_ m: ModelRef, _ g: StyleGAN2Generator) throws -> Tensor {
        try memo("mean", m) { try g.meanLatent(count: 4096, seed: 0) }
    }

    /// A model's config read from its graph config or file header (nil when unknown).
    static func knownConfig(_ m: ModelRef) -> StyleGAN2Config? {
        if let c = try? config(m) { return c }
        guard let f = try? SafeTensors.File(path: m.url.path) else { return nil }
        return try? StyleGAN2Config.fromMetadata(f.metadata, source: m.url.path)
    }

    /// The mean condition term over the same 4096 z (nil for a plain generator), computed once per model.
    func meanConditionTerm(_ m: ModelRef, _ g: StyleGAN2Generator) throws -> Tensor? {
        guard g.config.conditioning else { return nil }
        return try memo("condition", m) { try g.meanConditionTerm(count: 4096, seed: 0)! }
    }

    /// The layer count of a model's W+ read from its file header or graph config (nil when unknown).
    static func layers(_ m: ModelRef) -> Int? { knownConfig(m)?.nLatent }

    /// The W+ layer count an encoder file produces, from its header (nil when unreadable).
    static func encoderLayers(_ m: ModelRef) -> Int? {
        guard let f = try? SafeTensors.File(path: m.url.path) else { return nil }
        return (try? LatentEncoder.Config(metadata: f.metadata, path: m.url.path))?.nLatent
    }
}

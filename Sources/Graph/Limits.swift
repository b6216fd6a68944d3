/// Bounds on a graph as a whole. Per-format bounds live beside their readers: `YAML.Limits`
/// (file size, nesting depth, aliases), `PNG.Limits` (pixels), `SafeTensors.maxHeaderLength`,
/// `Npy.maxHeaderLength`, `Tensor.maxElementCount`, `SeedSpec.maxSeeds`; RELIABILITY.md lists them all.
public enum GraphLimits {
    /// Most nodes one graph may declare. Far above any hand-written recipe; generated graphs that
    /// need more should be split (validation and planning stay well under a second at this size).
    public static let maxNodes = 10_000
}

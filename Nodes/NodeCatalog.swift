import Graph

/// The shipped node catalog. Each op is declared once, in its own file, as a `NodeSpec`.
public enum NodeCatalog {
    public static let standard = Catalog([
        InputOps.text, InputOps.image, InputOps.sketch, InputOps.label,
        ImageOps.resize, ImageOps.grayscale, ImageOps.blend, ImageOps.edgeSketch, ImageOps.colorizeLabels,
        SynthFacesOps.sample,
        GeneratorOps.sample, GeneratorOps.map, GeneratorOps.synthesize,
        LatentOps.input, LatentOps.mix,
        EncoderOps.encodeImage, EncoderOps.optimize, LayoutOps.encodeSketch, LayoutOps.encodeLabel, LayoutOps.parseFace, TextOps.encodeText, TextOps.editText,
        WriteOps.png, WriteOps.grid, LatentOps.writeNpy, WriteOps.text,
    ])
}

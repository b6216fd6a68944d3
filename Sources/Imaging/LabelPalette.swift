/// The 19 semantic classes of CelebAMask-HQ, as TediGAN's label maps use them, and the
/// conventional colour for each (the dataset's own visualisation palette).
public enum FaceClasses {
    public static let names = ["background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow",
                               "l_ear", "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r",
                               "neck_l", "neck", "cloth"]

    /// RGB colour of each class id, index = id.
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255), (204, 0, 204),
        (0, 255, 255), (255, 204, 204), (102, 51, 0), (255, 0, 0), (102, 204, 0), (255, 255, 0),
        (0, 0, 153), (0, 0, 204), (255, 51, 153), (0, 204, 204), (0, 51, 0), (255, 153, 51), (0, 204, 0),
    ]

    /// The class whose palette colour is exactly (r, g, b), if any.
    public static func classID(r: UInt8, g: UInt8, b: UInt8) -> Int? {
        palette.firstIndex { $0.0 == r && $0.1 == g && $0.2 == b }
    }

    /// Interleaved RGB of class ids drawn in the palette (3 bytes per id). Ids ≥ 19 are drawn white.
    public static func colorPixels(_ ids: [UInt8]) -> [UInt8] {
        var px = [UInt8](repeating: 255, count: ids.count * 3)
        for (i, id) in ids.enumerated() where Int(id) < palette.count {
            let c = palette[Int(id)]
            px[3 * i] = c.0; px[3 * i + 1] = c.1; px[3 * i + 2] = c.2
        }
        return px
    }

    /// RGB image of class ids drawn in the palette.
    public static func colorize(ids: [UInt8], width: Int, height: Int) throws -> Image {
        try Image(width: width, height: height, channels: 3, pixels: colorPixels(ids))
    }
}

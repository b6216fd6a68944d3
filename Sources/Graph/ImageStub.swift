// TEMPORARY until the Imaging module lands.
public struct Image: Equatable {
    public var width: Int, height: Int, channels: Int, pixels: [UInt8]
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}

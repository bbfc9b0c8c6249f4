import CImage
import Foundation

/// An image as 8-bit RGB rows, top row first: bytes [height, width, 3].
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(bytes.count == width * height * 3, "\(bytes.count) bytes for a \(width) x \(height) RGB image")
        (self.width, self.height, self.bytes) = (width, height, bytes)
    }

    /// Decodes a PNG or JPEG file with libpng / libjpeg (the libraries Pillow decodes with): gray and palette images
    /// become RGB and transparency is composited onto white, as transformers' processors convert them.
    public static func decode(path: String) throws -> RGBImage {
        try RegularFile.requireFileOrDirectory(path)
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        guard mop_decode_image(path, &pixels, &width, &height, &message, message.count) == 0, let pixels else {
            throw MopError(file: path, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { free(pixels) }
        let count = Int(width) * Int(height) * 3
        return RGBImage(width: Int(width), height: Int(height), bytes: Array(UnsafeBufferPointer(start: pixels, count: count)))
    }
}

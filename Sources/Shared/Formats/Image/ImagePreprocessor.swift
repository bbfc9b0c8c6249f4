import Foundation

/// A checkpoint's `preprocessor_config.json` (transformers' CLIP image processor, which LLaVA-1.5's is) and what it
/// does to an image: resize (the shortest edge to a size, or to a height and width) with Pillow's filter, centre
/// crop, rescale to [0, 1] and normalise by channel, giving the vision tower's pixel values. Or llama.cpp's for a
/// LLaVA-1.5 mmproj (`letterbox`): the whole image fitted into the square, the rest filled with one colour.
public struct ImagePreprocessor: Sendable {
    public static let fileName = "preprocessor_config.json"

    enum Size: Equatable, Sendable {
        case shortestEdge(Int)
        case exact(height: Int, width: Int)
    }

    let resize: Size?
    let filter: PillowResample.Filter
    let crop: (height: Int, width: Int)?
    let rescale: Double?
    let normalize: (mean: [Float], std: [Float])?
    /// The side of the square the image is fitted into (aspect kept, the scaled size rounded up) and the RGB colour
    /// around it, as llama.cpp's mtmd resizes with PAD_CEIL.
    let letterbox: (side: Int, fill: [UInt8])?

    /// The preprocessor_config.json beside the model at `directory`.
    public static func read(directory: String) throws -> ImagePreprocessor {
        let path = (directory as NSString).appendingPathComponent(fileName)
        return try ImagePreprocessor(data: try RegularFile.read(path), file: path)
    }

    /// Parses the file's keys, the CLIP processor's defaults for absent ones.
    init(data: Data, file: String) throws {
        let fields = try JSONFields(data: data, file: file)
        resize = try fields.optionalBool("do_resize") ?? true ? try Self.size(fields, "size") : nil
        let code = try fields.optionalInt("resample") ?? PillowResample.Filter.bicubic.rawValue
        guard let filter = PillowResample.Filter(rawValue: code) else {
            throw MopError(file: file, "unsupported resample \(code) (2: bilinear, 3: bicubic)")
        }
        self.filter = filter
        if try fields.optionalBool("do_center_crop") ?? true {
            guard case .exact(let height, let width) = try Self.size(fields, "crop_size") else {
                throw MopError(file: file, "crop_size must give height and width")
            }
            crop = (height, width)
        } else {
            crop = nil
        }
        rescale = try fields.optionalBool("do_rescale") ?? true ? try fields.optionalDouble("rescale_factor") ?? 1.0 / 255 : nil
        if try fields.optionalBool("do_normalize") ?? true {
            let mean = try Self.triple(fields, "image_mean", default: [0.48145466, 0.4578275, 0.40821073])
            let std = try Self.triple(fields, "image_std", default: [0.26862954, 0.26130258, 0.27577711])
            guard std.allSatisfy({ $0 > 0 }) else { throw MopError(file: file, "image_std must be positive") }
            normalize = (mean, std)
        } else {
            normalize = nil
        }
        letterbox = nil
    }

    /// llama.cpp's fixed-size preprocessing: letterboxed into `side` x `side` with Pillow's bicubic filter, rescaled
    /// to [0, 1] and normalised by `mean` and `std` (3 each).
    init(letterboxTo side: Int, fill: [UInt8], mean: [Float], std: [Float]) {
        resize = nil
        filter = .bicubic
        crop = nil
        rescale = 1.0 / 255
        normalize = (mean, std)
        letterbox = (side, fill)
    }

    private static func size(_ fields: JSONFields, _ key: String) throws -> Size {
        if fields.object[key] is NSNumber, let side = try fields.optionalInt(key, in: 1...16384) { return .exact(height: side, width: side) }
        guard let size = try fields.optionalObject(key) else { throw MopError(file: fields.file, "key \(key) is missing") }
        if let edge = try size.optionalInt("shortest_edge", in: 1...16384) { return .shortestEdge(edge) }
        return .exact(height: try size.int("height", in: 1...16384), width: try size.int("width", in: 1...16384))
    }

    private static func triple(_ fields: JSONFields, _ key: String, default values: [Double]) throws -> [Float] {
        guard let given = fields.object[key] else { return values.map(Float.init) }
        guard let numbers = given as? [NSNumber], numbers.count == 3 else {
            throw MopError(file: fields.file, "key \(key) must list 3 numbers (one per channel)")
        }
        return numbers.map { $0.floatValue }
    }

    /// The size `image` is resized to: the shortest edge to `edge` and the other in proportion, truncated
    /// (transformers' get_resize_output_image_size), or the exact size.
    func resizedSize(of image: RGBImage) -> (height: Int, width: Int) {
        switch resize {
        case nil: return (image.height, image.width)
        case .exact(let height, let width): return (height, width)
        case .shortestEdge(let edge):
            let short = min(image.width, image.height), long = max(image.width, image.height)
            let other = Int(Double(edge) * Double(long) / Double(short))
            return image.width <= image.height ? (other, edge) : (edge, other)
        }
    }

    /// Pixel values [3, height, width] (channel first) of `image`, as the processor computes them; `file` names the image in errors.
    public func pixels(of image: RGBImage, file: String) throws -> (values: [Float], height: Int, width: Int) {
        let image = letterbox.map { fitted(image, side: $0.side, fill: $0.fill) } ?? image
        let (height, width) = resizedSize(of: image)
        let resized = PillowResample.resize(image.bytes, width: image.width, height: image.height,
                                            newWidth: width, newHeight: height, filter: filter)
        let (cropHeight, cropWidth) = crop ?? (height, width)
        guard cropHeight <= height, cropWidth <= width else {
            throw MopError(file: file, "the image resized to \(width) x \(height) is smaller than the crop \(cropWidth) x \(cropHeight)")
        }
        let top = (height - cropHeight) / 2, left = (width - cropWidth) / 2
        var values = [Float](repeating: 0, count: 3 * cropHeight * cropWidth)
        for channel in 0..<3 {
            for row in 0..<cropHeight {
                for column in 0..<cropWidth {
                    var value = Float(resized[((top + row) * width + left + column) * 3 + channel])
                    if let rescale { value = Float(Double(value) * rescale) }
                    if let normalize { value = (value - normalize.mean[channel]) / normalize.std[channel] }
                    values[(channel * cropHeight + row) * cropWidth + column] = value
                }
            }
        }
        return (values, cropHeight, cropWidth)
    }

    /// `image` scaled into a `side` x `side` canvas of `fill`, centred: llama.cpp's img_tool::resize with PAD_CEIL
    /// (its single-precision scale and rounding kept, so the same sizes come out).
    private func fitted(_ image: RGBImage, side: Int, fill: [UInt8]) -> RGBImage {
        guard image.width != side || image.height != side else { return image }
        let scale = min(Float(side) / Float(image.width), Float(side) / Float(image.height))
        let width = min(Int((Float(image.width) * scale).rounded(.up)), side)
        let height = min(Int((Float(image.height) * scale).rounded(.up)), side)
        let scaled = PillowResample.resize(image.bytes, width: image.width, height: image.height,
                                           newWidth: width, newHeight: height, filter: filter)
        var canvas = [UInt8]((0..<side * side).flatMap { _ in fill })
        let left = (side - width) / 2, top = (side - height) / 2
        for row in 0..<height {
            let target = ((top + row) * side + left) * 3
            canvas.replaceSubrange(target..<target + width * 3, with: scaled[row * width * 3..<(row + 1) * width * 3])
        }
        return RGBImage(width: side, height: side, bytes: canvas)
    }
}

/// Pillow's `Image.resize` of 8-bit RGB (Resample.c), which transformers' image processors call: separable passes,
/// horizontal then vertical, each output sample a fixed-point (22 fraction bits) sum of the input samples under the
/// filter stretched by the downscale factor, rounded and clipped to a byte after each pass. Reproduced operation for
/// operation, so that mop's pixels are the bytes Pillow gives (ImagePreprocessorTests compares them).
enum PillowResample {
    /// Pillow's `resample` codes mop computes (`PIL.Image.Resampling`).
    enum Filter: Int, Sendable {
        case bilinear = 2
        case bicubic = 3

        /// How far the filter reaches, in input samples at scale 1.
        var support: Double { self == .bilinear ? 1 : 2 }

        func value(_ x: Double) -> Double {
            let x = abs(x)
            switch self {
            case .bilinear:
                return x < 1 ? 1 - x : 0
            case .bicubic:
                let a = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            }
        }
    }

    static let precisionBits = 22

    /// RGB bytes [height, width, 3] resized to [newHeight, newWidth, 3]; a dimension already of its size is not
    /// resampled. The rows go first unless the height shrinks by more than twice what the width does (Pillow 10.1 on:
    /// the order changes the bytes, as each pass rounds).
    static func resize(_ pixels: [UInt8], width: Int, height: Int, newWidth: Int, newHeight: Int, filter: Filter) -> [UInt8] {
        func horizontal(_ image: [UInt8], lines: Int) -> [UInt8] {
            pass(image, count: width, newCount: newWidth, lines: lines, sampleStride: 3, lineStride: width * 3,
                 newSampleStride: 3, newLineStride: newWidth * 3, filter: filter)
        }
        func vertical(_ image: [UInt8], lines: Int) -> [UInt8] {
            pass(image, count: height, newCount: newHeight, lines: lines, sampleStride: lines * 3, lineStride: 3,
                 newSampleStride: lines * 3, newLineStride: 3, filter: filter)
        }
        let horizontalFirst = !(height - newHeight > 0 && height - newHeight > (width - newWidth) * 2)
        var image = pixels
        if horizontalFirst {
            if newWidth != width { image = horizontal(image, lines: height) }
            if newHeight != height { image = vertical(image, lines: newWidth) }
        } else {
            if newHeight != height { image = vertical(image, lines: width) }
            if newWidth != width { image = horizontal(image, lines: newHeight) }
        }
        return image
    }

    /// One pass along `count` samples of each of `lines` lines (rows for the horizontal pass, columns for the vertical).
    private static func pass(_ input: [UInt8], count: Int, newCount: Int, lines: Int, sampleStride: Int, lineStride: Int,
                             newSampleStride: Int, newLineStride: Int, filter: Filter) -> [UInt8] {
        let taps = coefficients(inSize: count, outSize: newCount, filter: filter)
        var output = [UInt8](repeating: 0, count: newCount * lines * 3)
        let half = 1 << (precisionBits - 1), top = 1 << (precisionBits + 8)
        for line in 0..<lines {
            for (index, tap) in taps.enumerated() {
                for channel in 0..<3 {
                    var sum = half
                    for (offset, weight) in tap.weights.enumerated() {
                        sum += Int(input[line * lineStride + (tap.first + offset) * sampleStride + channel]) * weight
                    }
                    output[line * newLineStride + index * newSampleStride + channel] =
                        sum >= top ? 255 : sum <= 0 ? 0 : UInt8(sum >> precisionBits)
                }
            }
        }
        return output
    }

    /// Pillow's `precompute_coeffs` and `normalize_coeffs_8bpc`: for each output sample, its first input sample and
    /// the fixed-point weights of the input samples from there on.
    static func coefficients(inSize: Int, outSize: Int, filter: Filter) -> [(first: Int, weights: [Int])] {
        let scale = Double(inSize) / Double(outSize), filterScale = max(scale, 1)
        let support = filter.support * filterScale, reciprocal = 1 / filterScale
        return (0..<outSize).map { index in
            let center = (Double(index) + 0.5) * scale
            let first = max(0, Int(center - support + 0.5)), end = min(inSize, Int(center + support + 0.5))
            var weights = (first..<max(first, end)).map { filter.value((Double($0) - center + 0.5) * reciprocal) }
            var total = 0.0
            for weight in weights { total += weight }
            if total != 0 { weights = weights.map { $0 / total } }
            let unit = Double(1 << precisionBits)
            return (first, weights.map { Int($0 < 0 ? -0.5 + $0 * unit : 0.5 + $0 * unit) })
        }
    }
}

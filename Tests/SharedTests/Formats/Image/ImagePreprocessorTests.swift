import XCTest
@testable import Shared

/// The fixture's PNG decoded, resized, cropped and normalised as the CLIP processor of transformers (with Pillow) did it
/// (scripts/make-llava-fixture.py): the same pixel values; Pillow's resize to other sizes and both pass orders: the
/// same bytes.
final class ImagePreprocessorTests: XCTestCase {
    struct Resizes: Decodable {
        /// [width, height, filter, FNV-1a of the bytes in hex]
        let resizes: [[Resize]]
        enum Resize: Decodable {
            case number(Int), text(String)
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let n = try? c.decode(Int.self) { self = .number(n) } else { self = .text(try c.decode(String.self)) }
            }
        }
    }

    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return String(format: "%016llx", hash)
    }

    func image() throws -> RGBImage { try RGBImage.decode(path: LlavaFixture.path.appendingPathComponent("image.png").path) }

    func testPixelValuesEqualTransformers() throws {
        let image = try image()
        XCTAssertEqual([image.width, image.height], [48, 40])
        let preprocessor = try ImagePreprocessor.read(directory: LlavaFixture.path.path)
        let (values, height, width) = try preprocessor.pixels(of: image, file: "image.png")
        XCTAssertEqual([height, width], [32, 32])
        let expected = try LlavaFixture.reference().image.pixel_values
        XCTAssertEqual(values.count, expected.count)
        XCTAssertLessThan(zip(values, expected).map { abs($0 - $1) }.max() ?? 1, 1e-6)
    }

    func testResizeBytesEqualPillow() throws {
        let image = try image()
        let data = try Data(contentsOf: LlavaFixture.path.appendingPathComponent("reference.json"))
        let entries = try JSONDecoder().decode(Resizes.self, from: data).resizes
        XCTAssertEqual(entries.count, 8)
        for entry in entries {
            guard case .number(let width) = entry[0], case .number(let height) = entry[1], case .number(let code) = entry[2],
                  case .text(let hash) = entry[3], let filter = PillowResample.Filter(rawValue: code) else {
                return XCTFail("malformed resize entry")
            }
            let bytes = PillowResample.resize(image.bytes, width: image.width, height: image.height,
                                              newWidth: width, newHeight: height, filter: filter)
            XCTAssertEqual(Self.fnv1a(bytes), hash, "\(width) x \(height), filter \(code)")
        }
    }

    /// Not an image, a truncated PNG, an unknown filter: errors naming the file.
    func testMalformedInputsAreRefused() throws {
        let directory = try SafetensorsTestSupport.temporaryDirectory(self)
        let text = directory + "/text.png", truncated = directory + "/truncated.png"
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: text))
        let png = try Data(contentsOf: LlavaFixture.path.appendingPathComponent("image.png"))
        try png.prefix(100).write(to: URL(fileURLWithPath: truncated))
        for (path, message) in [(text, "neither a PNG nor a JPEG"), (truncated, "corrupt PNG")] {
            XCTAssertThrowsError(try RGBImage.decode(path: path)) { error in
                XCTAssertTrue("\(error)".contains(message) && "\(error)".contains(path), "\(error)")
            }
        }
        for (json, message) in [(#"{"size": {"shortest_edge": 8}, "crop_size": 8, "resample": 1}"#, "unsupported resample 1"),
                                (#"{"size": {"shortest_edge": 8}, "crop_size": {"height": 8}}"#, "width is missing"),
                                (#"{"size": 8, "crop_size": 8, "image_mean": [0.5, 0.5]}"#, "image_mean must list 3 numbers")] {
            XCTAssertThrowsError(try ImagePreprocessor(data: Data(json.utf8), file: "p.json")) { error in
                XCTAssertTrue("\(error)".contains(message) && "\(error)".contains("p.json"), "\(error)")
            }
        }
    }
}

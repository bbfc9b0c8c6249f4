import Foundation
import Shared

/// The eyes of a LLaVA given on the command line: its vision tower and projector with the preprocessing of its images,
/// from the mmproj file beside a language-model GGUF (`--mmproj`) or from the LLaVA directory itself.
struct LlavaEyes {
    let vision: LlavaVision
    let preprocessor: ImagePreprocessor
    /// The file that describes the preprocessing, named in its errors.
    let preprocessorFile: String

    /// The eyes of the model at `model` (language model `text`, tokenizer `tokenizer`): the mmproj's when one is
    /// given, else the directory's own; nil for a model without any.
    static func find(model: String, text: ModelConfig, tokenizer: TokenizerSpec, mmproj: String?) throws -> LlavaEyes? {
        let directory = ModelLoader.resolve(model), format = try ModelLoader.format(of: directory)
        if let mmproj {
            guard format == .gguf else { throw MopError(file: model, "--mmproj goes with a language model GGUF; a LLaVA directory holds its own tower") }
            // Without an <image> token (GGUFs made from liuhaotian's checkpoint), the unknown token marks the place.
            let token = tokenizer.vocabulary.firstIndex(of: LlavaVision.marker).map(Int32.init) ?? tokenizer.unkTokenId ?? 0
            let (vision, preprocessor) = try GGUFMmproj.read(path: mmproj, text: text, imageTokenId: token)
            return LlavaEyes(vision: vision, preprocessor: preprocessor, preprocessorFile: mmproj)
        }
        guard format == .huggingFace, let vision = try LlavaVision.load(path: directory, text: text) else { return nil }
        return LlavaEyes(vision: vision, preprocessor: try ImagePreprocessor.read(directory: directory),
                         preprocessorFile: (directory as NSString).appendingPathComponent(ImagePreprocessor.fileName))
    }

    /// How the model's prompts take an image, for the calibration set.
    func imageTokens(_ tokenizer: TokenizerSpec) -> CalibrationSet.ImageTokens {
        CalibrationSet.ImageTokens(id: vision.config.imageTokenId, count: vision.config.imageTokens,
                                   markerIsToken: tokenizer.vocabulary.contains(LlavaVision.marker))
    }

    /// The projected features [imageTokens, hidden] of the image file at `path`.
    func features(ofImage path: String) throws -> [Float] {
        try vision.features(ofImage: path, preprocessor: preprocessor, preprocessorFile: preprocessorFile)
    }
}

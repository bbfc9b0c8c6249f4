/// A GGUF export made ready by `GGUFWriter.prepare`: the key-values and every tensor in file order, with its type and
/// its rows made on demand. Written whole (one file, or the parts of `--split-max-size`) by one process, or a file at a
/// time by the pipeline stages holding the tensors (`begin`): a tensor another stage holds is in every header but its
/// data is written only by its stage, or sent to the rank writing a single file (`forEachEncodedPanel`).
public struct GGUFExport {
    let metadata: [(key: String, value: GGUFValue)]
    let tensors: [GGUFTensorData]
    /// The tensors' Hugging Face names, in file order.
    public let hfNames: [String]

    /// Each tensor's data bytes padded to the alignment, in file order: what a split is cut by.
    public var alignedSizes: [Int] { tensors.map { GGUFFileWriter.aligned($0.byteCount) } }

    /// The data bytes of tensor `index` (before the alignment's padding).
    public func byteCount(_ index: Int) -> Int { tensors[index].byteCount }

    /// The file, or with `split` the parts gguf-split would write beside `path` (when the tensors need more than one),
    /// each through a temporary name, all renamed into place once every one is complete. The paths written.
    @discardableResult
    public func write(to path: String, split: SplitSize?) throws -> [String] {
        try GGUFFileWriter.write(metadata: metadata, tensors: tensors, to: path, split: split)
    }

    /// The files `writing` (indices into `parts`) of the export cut into `parts` (ranges of the tensors in file order,
    /// `SplitSize.parts`: one range is the single file `path`, more the parts gguf-split names beside it), written and
    /// returned uncommitted, to be committed once every file of the export is complete. `data` appends tensor `index`'s
    /// `byteCount` bytes (by default its rows encoded here).
    public func begin(to path: String, parts: [Range<Int>], writing: [Int],
                      data: ((Int, AtomicFileWriter) throws -> Void)? = nil) throws -> [AtomicFileWriter] {
        try GGUFFileWriter.begin(metadata: metadata, tensors: tensors, parts: parts, writing: writing, to: path, data: data)
    }

    /// Tensor `index` encoded a panel of whole rows at a time: `body` gets each panel's bytes, valid during the call.
    public func forEachEncodedPanel(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try GGUFFileWriter.forEachEncodedPanel(tensors[index], body)
    }
}

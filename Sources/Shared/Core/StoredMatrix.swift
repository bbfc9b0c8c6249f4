/// A weight matrix kept in its file's encoding (F32, F16, BF16 or a ggml block quantization), decoded to fp32 only
/// a panel of rows at a time when a product needs it (`StoredProducts`). A 4-bit model stays about its file's size in
/// memory instead of growing 6-7 fold to fp32, and its pages come from the page cache, shared by every rank of a node.
///
/// Pruning never rewrites the bytes: a pruned or reordered matrix is the same bytes plus the list of stored rows
/// (and columns) it keeps, applied while a row is decoded. Rows are cheap to drop (ggml blocks run along a row);
/// columns cost a full-row decode and a gather.
public struct StoredMatrix: @unchecked Sendable {
    /// The bytes the rows live in: a mapped model file, or an owned buffer (`MappedFile(count:path:fill:)`).
    let source: MappedFile
    /// Byte offset of stored row 0 in `source`.
    let offset: Int
    public let type: GGUFTensorType
    /// Rows and elements per row as stored.
    let storedRows: Int
    let storedColumns: Int
    /// Bytes of one stored row.
    let rowBytes: Int
    /// The stored row of each row; nil keeps every stored row in order.
    let rowIndex: [Int32]?
    /// The stored column of each column; nil keeps every stored column in order.
    let columnIndex: [Int32]?

    /// A [rows, columns] matrix of `type` whose row 0 starts at `offset` in `source`; nil when the type cannot be
    /// decoded or a row is not whole blocks. The caller has checked that the bytes lie inside `source`.
    public init?(source: MappedFile, offset: Int, type: GGUFTensorType, rows: Int, columns: Int) {
        guard QuantKernels.supports(type), rows > 0, columns > 0, let rowBytes = type.byteCount(elements: columns),
              let total = CheckedSize.product([rowBytes, rows]), offset >= 0, total <= source.count - offset else { return nil }
        self.init(source: source, offset: offset, type: type, storedRows: rows, storedColumns: columns,
                  rowBytes: rowBytes, rowIndex: nil, columnIndex: nil)
    }

    private init(source: MappedFile, offset: Int, type: GGUFTensorType, storedRows: Int, storedColumns: Int,
                 rowBytes: Int, rowIndex: [Int32]?, columnIndex: [Int32]?) {
        self.source = source
        self.offset = offset
        self.type = type
        self.storedRows = storedRows
        self.storedColumns = storedColumns
        self.rowBytes = rowBytes
        self.rowIndex = rowIndex
        self.columnIndex = columnIndex
    }

    public var rows: Int { rowIndex?.count ?? storedRows }
    public var columns: Int { columnIndex?.count ?? storedColumns }

    /// Bytes this matrix's rows occupy in memory (columns it drops are still stored).
    public var bytesHeld: Int { rows * rowBytes }

    /// The bytes of stored row `storedRow`.
    @inline(__always)
    func storedRowBytes(_ storedRow: Int) -> UnsafeRawPointer {
        // The initializer checked every stored row against the source's size.
        (try! source.bytes(at: offset + storedRow * rowBytes, length: rowBytes, what: "row")).baseAddress!
    }

    /// The stored row that row `row` reads.
    @inline(__always)
    func storedRow(_ row: Int) -> Int { rowIndex.map { Int($0[row]) } ?? row }

    /// Decodes rows `range` into `out`: [range.count, columns] fp32, each value exactly what ggml's dequantization
    /// gives. `scratch` must hold `storedColumns` floats when columns are gathered (unused otherwise).
    func decodeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        for (i, row) in range.enumerated() {
            let source = storedRowBytes(storedRow(row))
            let target = out + i * columns
            guard let columnIndex else {
                decodeRow(source, into: target)
                continue
            }
            decodeRow(source, into: scratch)
            for (j, column) in columnIndex.enumerated() { target[j] = scratch[Int(column)] }
        }
    }

    /// One stored row through the CKernels (the same values as `GGUFDequantize`, tested bit for bit).
    @inline(__always)
    private func decodeRow(_ source: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        let done = QuantKernels.dequantizeRow(type: type, source, count: storedColumns, into: out)
        precondition(done, "no kernel for \(type.name)")  // the initializer admits decodable types only
    }

    /// Decodes rows `range` into `out` ([range.count, columns]) on every thread.
    public func decodeRowsInParallel(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let threads = max(1, min(BLAS.threads, range.count / 8))
        let target = SendablePointer(out), matrix = self
        let per = (range.count + threads - 1) / threads
        VectorMath.parallelFor(threads) { worker in
            let start = range.lowerBound + worker * per, end = min(range.upperBound, start + per)
            guard start < end else { return }
            var scratch = [Float](repeating: 0, count: matrix.columnIndex == nil ? 0 : matrix.storedColumns)
            scratch.withUnsafeMutableBufferPointer { sp in
                matrix.decodeRows(start..<end, into: target.pointer + (start - range.lowerBound) * matrix.columns,
                                  scratch: sp.baseAddress ?? target.pointer)
            }
        }
    }

    /// Runs body(panel, first row, row count) on consecutive panels of at most `panelRows` rows decoded to fp32
    /// ([row count, columns], one buffer reused), so a whole fp32 copy never exists.
    public func forEachPanel(rows panelRows: Int, _ body: (UnsafePointer<Float>, Int, Int) -> Void) {
        var panel = [Float](repeating: 0, count: min(rows, panelRows) * columns)
        panel.withUnsafeMutableBufferPointer { buffer in
            for start in stride(from: 0, to: rows, by: panelRows) {
                let count = min(panelRows, rows - start)
                decodeRowsInParallel(start..<(start + count), into: buffer.baseAddress!)
                body(buffer.baseAddress!, start, count)
            }
        }
    }

    /// The whole matrix in fp32: [rows, columns].
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * columns) { buffer, initialized in
            decodeRowsInParallel(0..<rows, into: buffer.baseAddress!)
            initialized = rows * columns
        }
    }

    /// The stored bytes of every row, in row order, when no column is dropped (nil otherwise): what
    /// `encoded(_:type:rows:columns:name:)` rebuilds the matrix from on another rank.
    public func encodedRows() -> [UInt8]? {
        guard columnIndex == nil else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(rows * rowBytes)
        for row in 0..<rows {
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: storedRowBytes(storedRow(row)), count: rowBytes))
        }
        return bytes
    }

    /// A [rows, columns] matrix of `type` over a copy of `bytes` (`encodedRows`), or nil when they do not fit.
    public static func encoded(_ bytes: [UInt8], type: GGUFTensorType, rows: Int, columns: Int, name: String) -> StoredMatrix? {
        guard let rowBytes = type.byteCount(elements: columns), CheckedSize.product([rowBytes, rows]) == bytes.count else {
            return nil
        }
        let source = MappedFile(count: bytes.count, path: name) { target in bytes.withUnsafeBytes { target.copyMemory(from: $0) } }
        return StoredMatrix(source: source, offset: 0, type: type, rows: rows, columns: columns)
    }

    /// The listed rows, in list order, without touching the bytes.
    func gatheringRows(_ rows: [Int]) -> StoredMatrix {
        StoredMatrix(source: source, offset: offset, type: type, storedRows: storedRows, storedColumns: storedColumns,
                     rowBytes: rowBytes, rowIndex: rows.map { Int32(storedRow($0)) }, columnIndex: columnIndex)
    }

    /// The listed columns, in list order, without touching the bytes.
    func gatheringColumns(_ columns: [Int]) -> StoredMatrix {
        StoredMatrix(source: source, offset: offset, type: type, storedRows: storedRows, storedColumns: storedColumns,
                     rowBytes: rowBytes, rowIndex: rowIndex,
                     columnIndex: columns.map { column in columnIndex.map { $0[column] } ?? Int32(column) })
    }

    /// True when both read the same rows and columns of the same bytes.
    func isSameView(as other: StoredMatrix) -> Bool {
        source === other.source && offset == other.offset && type == other.type && storedRows == other.storedRows
            && storedColumns == other.storedColumns && rowIndex == other.rowIndex && columnIndex == other.columnIndex
    }
}

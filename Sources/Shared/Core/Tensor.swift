/// A dense row-major fp32 tensor. Weight matrices are [out, in], as in PyTorch and safetensors.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "tensor data (\(data.count)) does not fill shape \(shape)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var count: Int { data.count }
    /// Rows of a matrix (the first dimension).
    public var rows: Int { shape[0] }
    /// Columns of a matrix (the product of the remaining dimensions).
    public var cols: Int { shape.dropFirst().reduce(1, *) }
}

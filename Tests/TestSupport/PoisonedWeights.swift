import Shared

extension ModelWeights {
    /// These weights with every tensor outside `part` filled with NaN: a pipeline stage that used (or wrote) one of
    /// them would answer (or write) NaN.
    public func poisoned(outside part: ModelPart) -> ModelWeights {
        let tensors = namedTensors().map { name, tensor in
            (name, part.holds(name, config: config) ? tensor : Tensor(shape: tensor.shape, data: [Float](repeating: .nan, count: tensor.count)))
        }
        // The names and shapes are this model's own.
        return try! ModelWeights(config: config, tensors: Dictionary(uniqueKeysWithValues: tensors), file: "<poisoned>")
    }
}

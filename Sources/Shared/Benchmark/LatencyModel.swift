import Foundation

/// The generation latency of any pruned shape of one model, predicted from a few measured shapes (`--target-latency`).
///
/// Decoding one token at batch 1 reads every weight once, so a run's time is close to linear in what the blocks keep:
///
///     seconds = constant + blocks * perBlock + queryHeads * perQueryHead + kvHeads * perKVHead + neurons * perNeuron
///
/// summed over the kept blocks (`constant`: the embedding, the final norm and the LM head; `perBlock`: norms, the
/// residual adds, RoPE of an empty block). The coefficients are fitted by least squares to runs of the paper's
/// protocol on probe shapes of the model itself (`probes`), on the machine running the job.
public struct LatencyModel: Codable, Equatable, Sendable {
    /// Seconds of one protocol run (prefill and decode) that no block accounts for.
    public var constantSeconds: Double
    /// Seconds per kept block, per kept query head, per kept KV head and per kept MLP neuron.
    public var blockSeconds: Double
    public var queryHeadSeconds: Double
    public var kvHeadSeconds: Double
    public var neuronSeconds: Double
    /// The measured probes the coefficients were fitted to.
    public var samples: [Sample]
    /// Prompt and new tokens of each measured run.
    public var promptTokens: Int
    public var newTokens: Int

    public init(constantSeconds: Double, blockSeconds: Double, queryHeadSeconds: Double, kvHeadSeconds: Double,
                neuronSeconds: Double, samples: [Sample], promptTokens: Int, newTokens: Int) {
        self.constantSeconds = constantSeconds
        self.blockSeconds = blockSeconds
        self.queryHeadSeconds = queryHeadSeconds
        self.kvHeadSeconds = kvHeadSeconds
        self.neuronSeconds = neuronSeconds
        self.samples = samples
        self.promptTokens = promptTokens
        self.newTokens = newTokens
    }

    /// One probe shape, by the counts the model multiplies, and its measured seconds (the median of its runs).
    public struct Sample: Codable, Equatable, Sendable {
        public var name: String
        public var blocks: Int
        public var queryHeads: Int
        public var kvHeads: Int
        public var neurons: Int
        public var seconds: Double
        /// What the fitted model predicts for the shape, to show how well it fits.
        public var predictedSeconds: Double

        public init(name: String, shapes: [LayerShape], seconds: Double, predictedSeconds: Double = 0) {
            self.name = name
            blocks = shapes.count
            queryHeads = shapes.reduce(0) { $0 + $1.heads }
            kvHeads = shapes.reduce(0) { $0 + $1.kvHeads }
            neurons = shapes.reduce(0) { $0 + $1.intermediate }
            self.seconds = seconds
            self.predictedSeconds = predictedSeconds
        }

        /// [1, blocks, query heads, KV heads, neurons]: the terms the coefficients multiply.
        var features: [Double] { [1, Double(blocks), Double(queryHeads), Double(kvHeads), Double(neurons)] }

        enum CodingKeys: String, CodingKey {
            case name, blocks, neurons, seconds
            case queryHeads = "query_heads"
            case kvHeads = "kv_heads"
            case predictedSeconds = "predicted_seconds"
        }
    }

    enum CodingKeys: String, CodingKey {
        case samples
        case constantSeconds = "constant_seconds"
        case blockSeconds = "block_seconds"
        case queryHeadSeconds = "query_head_seconds"
        case kvHeadSeconds = "kv_head_seconds"
        case neuronSeconds = "neuron_seconds"
        case promptTokens = "prompt_tokens"
        case newTokens = "new_tokens"
    }

    /// Predicted seconds of one protocol run of a model of these block shapes.
    public func seconds(_ shapes: [LayerShape]) -> Double { seconds(Sample(name: "", shapes: shapes, seconds: 0)) }

    public func seconds(_ config: ModelConfig) -> Double { seconds(config.layers) }

    public func seconds(_ sample: Sample) -> Double {
        zip(sample.features, coefficients).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// [constant, per block, per query head, per KV head, per neuron]: what `Sample.features` are multiplied by.
    public var coefficients: [Double] { [constantSeconds, blockSeconds, queryHeadSeconds, kvHeadSeconds, neuronSeconds] }

    // MARK: Fitting

    /// The least-squares model of `samples`' measured seconds, every coefficient 0 or more. A term no probe varies
    /// apart from the others (KV heads in an MHA model always equal the query heads) is folded into them: its
    /// coefficient is 0.
    public static func fit(_ samples: [Sample], promptTokens: Int, newTokens: Int) throws -> LatencyModel {
        let rows = samples.map(\.features)
        // Terms in order; one whose column is a combination of those already kept adds nothing the data can tell.
        var kept: [Int] = []
        for term in 0..<5 where rank(of: rows, columns: kept + [term]) == kept.count + 1 { kept.append(term) }
        guard samples.count >= kept.count else {
            throw MopError("\(samples.count) latency probes cannot determine \(kept.count) coefficients")
        }
        // No part of a model takes negative time: a term that noise drives below zero is dropped and the rest refitted.
        var solution = try leastSquares(rows.map { row in kept.map { row[$0] } }, samples.map(\.seconds))
        while let worst = solution.indices.filter({ solution[$0] < 0 }).min(by: { solution[$0] < solution[$1] }) {
            kept.remove(at: worst)
            solution = try leastSquares(rows.map { row in kept.map { row[$0] } }, samples.map(\.seconds))
        }
        var coefficients = [Double](repeating: 0, count: 5)
        for (term, value) in zip(kept, solution) { coefficients[term] = value }
        var model = LatencyModel(constantSeconds: coefficients[0], blockSeconds: coefficients[1],
                                 queryHeadSeconds: coefficients[2], kvHeadSeconds: coefficients[3],
                                 neuronSeconds: coefficients[4], samples: samples, promptTokens: promptTokens,
                                 newTokens: newTokens)
        for index in model.samples.indices { model.samples[index].predictedSeconds = model.seconds(samples[index]) }
        guard model.samples.allSatisfy({ $0.predictedSeconds > 0 }) else {
            throw MopError("the latency probes' times fit no model with positive costs: \(samples.map(\.seconds)) s")
        }
        return model
    }

    /// Rank of the matrix made of `columns` of `rows` (Gaussian elimination with a relative pivot threshold).
    static func rank(of rows: [[Double]], columns: [Int]) -> Int {
        var matrix = rows.map { row in columns.map { row[$0] } }
        var rank = 0
        for column in columns.indices {
            let scale = matrix.map { abs($0[column]) }.max() ?? 0
            guard let pivot = (rank..<matrix.count).max(by: { abs(matrix[$0][column]) < abs(matrix[$1][column]) }),
                  scale > 0, abs(matrix[pivot][column]) > 1e-9 * scale else { continue }
            matrix.swapAt(rank, pivot)
            for row in matrix.indices where row != rank {
                let factor = matrix[row][column] / matrix[rank][column]
                for c in column..<columns.count { matrix[row][c] -= factor * matrix[rank][c] }
            }
            rank += 1
        }
        return rank
    }

    /// x minimizing |A x - b|, from the normal equations (A is a handful of well-scaled columns).
    static func leastSquares(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        let n = a.first?.count ?? 0
        // Columns scaled to unit size, so counts of neurons (thousands) and the constant (1) solve alike.
        let scales = (0..<n).map { c in max(a.map { abs($0[c]) }.max() ?? 1, 1e-300) }
        var normal = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for (row, value) in zip(a, b) {
            let scaled = (0..<n).map { row[$0] / scales[$0] }
            for i in 0..<n {
                for j in 0..<n { normal[i][j] += scaled[i] * scaled[j] }
                normal[i][n] += scaled[i] * value
            }
        }
        for column in 0..<n {
            guard let pivot = (column..<n).max(by: { abs(normal[$0][column]) < abs(normal[$1][column]) }),
                  abs(normal[pivot][column]) > 1e-12 else {
                throw MopError("the latency probes do not determine the latency model")
            }
            normal.swapAt(column, pivot)
            for row in 0..<n where row != column {
                let factor = normal[row][column] / normal[column][column]
                for c in column...n { normal[row][c] -= factor * normal[column][c] }
            }
        }
        return (0..<n).map { normal[$0][n] / normal[$0][$0] / scales[$0] }
    }
}

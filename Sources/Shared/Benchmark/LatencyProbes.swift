import Foundation

/// Measures a `LatencyModel` on the model being pruned: a few pruned shapes of it, each varying one term of the
/// model (blocks, query heads, KV heads, neurons), timed by the paper's protocol in interleaved rounds.
public enum LatencyProbes {
    /// The probe shapes of `original`: the dense model, every other block removed, half the neurons of every block,
    /// half the query heads of every KV group (when groups have two or more), half the KV groups, and all of these
    /// at once (a check the fit must also meet).
    public static func structures(_ original: ModelConfig) -> [(name: String, structure: PruningStructure)] {
        let dense = PruningStructure.identity(original)
        func everyLayer(_ change: (inout KeptLayer, LayerShape) -> Void) -> PruningStructure {
            var structure = dense
            for index in structure.layers.indices { change(&structure.layers[index], original.layers[index]) }
            return structure
        }
        let halfBlocks = PruningStructure(originalLayers: dense.originalLayers, path: "",
                                          layers: dense.layers.filter { $0.index % 2 == 0 })
        let halfNeurons = everyLayer { layer, shape in layer.neurons = Array(0..<max(1, shape.intermediate / 2)) }
        let halfQueryHeads = everyLayer { layer, shape in
            let group = shape.heads / shape.kvHeads
            layer.heads = (0..<shape.kvHeads).flatMap { g in (0..<max(1, group / 2)).map { g * group + $0 } }
        }
        let halfGroups = everyLayer { layer, shape in
            let group = shape.heads / shape.kvHeads, groups = max(1, shape.kvHeads / 2)
            layer.kvHeads = Array(0..<groups)
            layer.heads = Array(0..<(groups * group))
        }
        var all = halfGroups
        all.layers = all.layers.filter { $0.index % 2 == 0 }
        for index in all.layers.indices {
            all.layers[index].neurons = Array(0..<max(1, original.layers[all.layers[index].index].intermediate / 2))
        }
        let candidates = [("dense", dense), ("half the blocks", halfBlocks), ("half the neurons", halfNeurons),
                          ("half the query heads of each group", halfQueryHeads), ("half the KV groups", halfGroups),
                          ("all of these", all)]
        // A probe equal to one before it (one block, groups of one head, one KV head) tells nothing new.
        var probes: [(name: String, structure: PruningStructure)] = []
        for (name, structure) in candidates where !probes.contains(where: { $0.structure.layers == structure.layers }) {
            probes.append((name, structure))
        }
        return probes
    }

    /// Times every probe of `weights`' model `rounds` times by the protocol of `settings` (its prompt and new
    /// tokens), after one untimed run each; probes run in turn, forwards then backwards on alternate rounds, so a
    /// change of load hits them alike. Fits the model to each probe's median. Every probe model is held at once:
    /// the original's tensors are shared where a probe keeps them whole.
    public static func measure(_ weights: ModelWeights, prompt: [Int32], settings: LatencyBenchmark.Settings,
                               rounds: Int, progress: ProgressReporter? = nil) throws -> LatencyModel {
        guard rounds >= 1 else { throw MopError("latency probes need at least one round, not \(rounds)") }
        let probes = structures(weights.config)
        let generators = try probes.map { Generator(model: Transformer(weights: try $0.structure.apply(to: weights))) }
        try LatencyBenchmark.checkFits(generators[0].model, prompt: prompt, settings: settings, file: "latency probes")
        for generator in generators { _ = LatencyBenchmark.measure(generator, prompt: prompt, newTokens: settings.newTokens) }
        var seconds = [[Double]](repeating: [], count: probes.count)
        for round in 0..<rounds {
            let order = round % 2 == 0 ? Array(probes.indices) : probes.indices.reversed()
            for index in order {
                seconds[index].append(LatencyBenchmark.measure(generators[index], prompt: prompt,
                                                               newTokens: settings.newTokens).totalSeconds)
            }
            progress?.update(round + 1)
        }
        let samples = zip(probes, seconds).map { probe, runs in
            LatencyModel.Sample(name: probe.name, shapes: probe.structure.shapes, seconds: LatencyBenchmark.median(runs))
        }
        return try LatencyModel.fit(samples, promptTokens: settings.promptTokens, newTokens: settings.newTokens)
    }
}

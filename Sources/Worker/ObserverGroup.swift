import Shared

/// Several observers of one forward pass, each told everything in the order given: statistics that would otherwise
/// each cost a pass of their own share one (the worker's AMP statistics and block influence).
final class ObserverGroup: ForwardObserver {
    let members: [ForwardObserver]

    init(_ members: [ForwardObserver]) { self.members = members }

    func attentionOutput(layer: Int, z: [Float], segments: [Range<Int>]) {
        for member in members { member.attentionOutput(layer: layer, z: z, segments: segments) }
    }

    func mlpActivation(layer: Int, a: [Float], segments: [Range<Int>]) {
        for member in members { member.mlpActivation(layer: layer, a: a, segments: segments) }
    }

    func block(layer: Int, input: [Float], output: [Float], segments: [Range<Int>]) {
        for member in members { member.block(layer: layer, input: input, output: output, segments: segments) }
    }

    func attentionInput(layer: Int, h: [Float], segments: [Range<Int>]) {
        for member in members { member.attentionInput(layer: layer, h: h, segments: segments) }
    }

    func mlpInput(layer: Int, h: [Float], segments: [Range<Int>]) {
        for member in members { member.mlpInput(layer: layer, h: h, segments: segments) }
    }
}

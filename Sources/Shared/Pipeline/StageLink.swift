import Foundation

/// A pipeline stage's connections: activations [rows, D] arrive from the previous stage's rank and leave for the
/// next one's, as fp32 bytes, and in training their gradients go the other way. Counts what crossed and how long the stage waited on its neighbours, so a run can
/// report its bubble (time a stage had no work) and its stage-to-stage traffic.
public struct StageLink {
    /// Ranks of the neighbouring stages (nil at the ends of the pipeline).
    public let previous: Int?
    public let next: Int?
    public private(set) var bytesSent = 0
    public private(set) var bytesReceived = 0
    /// Seconds spent in send and receive: waiting for a neighbour (plus the copy itself).
    public private(set) var waitSeconds = 0.0

    /// The tags of activation messages (forward, to the next stage) and of their gradients (backward, to the
    /// previous one); no other mop traffic between these ranks uses them.
    static let tag = 0x5A6E
    static let gradientTag = 0x5A6F

    public init(previous: Int?, next: Int?) {
        self.previous = previous
        self.next = next
    }

    /// The stage links of `rank` in `layout`.
    public init(layout: PipelineLayout, rank: Int) {
        let stage = layout.stage(ofRank: rank), replica = layout.replica(ofRank: rank)
        self.init(previous: stage > 0 ? layout.rank(stage: stage - 1, replica: replica) : nil,
                  next: stage < layout.stages - 1 ? layout.rank(stage: stage + 1, replica: replica) : nil)
    }

    /// The previous stage's activations, which must be `count` floats (the rows this stage expects).
    public mutating func receive(count: Int, communicator: some Communicator) throws -> [Float] {
        guard let previous else { preconditionFailure("the first stage receives nothing") }
        return try receive(count: count, from: previous, tag: Self.tag, what: "activations", communicator: communicator)
    }

    /// Hands x to the next stage.
    public mutating func send(_ x: [Float], communicator: some Communicator) {
        guard let next else { preconditionFailure("the last stage sends nothing") }
        send(x, to: next, tag: Self.tag, communicator: communicator)
    }

    /// The next stage's gradient of the activations this stage sent it, `count` floats (training's backward).
    public mutating func receiveGradient(count: Int, communicator: some Communicator) throws -> [Float] {
        guard let next else { preconditionFailure("the last stage receives no gradient") }
        return try receive(count: count, from: next, tag: Self.gradientTag, what: "activation gradients", communicator: communicator)
    }

    /// Hands the gradient of this stage's input back to the previous stage.
    public mutating func sendGradient(_ dx: [Float], communicator: some Communicator) {
        guard let previous else { preconditionFailure("the first stage sends no gradient") }
        send(dx, to: previous, tag: Self.gradientTag, communicator: communicator)
    }

    private mutating func receive(count: Int, from source: Int, tag: Int, what: String,
                                  communicator: some Communicator) throws -> [Float] {
        let start = ContinuousClock.now
        let bytes = communicator.receive(from: source, tag: tag)
        waitSeconds += seconds(since: start)
        bytesReceived += bytes.count
        guard bytes.count == count * MemoryLayout<Float>.size else {
            throw MopError("pipeline: rank \(source) sent \(bytes.count) bytes of \(what), \(count * MemoryLayout<Float>.size) expected")
        }
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    private mutating func send(_ x: [Float], to destination: Int, tag: Int, communicator: some Communicator) {
        let start = ContinuousClock.now
        communicator.send(x.withUnsafeBytes { Array($0) }, to: destination, tag: tag)
        waitSeconds += seconds(since: start)
        bytesSent += x.count * MemoryLayout<Float>.size
    }
}

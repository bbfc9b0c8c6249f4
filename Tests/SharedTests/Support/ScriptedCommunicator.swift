@testable import Shared

/// One rank of a pretend job, in one process: as the root of a broadcast it records what it sends; as any other
/// rank it receives, in order, what a recording root sent. So rank 0's side of a protocol can be recorded and
/// replayed into rank 1's side, and the bytes in between tampered with. Reductions see only this rank's values.
final class ScriptedCommunicator: Communicator, @unchecked Sendable {
    let rank: Int
    let size: Int
    /// Every broadcast payload, as bytes (floats by their bit patterns), in call order.
    private(set) var sent: [[UInt8]] = []
    var toReceive: [[UInt8]]
    private(set) var reduced: [[Double]] = []
    private(set) var barriers = 0

    init(rank: Int, size: Int, receiving: [[UInt8]] = []) {
        self.rank = rank
        self.size = size
        toReceive = receiving
    }

    func barrier() { barriers += 1 }

    func broadcast(_ bytes: inout [UInt8], root: Int) {
        if rank == root { sent.append(bytes) } else { bytes = toReceive.removeFirst() }
    }

    func broadcast(_ values: inout [Float], root: Int) {
        if rank == root {
            sent.append(values.withUnsafeBytes { Array($0) })
        } else {
            values = toReceive.removeFirst().withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }

    func allreduceSum(_ values: inout [Double]) { reduced.append(values) }
    func allreduceSum(_ values: inout [Float]) {}
    func reduceSum(_ values: inout [Double], root: Int) { reduced.append(values) }
    func send(_ bytes: [UInt8], to destination: Int, tag: Int) { sent.append(bytes) }
    func receive(from source: Int, tag: Int) -> [UInt8] { toReceive.removeFirst() }
    func abort(code: Int32) -> Never { fatalError("abort(\(code)) in a test") }
    // One recorded side cannot form groups with ranks it never meets; ThreadedCluster runs grouped protocols.
    func split(color: Int, key: Int) -> any Communicator { fatalError("a scripted rank does not split") }
}

import XCTest
@testable import Shared

/// The MPI communicator as a process without mpirun sees it: rank 0 of 1 (MPI singleton). Every collective must then
/// be the identity, and a message to itself must arrive. (Several ranks are exercised through mpirun by the
/// integration tests.) MPI can be initialised once per process, so one test holds all the checks.
final class MPICommunicatorTests: XCTestCase {
    func testSingletonCollectivesAndSelfMessages() {
        let communicator = MPICommunicator()
        XCTAssertEqual(communicator.rank, 0)
        XCTAssertEqual(communicator.size, 1)
        XCTAssertTrue(communicator.isCoordinator)

        var bytes: [UInt8] = [1, 2, 3]
        communicator.broadcast(&bytes, root: 0)
        XCTAssertEqual(bytes, [1, 2, 3])
        var floats: [Float] = [0.5, -2]
        communicator.broadcast(&floats, root: 0)
        XCTAssertEqual(floats, [0.5, -2])
        var tokens: [Int32] = [7, 49151, 0]
        communicator.broadcast(&tokens, root: 0)
        XCTAssertEqual(tokens, [7, 49151, 0])

        var sums: [Double] = [1e-300, 3.5]
        communicator.allreduceSum(&sums)
        XCTAssertEqual(sums, [1e-300, 3.5])
        var floatSums: [Float] = [1, 2]
        communicator.allreduceSum(&floatSums)
        XCTAssertEqual(floatSums, [1, 2])
        communicator.reduceSum(&sums, root: 0)
        XCTAssertEqual(sums, [1e-300, 3.5])

        communicator.send([9, 8, 7], to: 0, tag: 5)
        XCTAssertEqual(communicator.receive(from: 0, tag: 5), [9, 8, 7])
        communicator.send([], to: 0, tag: 6)
        XCTAssertEqual(communicator.receive(from: 0, tag: 6), [])
        communicator.barrier()
    }
}

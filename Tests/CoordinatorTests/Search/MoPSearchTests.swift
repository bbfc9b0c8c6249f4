import XCTest
import Shared
@testable import Coordinator

final class MoPSearchTests: XCTestCase {
    func search(_ settings: PruneSettings, layers: Int = 6, directory: String? = nil, resume: String? = nil,
                maxIterations: Int? = nil, progress: @escaping (SearchProgress) -> Void = { _ in }) throws -> SearchResult {
        let fake = FakeScorer(config: TinyModels.config(layers: layers))
        return try MoPSearch(settings: settings, original: fake.config, outputDirectory: directory,
                             score: fake.callAsFunction, progress: progress)
            .run(resumingFrom: resume, maxIterations: maxIterations)
    }

    func checkConsistent(_ result: SearchResult, _ name: String) throws {
        let config = TinyModels.config()
        try result.structure.validate(against: config, file: name)
        XCTAssertEqual(result.records.map(\.branch).joined(), result.structure.path, name)
        XCTAssertEqual(result.records.map(\.iteration), Array(1...result.records.count), name)
        XCTAssertEqual(result.records.last?.parameters, result.parameters, name)
        XCTAssertEqual(result.parameters, result.structure.parameters(of: config), name)
        XCTAssertEqual(result.originalParameters, 48448, "61*32 + 6 * 7744 + 32")
        XCTAssertEqual(result.compression, 1 - Double(result.parameters) / 48448, accuracy: 1e-12)
        XCTAssertEqual(result.nonEmbeddingCompression, 1 - Double(result.nonEmbeddingParameters) / 46496, accuracy: 1e-12)
        XCTAssertGreaterThan(result.nonEmbeddingCompression, result.compression, "embeddings are never pruned")
    }

    func testEveryMethodAndSelectionLandsOnTheTarget() throws {
        let cases: [(PruneSettings.Method, PruneSettings.Selection, String)] = [
            (.mop, .loss, ""), (.mop, .kl, ""), (.mop, .random, ""), (.mop, .path, "LG"),
            (.depth, .loss, ""), (.width, .loss, ""), (.amp, .loss, ""),
        ]
        for target in [0.2, 0.4] {
            for (method, selection, path) in cases {
                let name = "\(method) \(selection) \(target)"
                let result = try search(PruneSettings(target: target, method: method, selection: selection, path: path))
                XCTAssertTrue(result.finished, name)
                XCTAssertEqual(result.compression, target, accuracy: MoPSearch.tolerance, name)
                try checkConsistent(result, name)
                switch method {
                case .depth: XCTAssertTrue(result.structure.path.dropLast().allSatisfy { $0 == "L" }, name)
                case .width: XCTAssertTrue(result.structure.path.allSatisfy { $0 == "G" }, name)
                case .amp: XCTAssertEqual(result.structure.path, "G", name)
                case .mop: XCTAssertGreaterThan(result.records.count, 1, name)
                }
                for record in result.records where selection == .loss {
                    if let depth = record.depthLoss, let width = record.widthLoss {
                        XCTAssertEqual(record.branch, depth <= width ? "L" : "G", "\(name): the lower loss wins")
                    }
                }
                for record in result.records where selection == .kl && record.depthKL != nil {
                    XCTAssertEqual(record.branch, record.depthKL! <= record.widthKL! ? "L" : "G", name)
                    XCTAssertGreaterThan(record.widthKL!, 0)
                }
            }
        }
    }

    func testDepthRulesAndGroupUnitLandOnTheTarget() throws {
        for (rule, unit) in [(PruneSettings.DepthRule.loss, PruneSettings.GQAUnit.group), (.position, .query)] {
            let result = try search(PruneSettings(target: 0.4, depthRule: rule, gqaUnit: unit))
            XCTAssertEqual(result.compression, 0.4, accuracy: MoPSearch.tolerance)
            try checkConsistent(result, "\(rule)")
        }
    }

    func testFirstIterationMatchesTheCandidatesItDescribes() throws {
        let result = try search(PruneSettings(target: 0.2, depthRule: .position))
        let first = result.records[0]
        // Position rule on 6 blocks: block 3; the width candidate gets one block's budget.
        XCTAssertEqual(first.depthBlock, 3)
        XCTAssertEqual(first.widthBudget, 7744)
        let fake = FakeScorer(config: TinyModels.config())
        var kept = PruningStructure.identity(fake.config)
        kept.layers.remove(at: 3)
        let reference = NextTokenLoss.sum(Transformer(weights: try kept.apply(to: fake.original)), batch: fake.batch)
        XCTAssertEqual(first.depthLoss!, reference.negativeLogLikelihood / Double(reference.tokens), accuracy: 1e-5)
        // The last step is a width step of the remaining budget.
        XCTAssertEqual(result.records.last?.branch, "G")
        XCTAssertNil(result.records.last?.depthLoss)
    }

    func testPathSelectionFollowsTheString() throws {
        XCTAssertEqual(try search(PruneSettings(target: 0.4, selection: .path, path: "GLG")).structure.path, "GLG")
        // The third L would overshoot 40% (two blocks are 32%, three 48%): it becomes the landing width step.
        XCTAssertEqual(try search(PruneSettings(target: 0.4, selection: .path, path: "LLLLLL")).structure.path, "LLG")
        // An exhausted string continues with G.
        XCTAssertEqual(try search(PruneSettings(target: 0.4, selection: .path, path: "L")).structure.path.prefix(2), "LG")
    }

    func testRandomSelectionIsReproducibleBySeed() throws {
        func run(_ seed: UInt64) throws -> SearchResult {
            try search(PruneSettings(target: 0.4, selection: .random, criterion: .random, seed: seed), layers: 6)
        }
        let first = try run(1), again = try run(1)
        XCTAssertEqual(first.structure, again.structure)
        XCTAssertEqual(first.records.map(\.depthLoss), again.records.map(\.depthLoss))
        let structures = try (2...5).map { try run($0).structure }
        XCTAssertGreaterThan(Set(structures.map(\.path) + [first.structure.path]).count, 1, "the coin differs across seeds")
        XCTAssertTrue(structures.allSatisfy { $0 != first.structure })
    }

    func testProgressIsReportedEveryIteration() throws {
        var seen: [SearchProgress] = []
        let result = try search(PruneSettings(target: 0.4), progress: { seen.append($0) })
        XCTAssertEqual(seen.map(\.iteration), result.records.map(\.iteration))
        XCTAssertEqual(seen.last?.compression, result.compression)
        XCTAssertTrue(zip(seen, seen.dropFirst()).allSatisfy { $0.compression < $1.compression })
        XCTAssertTrue(seen[0].line.hasPrefix("iteration 1 ("))
        XCTAssertNotNil(seen[0].eta)
    }

    func testUnreachableTargetThrows() throws {
        // 99% is beyond what one neuron, one head unit per layer and one block leave.
        XCTAssertThrowsError(try search(PruneSettings(target: 0.99, method: .width))) {
            XCTAssert("\($0)".contains("the target compression 0.99 cannot be reached"), "\($0)")
        }
    }
}

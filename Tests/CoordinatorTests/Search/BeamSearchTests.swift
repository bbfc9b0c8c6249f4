import XCTest
import Shared
@testable import Coordinator

final class BeamSearchTests: XCTestCase {
    func run(_ settings: PruneSettings, on landscape: LandscapeScorer = LandscapeScorer()) throws -> SearchResult {
        try MoPSearch(settings: settings, original: landscape.config, outputDirectory: nil,
                      score: landscape.callAsFunction).run()
    }

    /// One greedy step as the search before the beam recorded it on `FakeScorer`'s model: branch, depth and width
    /// loss and KL, depth block, width budget, parameters after the step.
    struct GreedyStep {
        var branch: String
        var depthLoss: Double? = nil
        var widthLoss: Double? = nil
        var depthKL: Double? = nil
        var widthKL: Double? = nil
        var depthBlock: Int? = nil
        var widthBudget: Int? = nil
        var parameters: Int
    }

    func testBeamOneIsTheGreedySearch() throws {
        // Recorded with the greedy search as it was before the beam existed (commit 2a19166), which scored in sample.
        // Losses to 1e-6: the element-wise kernels have since changed their sums' order (fp32 last bits); a different
        // candidate or a different scoring differs by far more.
        let cases: [(PruneSettings, requests: Int, [GreedyStep])] = [
            (try PruneSettings(target: 0.4, beam: 1, lookahead: 0, candidateScoring: .inSample), 12, [
                GreedyStep(branch: "G", depthLoss: 4.2531634846785975, widthLoss: 4.2325083206521983, depthBlock: 5, widthBudget: 7744, parameters: 40960),
                GreedyStep(branch: "G", depthLoss: 4.2487546015192814, widthLoss: 4.2429965487753254, depthBlock: 5, widthBudget: 6496, parameters: 34624),
                GreedyStep(branch: "G", depthLoss: 4.2567412831123521, widthLoss: 4.2408700555632688, depthBlock: 5, widthBudget: 5440, parameters: 29216),
            ]),
            (try PruneSettings(target: 0.4, selection: .kl, candidateScoring: .inSample), 18, [
                GreedyStep(branch: "G", depthLoss: 4.2531634846785975, widthLoss: 4.2325083206521983, depthKL: 0.017700203629331557,
                           widthKL: 0.0026301276891885928, depthBlock: 5, widthBudget: 7744, parameters: 40960),
                GreedyStep(branch: "G", depthLoss: 4.2487546015192814, widthLoss: 4.2429965487753254, depthKL: 0.02043097023439561,
                           widthKL: 0.0055845353104141118, depthBlock: 5, widthBudget: 6496, parameters: 34624),
                GreedyStep(branch: "L", depthLoss: 4.2567412831123521, widthLoss: 4.2408700555632688, depthKL: 0.024166134151168341,
                           widthKL: 0.15209576544409484, depthBlock: 5, widthBudget: 5440, parameters: 29184),
            ]),
            (try PruneSettings(target: 0.4, selection: .random, criterion: .random, seed: 3, candidateScoring: .inSample), 10, [
                GreedyStep(branch: "G", depthLoss: 4.2531634846785975, widthLoss: 4.2892573859866436, depthBlock: 5, widthBudget: 7744, parameters: 40960),
                GreedyStep(branch: "L", depthLoss: 4.3322192633447765, widthLoss: 4.2748051917628445, depthBlock: 4, widthBudget: 6496, parameters: 34464),
                GreedyStep(branch: "G", widthLoss: 4.3420211389612966, widthBudget: 5395, parameters: 29184),
            ]),
            (try PruneSettings(target: 0.4, depthRule: .loss, gqaUnit: .group, candidateScoring: .inSample), 17, [
                GreedyStep(branch: "L", depthLoss: 4.1101269564311202, widthLoss: 4.2325083206521983, depthBlock: 2, widthBudget: 7744, parameters: 40704),
                GreedyStep(branch: "L", depthLoss: 4.0991623906821735, widthLoss: 4.1360376145192612, depthBlock: 5, widthBudget: 7744, parameters: 32960),
                GreedyStep(branch: "G", widthLoss: 4.1033774181548015, widthBudget: 3891, parameters: 29120),
            ]),
            (try PruneSettings(target: 0.2, method: .depth, candidateScoring: .inSample), 4, [
                GreedyStep(branch: "L", depthLoss: 4.2531634846785975, depthBlock: 5, parameters: 40704),
                GreedyStep(branch: "G", widthLoss: 4.250572408521248, widthBudget: 1946, parameters: 38784),
            ]),
        ]
        for (settings, requests, steps) in cases {
            let fake = FakeScorer(config: TinyModels.config())
            let result = try MoPSearch(settings: settings, original: fake.config, outputDirectory: nil,
                                       score: fake.callAsFunction).run()
            let name = "\(settings.selection) \(settings.depthRule) \(settings.method)"
            XCTAssertEqual(result.structure.path, steps.map(\.branch).joined(), name)
            XCTAssertEqual(fake.requests.count, requests, "\(name): the same questions")
            XCTAssertEqual(result.records.count, steps.count, name)
            XCTAssertTrue(result.beam.isEmpty, "\(name): a greedy search reports no beam")
            for (record, step) in zip(result.records, steps) {
                XCTAssertEqual(record.branch, step.branch, name)
                XCTAssertEqual(record.depthBlock, step.depthBlock, name)
                XCTAssertEqual(record.widthBudget, step.widthBudget, name)
                XCTAssertEqual(record.parameters, step.parameters, name)
                XCTAssertNil(record.depthLookahead, name)
                for (value, expected) in [(record.depthLoss, step.depthLoss), (record.widthLoss, step.widthLoss),
                                          (record.depthKL, step.depthKL), (record.widthKL, step.widthKL)] {
                    XCTAssertEqual(value == nil, expected == nil, name)
                    if let value, let expected { XCTAssertEqual(value, expected, accuracy: 1e-6, name) }
                }
            }
        }
    }

    func testGreedyFallsIntoTheTrapTheBeamAvoids() throws {
        let greedy = try run(PruneSettings(target: 0.4))
        XCTAssertEqual(greedy.structure.path, "LLG", "the cheaper first step leads to the 3.0 branch")
        XCTAssertEqual(try XCTUnwrap(greedy.records.last?.widthLoss), 3.1, accuracy: 1e-12)

        let beam = try run(PruneSettings(target: 0.4, beam: 2))
        XCTAssertEqual(beam.structure.path, "GLG")
        XCTAssertEqual(try XCTUnwrap(beam.records.last?.widthLoss), 1.6, accuracy: 1e-12, "strictly better than 3.1")
        XCTAssertTrue(beam.finished)
        XCTAssertEqual(beam.compression, 0.4, accuracy: MoPSearch.tolerance)
        XCTAssertEqual(beam.records.map(\.iteration), [1, 2, 3])
        XCTAssertEqual(beam.records.map(\.branch).joined(), beam.structure.path)
        // Every kept path of every iteration, best first: the trap's 1.0 is kept at first, then displaced.
        XCTAssertEqual(beam.beam.map { $0.kept.map(\.path) }, [["L", "G"], ["GL", "GG"], ["GLG", "GGG"]])
        let objectives = beam.beam.flatMap { $0.kept.compactMap(\.objective) }
        for (objective, expected) in zip(objectives, [1.0, 1.1, 1.5, 1.6, 1.6, 1.7]) {
            XCTAssertEqual(objective, expected, accuracy: 1e-12)
        }
        XCTAssertEqual(beam.beam.map(\.candidates), [2, 4, 3], "GL can only land; GG can still take a block")
        // GGL (1.8) removes the same heads and neurons as GLG (1.6): one model, kept once, by its better path.
        XCTAssertEqual(beam.beam.map(\.duplicates), [0, 0, 1])
        let ggl = try run(PruneSettings(target: 0.4, selection: .path, path: "GGL")).structure
        XCTAssertEqual(ggl.path, "GGL")
        XCTAssertEqual(ggl.layers, beam.structure.layers)
        XCTAssertEqual(beam.beam.map { $0.kept.map(\.finished) }, [[false, false], [false, false], [true, true]])
        XCTAssertEqual(beam.seconds, beam.beam.reduce(0) { $0 + $1.seconds }, accuracy: 1e-12)
    }

    func testLookaheadTakesTheStepGreedyRejects() throws {
        let result = try run(PruneSettings(target: 0.4, lookahead: 1))
        XCTAssertEqual(result.structure.path, "GLG")
        let first = result.records[0]
        XCTAssertEqual(first.depthLoss, 1.0, "the depth step is cheaper now")
        XCTAssertEqual(first.widthLoss, 1.1)
        XCTAssertEqual(try XCTUnwrap(first.depthLookahead), 3.0, accuracy: 1e-12, "but opens LL at best")
        XCTAssertEqual(try XCTUnwrap(first.widthLookahead), 1.5, accuracy: 1e-12, "the width step opens GL")
        // Second iteration: GL can only land (GLG 1.6), GG's best continuation is GGG 1.7.
        XCTAssertEqual(try XCTUnwrap(result.records[1].depthLookahead), 1.6, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(result.records[1].widthLookahead), 1.7, accuracy: 1e-12)
        XCTAssertTrue(result.beam.isEmpty)
        // With a beam too: the lookahead ranks the paths.
        let both = try run(PruneSettings(target: 0.4, beam: 2, lookahead: 1))
        XCTAssertEqual(both.structure.path, "GLG")
        XCTAssertEqual(both.beam[0].kept.map(\.path), ["G", "L"], "ranked by lookahead: 1.5 before 3.0")
        XCTAssertEqual(both.beam[0].kept.compactMap(\.score), [1.5, 3.0])
    }

    func testBeamKeepsDistinctStructuresBestFirst() throws {
        let config = TinyModels.config()
        func path(_ steps: String, removing blocks: [Int], score: Double?) -> BeamPath {
            var structure = PruningStructure.identity(config)
            structure.layers.removeAll { blocks.contains($0.index) }
            structure.path = steps
            var path = BeamPath.start(original: config, seed: 0)
            path.structure = structure
            path.score = score
            path.objective = score
            return path
        }
        // "GL" and "LG" reach the same model (block 3 gone) at the same score: the tie goes to L first.
        let pool = [path("GL", removing: [3], score: 2.0), path("GG", removing: [], score: 2.5),
                    path("LG", removing: [3], score: 2.0), path("LL", removing: [1, 3], score: 1.0),
                    path("GG", removing: [5], score: nil)]
        for order in [pool, pool.reversed()] {
            let (kept, duplicates) = BeamSelection.keep(order, width: 3)
            XCTAssertEqual(kept.map(\.structure.path), ["LL", "LG", "GG"])
            XCTAssertEqual(kept.map(\.score), [1.0, 2.0, 2.5])
            XCTAssertEqual(duplicates, 1)
        }
        // A better score wins over the earlier path string.
        let better = [path("LG", removing: [3], score: 2.0), path("GL", removing: [3], score: 1.9)]
        XCTAssertEqual(BeamSelection.keep(better, width: 2).kept.map(\.structure.path), ["GL"])
        XCTAssertEqual(BeamSelection.keep(better, width: 2).duplicates, 1)
        // The winner goes by objective, ties again to L first; a missing objective comes last.
        XCTAssertEqual(BeamSelection.winner([path("GG", removing: [], score: 1.5), path("GL", removing: [4], score: 1.5),
                                             path("LL", removing: [0, 1], score: nil)])?.structure.path, "GL")
    }

    /// The questions that build a beam's candidates (each path's block influence and AMP statistics) reach the
    /// workers as one batch, which rank groups can deal out, and the result is the one asked one by one.
    func testTheBeamsBuildingQuestionsAreOneBatch() throws {
        let fake = FakeScorer(config: TinyModels.config(layers: 6))
        var batches: [[ScoringRequest]] = []
        let settings = try PruneSettings(target: 0.4, beam: 2)
        let batched = try MoPSearch(settings: settings, original: fake.config, outputDirectory: nil,
                                    scorer: CandidateScorer(batch: { batch in
                                        batches.append(batch)
                                        return try batch.map(fake.callAsFunction)
                                    })).run()
        let oneByOne = try MoPSearch(settings: settings, original: fake.config, outputDirectory: nil,
                                     score: FakeScorer(config: TinyModels.config(layers: 6)).callAsFunction).run()
        XCTAssertEqual(batched.structure, oneByOne.structure)
        XCTAssertEqual(batched.records, oneByOne.records.map { var r = $0; r.seconds = batched.records[$0.iteration - 1].seconds; return r })
        let building = batches.filter { batch in
            batch.contains { if case .ampStatistics = $0 { true } else { false } }
        }
        XCTAssertGreaterThan(building.count, 1)
        XCTAssertEqual(building[0].count, 4, "the first iteration: one path's block influence and AMP statistics, on each half")
        XCTAssertEqual(building[1].count, 8, "then two paths' questions at once: \(building[1])")
    }

    func testBadBeamAndLookaheadAreOneLineErrors() {
        let cases: [(() throws -> PruneSettings, String)] = [
            ({ try PruneSettings(target: 0.2, beam: 0) }, "beam 0 keeps no path: it must be at least 1"),
            ({ try PruneSettings(target: 0.2, beam: -3) }, "beam -3 keeps no path"),
            ({ try PruneSettings(target: 0.2, lookahead: -1) }, "lookahead -1 is negative"),
            ({ try PruneSettings(target: 0.2, method: .width, beam: 2) }, "they need method mop, not width"),
            ({ try PruneSettings(target: 0.2, selection: .random, lookahead: 1) }, "they need selection loss or kl, not random"),
            ({ try PruneSettings(target: 0.2, selection: .path, path: "LG", beam: 2) }, "not path"),
        ]
        for (make, message) in cases {
            XCTAssertThrowsError(try make()) {
                XCTAssert("\($0)".contains(message), "expected \(message) in \($0)")
                XCTAssertFalse("\($0)".contains("\n"), "one line: \($0)")
            }
        }
        XCTAssertNoThrow(try PruneSettings(target: 0.2, selection: .kl, beam: 4, lookahead: 2))
    }
}

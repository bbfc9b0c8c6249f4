import Foundation

/// One iteration of a beam search as reported: the paths it kept, best first, and what it took to choose them.
public struct BeamIteration: Codable, Equatable, Sendable {
    /// A kept path, as the report shows it.
    public struct KeptPath: Codable, Equatable, Sendable {
        /// The steps taken, L (depth) and G (width).
        public var path: String
        /// Calibration objective of the path's model (loss, or KL with selection `kl`).
        public var objective: Double?
        /// What the beam ranked it by: the objective, or with a lookahead the objective after the greedy steps.
        public var score: Double?
        public var compression: Double
        /// True when the path meets the target and takes no more steps.
        public var finished: Bool

        public init(path: String, objective: Double?, score: Double?, compression: Double, finished: Bool) {
            self.path = path
            self.objective = objective
            self.score = score
            self.compression = compression
            self.finished = finished
        }
    }

    /// 1-based iteration number.
    public var iteration: Int
    /// New paths this iteration scored (two per path it expanded, one where only a width step fits).
    public var candidates: Int
    /// Candidates dropped because a better or earlier path had reached the same structure.
    public var duplicates: Int
    public var kept: [KeptPath]
    /// Wall time of the iteration, all paths and lookaheads included.
    public var seconds: Double

    public init(iteration: Int, candidates: Int, duplicates: Int, kept: [KeptPath], seconds: Double) {
        self.iteration = iteration
        self.candidates = candidates
        self.duplicates = duplicates
        self.kept = kept
        self.seconds = seconds
    }
}

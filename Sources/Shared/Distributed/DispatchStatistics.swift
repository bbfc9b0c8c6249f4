/// Where one rank's time went while serving scoring requests, and what it moved (the scaling benchmark's numbers).
/// `compute` is answering on the rank's own shard; `wait` is standing in the barrier until every rank has finished
/// its shard (load imbalance, or a dedicated coordinator idling) and, on ranks > 0, blocking until rank 0 sends the
/// next request (rank 0 deciding); `communication` is moving requests and answers.
public struct DispatchStatistics: Equatable, Sendable {
    public var requests = 0
    public var computeSeconds = 0.0
    public var waitSeconds = 0.0
    public var communicationSeconds = 0.0
    /// Request bytes broadcast by rank 0 (counted on every rank: each receives them).
    public var bytesBroadcast = 0
    /// Answer bytes this rank contributed to reduces.
    public var bytesReduced = 0
    /// The rank's peak resident memory (VmHWM) when the statistics were gathered: weights, activations and all.
    public var peakResidentBytes = 0

    public init() {}

    /// What happened between `earlier` and `self` (statistics only grow).
    public func since(_ earlier: DispatchStatistics) -> DispatchStatistics {
        var d = DispatchStatistics()
        d.requests = requests - earlier.requests
        d.computeSeconds = computeSeconds - earlier.computeSeconds
        d.waitSeconds = waitSeconds - earlier.waitSeconds
        d.communicationSeconds = communicationSeconds - earlier.communicationSeconds
        d.bytesBroadcast = bytesBroadcast - earlier.bytesBroadcast
        d.bytesReduced = bytesReduced - earlier.bytesReduced
        d.peakResidentBytes = peakResidentBytes  // a peak, not a count: the later one holds
        return d
    }

    var packed: [Double] {
        [Double(requests), computeSeconds, waitSeconds, communicationSeconds, Double(bytesBroadcast), Double(bytesReduced),
         Double(peakResidentBytes)]
    }

    init(packed v: [Double]) {
        requests = Int(v[0])
        computeSeconds = v[1]
        waitSeconds = v[2]
        communicationSeconds = v[3]
        bytesBroadcast = Int(v[4])
        bytesReduced = Int(v[5])
        peakResidentBytes = Int(v[6])
    }

    /// Every rank's statistics on `root`, indexed by rank, each with its peak memory so far (a collective: every rank
    /// calls it; other ranks get []).
    public static func gather(_ local: DispatchStatistics, communicator: any Communicator, root: Int = 0) -> [DispatchStatistics] {
        var local = local
        local.peakResidentBytes = (try? ProcessMemory.peak()) ?? 0
        return communicator.gather(local.packed, root: root).map(DispatchStatistics.init(packed:))
    }
}

/// Seconds since `start` on the monotonic clock.
public func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

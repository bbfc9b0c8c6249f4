import Foundation

/// AdamW (Loshchilov & Hutter) over one flat parameter buffer, as PyTorch's `torch.optim.AdamW`: decoupled weight
/// decay p -= lr * wd * p, then the bias-corrected Adam step p -= lr * m_hat / (sqrt(v_hat) + eps). Moments are
/// fp32; hyper-parameters are float64 so that 1 - beta2 = 0.001 is exact before it is rounded (as in PyTorch).
public struct AdamW: Equatable, Sendable {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// Steps taken so far (the t of the bias corrections).
    public private(set) var step: Int
    /// First and second moment estimates, one per parameter (part of a checkpoint).
    public private(set) var firstMoment: [Float]
    public private(set) var secondMoment: [Float]

    public init(parameterCount: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01) {
        self.init(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, step: 0,
                  firstMoment: [Float](repeating: 0, count: parameterCount),
                  secondMoment: [Float](repeating: 0, count: parameterCount))
    }

    /// Restores an optimizer from its state (checkpoints).
    public init(beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, step: Int,
                firstMoment: [Float], secondMoment: [Float]) {
        precondition(firstMoment.count == secondMoment.count, "AdamW: moments of different sizes")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    /// One step at `learningRate`: updates `parameters` in place from `gradients` (same length as the moments).
    public mutating func update(_ parameters: inout [Float], gradients: [Float], learningRate: Float) {
        precondition(parameters.count == firstMoment.count && gradients.count == firstMoment.count,
                     "AdamW: \(parameters.count) parameters and \(gradients.count) gradients for \(firstMoment.count) moments")
        step += 1
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        let oneMinusB1 = Float(1 - beta1), oneMinusB2 = Float(1 - beta2)
        // Bias corrections in float64: 1 - beta2^t is tiny for the first steps.
        let correction1 = Float(1 - pow(beta1, Double(step)))
        let correction2 = Float(1 - pow(beta2, Double(step)))
        let decay = Float(1 - Double(learningRate) * weightDecay)
        for i in parameters.indices {
            let g = gradients[i]
            firstMoment[i] = b1 * firstMoment[i] + oneMinusB1 * g
            secondMoment[i] = b2 * secondMoment[i] + oneMinusB2 * g * g
            let mHat = firstMoment[i] / correction1, vHat = secondMoment[i] / correction2
            parameters[i] = parameters[i] * decay - learningRate * mHat / (vHat.squareRoot() + eps)
        }
    }
}

/// Learning rate that rises linearly from 0 over `warmupSteps`, then decays linearly to 0 at `totalSteps`
/// (transformers' `get_linear_schedule_with_warmup`; step counts from 0).
public struct LinearSchedule: Equatable, Sendable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Float, totalSteps: Int, warmupSteps: Int = 0) {
        self.peak = peak
        self.totalSteps = totalSteps
        self.warmupSteps = warmupSteps
    }

    /// The learning rate of step `step` (0-based).
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
        return peak * max(0, Float(totalSteps - step) / Float(max(1, totalSteps - warmupSteps)))
    }
}

/// Global L2-norm gradient clipping (`torch.nn.utils.clip_grad_norm_`).
public enum GradientClipping {
    /// Scales `gradients` so their L2 norm is at most `maxNorm`; returns the norm before clipping (float64 sum).
    @discardableResult
    public static func clip(_ gradients: inout [Float], maxNorm: Float) -> Double {
        let norm = sumOfSquares(gradients).squareRoot()
        clip(&gradients, norm: norm, maxNorm: maxNorm)
        return norm
    }

    /// Scales `gradients`, a part of a whole whose L2 norm is `norm` (pipeline stages each hold their adapters'
    /// gradients), as clipping the whole to `maxNorm` scales every part.
    public static func clip(_ gradients: inout [Float], norm: Double, maxNorm: Float) {
        let factor = Double(maxNorm) / (norm + 1e-6)
        if factor < 1 {
            let f = Float(factor)
            for i in gradients.indices { gradients[i] *= f }
        }
    }

    /// The float64 sum of the squared gradients: parts' sums add up to the whole's squared norm.
    public static func sumOfSquares(_ gradients: [Float]) -> Double {
        gradients.reduce(0.0) { $0 + Double($1) * Double($1) }
    }
}

import Foundation

/// A small line / scatter chart written as a standalone SVG document: axes with ticks and labels, a title, named
/// series with a legend, optionally a log-scale y axis. No dependencies, so reports carry their own figures.
///
/// Points whose x or y is not finite (or y <= 0 on a log axis) are left out and break a line, so a missing value
/// shows as a gap rather than a wrong segment.
public struct SVGPlot: Sendable {
    public enum Style: Sendable {
        case line, markers, lineAndMarkers
    }

    public struct Series: Sendable {
        public var name: String
        public var points: [Point]
        public var style: Style

        public init(name: String, points: [Point], style: Style = .lineAndMarkers) {
            self.name = name
            self.points = points
            self.style = style
        }
    }

    public struct Point: Equatable, Sendable {
        public var x: Double, y: Double
        public init(x: Double, y: Double) { self.x = x; self.y = y }
    }

    /// A data range along one axis and the tick values inside it.
    public struct Axis: Equatable, Sendable {
        public var low: Double, high: Double
        public var ticks: [Double]
        public var log: Bool
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var logY: Bool
    public var series: [Series]
    /// Pixel size of the whole picture.
    public var width = 720.0, height = 420.0
    /// The plot area inside the picture: room for the title above, tick labels left and below, the legend right.
    public var left = 70.0, top = 40.0, right = 170.0, bottom = 55.0

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    public init(title: String, xLabel: String, yLabel: String, logY: Bool = false, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.logY = logY
        self.series = series
    }

    /// Whether a point can be drawn on these axes.
    func drawable(_ point: Point) -> Bool {
        point.x.isFinite && point.y.isFinite && (!logY || point.y > 0)
    }

    public var xAxis: Axis {
        Self.linearAxis(series.flatMap { $0.points.filter(drawable).map(\.x) })
    }

    public var yAxis: Axis {
        let values = series.flatMap { $0.points.filter(drawable).map(\.y) }
        return logY ? Self.logAxis(values) : Self.linearAxis(values)
    }

    /// Pixel coordinates of a data point (nil when it cannot be drawn): the axes' ranges fill the plot area.
    public func position(_ point: Point) -> (x: Double, y: Double)? {
        guard drawable(point) else { return nil }
        return (pixelX(point.x, xAxis), pixelY(point.y, yAxis))
    }

    func pixelX(_ x: Double, _ axis: Axis) -> Double {
        left + (x - axis.low) / (axis.high - axis.low) * (width - left - right)
    }

    func pixelY(_ y: Double, _ axis: Axis) -> Double {
        let value = axis.log ? log10(y) : y
        let low = axis.log ? log10(axis.low) : axis.low, high = axis.log ? log10(axis.high) : axis.high
        return height - bottom - (value - low) / (high - low) * (height - top - bottom)
    }

    /// The whole SVG document.
    public func render() -> String {
        let xAxis = xAxis, yAxis = yAxis
        let plotRight = width - right, plotBottom = height - bottom
        var out = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
                + "viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"12\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
            "<text class=\"title\" x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>",
            "<g class=\"axes\" stroke=\"#333\" fill=\"none\">",
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotRight - left))\" height=\"\(f(plotBottom - top))\"/>",
            "</g>",
            "<g class=\"ticks\" fill=\"#333\">",
        ]
        for tick in xAxis.ticks {
            let x = pixelX(tick, xAxis)
            out.append("<line x1=\"\(f(x))\" y1=\"\(f(plotBottom))\" x2=\"\(f(x))\" y2=\"\(f(plotBottom + 5))\" stroke=\"#333\"/>")
            out.append("<text x=\"\(f(x))\" y=\"\(f(plotBottom + 18))\" text-anchor=\"middle\">\(label(tick))</text>")
        }
        for tick in yAxis.ticks {
            let y = pixelY(tick, yAxis)
            out.append("<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(plotRight))\" y2=\"\(f(y))\" stroke=\"#ddd\"/>")
            out.append("<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(label(tick))</text>")
        }
        out.append("</g>")
        out.append("<text class=\"x-label\" x=\"\(f((left + plotRight) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>")
        out.append("<text class=\"y-label\" transform=\"translate(16 \(f((top + plotBottom) / 2))) rotate(-90)\" "
                   + "text-anchor=\"middle\">\(escape(yLabel))\(logY ? " (log scale)" : "")</text>")
        if series.allSatisfy({ $0.points.allSatisfy { !drawable($0) } }) {
            out.append("<text x=\"\(f((left + plotRight) / 2))\" y=\"\(f((top + plotBottom) / 2))\" text-anchor=\"middle\" fill=\"#888\">no data</text>")
        }
        for (index, series) in series.enumerated() {
            out += render(series, color: Self.palette[index % Self.palette.count], xAxis: xAxis, yAxis: yAxis)
            let y = top + 10 + Double(index) * 20
            out.append("<g class=\"legend\"><line x1=\"\(f(plotRight + 12))\" y1=\"\(f(y))\" x2=\"\(f(plotRight + 32))\" y2=\"\(f(y))\" "
                       + "stroke=\"\(Self.palette[index % Self.palette.count])\" stroke-width=\"2\"/>"
                       + "<text x=\"\(f(plotRight + 38))\" y=\"\(f(y + 4))\">\(escape(series.name))</text></g>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// One series as a group: a path of runs of drawable points, and a circle per point when marked.
    func render(_ series: Series, color: String, xAxis: Axis, yAxis: Axis) -> [String] {
        var out = ["<g class=\"series\" data-name=\"\(escape(series.name))\">"]
        if series.style != .markers {
            var d: [String] = [], pen = "M"
            for point in series.points {
                guard drawable(point) else { pen = "M"; continue }
                d.append("\(pen)\(f(pixelX(point.x, xAxis))) \(f(pixelY(point.y, yAxis)))")
                pen = "L"
            }
            if !d.isEmpty {
                out.append("<path d=\"\(d.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            }
        }
        if series.style != .line {
            for point in series.points where drawable(point) {
                out.append("<circle cx=\"\(f(pixelX(point.x, xAxis)))\" cy=\"\(f(pixelY(point.y, yAxis)))\" r=\"3.5\" fill=\"\(color)\"/>")
            }
        }
        out.append("</g>")
        return out
    }

    /// A range widened to whole steps of a 1-2-5 tick spacing (about five ticks); [0, 1] for no values.
    static func linearAxis(_ values: [Double]) -> Axis {
        guard var low = values.min(), var high = values.max() else { return Axis(low: 0, high: 1, ticks: [0, 0.5, 1], log: false) }
        if low == high {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            low -= pad
            high += pad
        }
        let step = niceStep((high - low) / 5)
        low = (low / step).rounded(.down) * step
        high = (high / step).rounded(.up) * step
        let count = Int(((high - low) / step).rounded())
        return Axis(low: low, high: high, ticks: (0...count).map { low + Double($0) * step }, log: false)
    }

    /// A log range widened to the 1-2-5 values around the data; ticks at those values (powers of ten alone when
    /// the range spans many decades).
    static func logAxis(_ values: [Double]) -> Axis {
        guard let low = values.min(), let high = values.max() else { return Axis(low: 1, high: 10, ticks: [1, 10], log: true) }
        let firstDecade = Int(log10(low).rounded(.down)), lastDecade = Int(log10(high).rounded(.down))
        let multipliers: [Double] = lastDecade - firstDecade > 3 ? [1] : [1, 2, 5]
        let candidates = (firstDecade...lastDecade + 1).flatMap { decade in multipliers.map { $0 * pow(10, Double(decade)) } }
        let axisLow = candidates.last { $0 <= low } ?? low
        var axisHigh = candidates.first { $0 >= high } ?? high
        if axisHigh <= axisLow { axisHigh = axisLow * 2 }
        return Axis(low: axisLow, high: axisHigh, ticks: candidates.filter { $0 >= axisLow && $0 <= axisHigh }, log: true)
    }

    /// The 1, 2 or 5 times a power of ten nearest above `rough`.
    static func niceStep(_ rough: Double) -> Double {
        let magnitude = pow(10, log10(rough).rounded(.down))
        return [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough * (1 - 1e-9) } ?? 10 * magnitude
    }

    func f(_ value: Double) -> String { String(format: "%.2f", value) }

    /// Tick values without float noise (0.30000000000000004 prints as 0.3).
    func label(_ value: Double) -> String { String(format: "%g", abs(value) < 1e-12 ? 0 : value) }

    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

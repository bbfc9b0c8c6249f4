import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Coordinator

/// The SVG chart: well-formed XML, one group per series, data mapped onto the plot area, gaps for missing values.
final class SVGPlotTests: XCTestCase {
    /// Every element of a document (name and attributes) and its texts, via Foundation's XML parser.
    final class Elements: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []
        var text = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            elements.append((name, attributes))
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func named(_ name: String, class className: String? = nil) -> [[String: String]] {
            elements.filter { $0.name == name && (className == nil || $0.attributes["class"] == className) }.map(\.attributes)
        }
    }

    func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws -> Elements {
        let parser = XMLParser(data: Data(svg.utf8)), elements = Elements()
        parser.delegate = elements
        XCTAssertTrue(parser.parse(), "not well-formed: \(String(describing: parser.parserError))", file: file, line: line)
        XCTAssertEqual(elements.elements.first?.name, "svg", file: file, line: line)
        return elements
    }

    func plot(_ series: [SVGPlot.Series], logY: Bool = false) -> SVGPlot {
        SVGPlot(title: "Loss <&> \"quoted\"", xLabel: "x", yLabel: "y", logY: logY, series: series)
    }

    func testWellFormedWithOneGroupAndLegendEntryPerSeries() throws {
        let chart = plot([
            .init(name: "a", points: [.init(x: 0, y: 0), .init(x: 10, y: 100)]),
            .init(name: "b & c", points: [.init(x: 5, y: 50)], style: .markers),
            .init(name: "d", points: [.init(x: 1, y: 1), .init(x: 2, y: 3)], style: .line),
        ])
        let parsed = try parse(chart.render())
        XCTAssertEqual(parsed.named("g", class: "series").map { $0["data-name"] }, ["a", "b & c", "d"])
        XCTAssertEqual(parsed.named("g", class: "legend").count, 3)
        XCTAssertTrue(parsed.text.contains("Loss <&> \"quoted\""), "the title is escaped and survives parsing")
        // Paths for "a" and "d" (not the markers-only "b"); circles for "a" (2) and "b" (1), none for line-only "d".
        XCTAssertEqual(parsed.named("path").count, 2)
        XCTAssertEqual(parsed.named("circle").count, 3)
        // x ticks 0, 2, ..., 10 and y ticks 0, 20, ..., 100 (1-2-5 spacing, about five intervals).
        XCTAssertEqual(chart.xAxis.ticks, [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(chart.yAxis.ticks, [0, 20, 40, 60, 80, 100])
        for label in ["0", "20", "100", "10"] { XCTAssertTrue(parsed.text.contains(label)) }
    }

    func testDataRangeFillsThePlotArea() throws {
        let chart = plot([.init(name: "a", points: [.init(x: 0, y: 0), .init(x: 5, y: 50), .init(x: 10, y: 100)])])
        // Plot area: x from 70 to 720 - 170 = 550, y from 420 - 55 = 365 (bottom) to 40 (top).
        let low = try XCTUnwrap(chart.position(.init(x: 0, y: 0))), middle = try XCTUnwrap(chart.position(.init(x: 5, y: 50)))
        let high = try XCTUnwrap(chart.position(.init(x: 10, y: 100)))
        XCTAssertEqual(low.x, 70, accuracy: 1e-9); XCTAssertEqual(low.y, 365, accuracy: 1e-9)
        XCTAssertEqual(middle.x, 310, accuracy: 1e-9); XCTAssertEqual(middle.y, 202.5, accuracy: 1e-9)
        XCTAssertEqual(high.x, 550, accuracy: 1e-9); XCTAssertEqual(high.y, 40, accuracy: 1e-9)
        let circles = try parse(chart.render()).named("circle")
        XCTAssertTrue(circles.contains { $0["cx"] == "310.00" && $0["cy"] == "202.50" }, "\(circles)")
    }

    func testAxisWidensToWholeTickSteps() {
        let axis = SVGPlot.linearAxis([0.3, 2.7])  // span 2.4 -> step 0.5
        XCTAssertEqual(axis.low, 0)
        XCTAssertEqual(axis.high, 3)
        XCTAssertEqual(axis.ticks.count, 7)
        XCTAssertEqual(axis.ticks[3], 1.5, accuracy: 1e-12)
        let flat = SVGPlot.linearAxis([4, 4])  // one value: widened by 10% each side, not a zero-width range
        XCTAssertLessThan(flat.low, 4)
        XCTAssertGreaterThan(flat.high, 4)
        XCTAssertEqual(SVGPlot.niceStep(0.48), 0.5)
        XCTAssertEqual(SVGPlot.niceStep(3), 5)
        XCTAssertEqual(SVGPlot.niceStep(12), 20)
    }

    func testLogScaleMapsDecadesEvenly() throws {
        let chart = plot([.init(name: "a", points: [.init(x: 0, y: 2.5), .init(x: 1, y: 4), .init(x: 2, y: -1)])], logY: true)
        XCTAssertEqual(chart.yAxis, SVGPlot.Axis(low: 2, high: 5, ticks: [2, 5], log: true))
        // sqrt(2 * 5) is halfway between 2 and 5 on a log axis.
        let y = try XCTUnwrap(chart.position(.init(x: 1, y: (10.0).squareRoot()))).y
        XCTAssertEqual(y, 202.5, accuracy: 1e-9)
        XCTAssertNil(chart.position(.init(x: 2, y: -1)), "a non-positive value has no place on a log axis")
        XCTAssertEqual(try parse(chart.render()).named("circle").count, 2)
        let wide = SVGPlot.logAxis([0.003, 700_000])
        XCTAssertEqual(wide.low, 0.001, accuracy: 1e-15)
        XCTAssertEqual(wide.high, 1_000_000)
        XCTAssertEqual(wide.ticks.count, 10, "powers of ten only over many decades")
    }

    func testMissingValuesBreakTheLineAndEmptySeriesStayInTheLegend() throws {
        let chart = plot([
            .init(name: "gappy", points: [.init(x: 0, y: 1), .init(x: 1, y: .nan), .init(x: 2, y: 3), .init(x: 3, y: 4),
                                          .init(x: .infinity, y: 2)], style: .line),
            .init(name: "empty", points: []),
        ])
        let parsed = try parse(chart.render())
        let d = try XCTUnwrap(parsed.named("path").first?["d"])
        XCTAssertEqual(d.filter { $0 == "M" }.count, 2, "the NaN splits the line: \(d)")
        XCTAssertEqual(d.filter { $0 == "L" }.count, 1)
        XCTAssertFalse(d.contains("nan") || d.contains("inf"))
        XCTAssertEqual(chart.xAxis.high, 3, "non-finite points do not stretch the axes")
        XCTAssertEqual(parsed.named("g", class: "series").count, 2)
        XCTAssertEqual(parsed.named("g", class: "legend").count, 2)

        let nothing = try parse(plot([.init(name: "a", points: [.init(x: .nan, y: .nan)])]).render())
        XCTAssertTrue(nothing.text.contains("no data"))
        XCTAssertTrue(nothing.named("path").isEmpty)
        XCTAssertTrue(try parse(plot([]).render()).text.contains("no data"))
    }
}

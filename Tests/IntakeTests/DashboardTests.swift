import Foundation
@testable import Observability
import XCTest

/// The Grafana dashboard in docs/grafana refers only to metrics the gateway exports, and is a dashboard
/// Grafana can import: every panel queries the chosen Prometheus data source and filters by the chosen apps.
final class DashboardTests: XCTestCase {
    func testEveryQueryNamesAnExportedMetricAndTheDashboardIsWellFormed() throws {
        let url = URL(fileURLWithPath: repositoryRoot + "/docs/grafana/apns-gateway.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        let dashboard = try XCTUnwrap(object as? [String: Any])
        XCTAssertEqual(dashboard["uid"] as? String, "apns-gateway")
        let panels = try XCTUnwrap(dashboard["panels"] as? [[String: Any]])
        let exported = Set(MetricName.all.map(\.name))
        var series = exported
        for family in MetricName.histograms {
            series.formUnion(["_bucket", "_sum", "_count"].map { family.name + $0 })
        }
        let pattern = try NSRegularExpression(pattern: "apns_gateway_[a-z0-9_]+")
        var queried = Set<String>()
        var ids = Set<Int>()
        for panel in panels where panel["type"] as? String != "row" {
            let title = panel["title"] as? String ?? "?"
            XCTAssertTrue(ids.insert(panel["id"] as? Int ?? -1).inserted, "\(title): a unique id")
            XCTAssertEqual((panel["datasource"] as? [String: Any])?["uid"] as? String, "${datasource}", title)
            let targets = try XCTUnwrap(panel["targets"] as? [[String: Any]], title)
            XCTAssertFalse(targets.isEmpty, title)
            for target in targets {
                let expression = try XCTUnwrap(target["expr"] as? String, title)
                let names = pattern.matches(in: expression, range: NSRange(expression.startIndex..., in: expression))
                    .map { String(expression[Range($0.range, in: expression)!]) }
                XCTAssertFalse(names.isEmpty, "\(title): \(expression)")
                for name in names {
                    XCTAssertTrue(series.contains(name), "\(title): \(name) is not a metric the gateway exports")
                    queried.insert(name)
                }
                // Per-app metrics follow the app selector; the intake's have no app label.
                if names.contains(where: { !MetricName.withoutApp.contains(family($0)) }) {
                    XCTAssertTrue(expression.contains(#"app=~"$app""#), "\(title): \(expression) ignores the app selector")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(queried.count, 20, "the dashboard covers most of the metrics")
        // The Live Activity figures are all on it.
        for family in [
            MetricName.scheduledEnds, MetricName.scheduledEndsByState, MetricName.tokensRetired, MetricName.priorityPushes,
            MetricName.overBudget,
        ] {
            XCTAssertTrue(queried.contains(family.name), "the dashboard shows \(family.name)")
        }
        for family in [MetricName.fanOutTokens, MetricName.operationLatency] {
            XCTAssertTrue(queried.contains(family.name + "_bucket"), "the dashboard shows \(family.name)")
        }
    }

    /// The family a series belongs to (`…_bucket` → `…`).
    private func family(_ series: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where series.hasSuffix(suffix) {
            let base = String(series.dropLast(suffix.count))
            if MetricName.histograms.contains(where: { $0.name == base }) { return base }
        }
        return series
    }
}

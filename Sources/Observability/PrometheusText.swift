import APNs

/// Prometheus text format (version 0.0.4) for what the exporter writes itself: histograms from snapshots.
enum PrometheusText {
    static func histogramHeader(_ family: MetricName.Family, into out: inout [UInt8]) {
        out += "# HELP \(family.name) \(family.help)\n".utf8
        out += "# TYPE \(family.name) histogram\n".utf8
    }

    /// `name_bucket{…,le="…"}` for every bound and `+Inf`, then `name_sum` and `name_count`.
    static func histogram(_ name: String, labels: [(String, String)], _ snapshot: HistogramSnapshot, into out: inout [UInt8]) {
        let rendered = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
        let prefix = rendered.isEmpty ? "" : rendered + ","
        let cumulative = snapshot.cumulativeCounts
        for (index, bound) in snapshot.bounds.enumerated() {
            out += "\(name)_bucket{\(prefix)le=\"\(HistogramSnapshot.label(bound))\"} \(cumulative[index])\n".utf8
        }
        let total = cumulative[cumulative.count - 1]
        out += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(total)\n".utf8
        let braces = rendered.isEmpty ? "" : "{\(rendered)}"
        out += "\(name)_sum\(braces) \(snapshot.sumSeconds)\n".utf8
        out += "\(name)_count\(braces) \(total)\n".utf8
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func escape(_ value: String) -> String {
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}

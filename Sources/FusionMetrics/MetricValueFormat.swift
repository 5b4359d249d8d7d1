/// How metric values are printed, the same by `fusion eval` (table, CSV, JSON) and the HTML
/// report of a dataset run.
public enum MetricValueFormat {
    /// A table cell: 4 decimals; NaN and infinities as `nan`, `inf`, `-inf`; a missing value
    /// as `-`.
    public static func table(_ value: Double?) -> String {
        value.map { $0.isFinite ? String(format: "%.4f", $0) : exact($0) } ?? "-"
    }

    /// The shortest decimal that reads back as the same Double; NaN and infinities as
    /// `nan`, `inf`, `-inf`.
    public static func exact(_ v: Double) -> String { v.isFinite ? "\(v)" : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")) }
}

/// Dates of Live Activity pushes (`timestamp`, `stale-date`, `dismissal-date`): always sent as
/// integer epoch seconds, accepted as epoch seconds or as ISO-8601 text.
public enum LiveActivityDate {
    /// 9999-12-31T23:59:59Z, the latest date accepted.
    public static let latest: Int64 = 253_402_300_799

    /// Parses a date into epoch seconds, or returns `nil`.
    ///
    /// Accepted forms:
    /// - epoch seconds: ASCII digits only (no sign, no fraction), at most ``latest``;
    /// - ISO-8601 / RFC 3339 date-time: `YYYY-MM-DDThh:mm:ss`, optionally `.` and one or more
    ///   digits of fraction (dropped: the result is rounded down to the second), then a zone that is
    ///   required: `Z`, `±hh:mm` or `±hhmm`. `T` and `Z` may be lowercase.
    ///
    /// Rejected: anything else, including surrounding spaces, dates without a zone, invalid
    /// calendar dates (`2023-02-29`), leap seconds (`:60`), and results before 1970 or after
    /// ``latest``.
    public static func parse(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes in
            guard let first = bytes.first else { return nil }
            if isDigit(first), bytes.count <= 12, bytes.allSatisfy(isDigit) {
                let value = bytes.reduce(Int64(0)) { $0 * 10 + Int64($1 &- UInt8(ascii: "0")) }
                return value <= latest ? value : nil
            }
            return parseISO8601(bytes)
        }
    }

    /// Parses a date like ``parse(_:)``, throwing
    /// ``LiveActivityPayloadError/badDate(field:value:)`` naming `field` when it is not one.
    public static func parse(_ text: String, field: String) throws(LiveActivityPayloadError) -> Int64 {
        guard let seconds = parse(text) else {
            throw .badDate(field: field, value: text)
        }
        return seconds
    }

    /// Epoch seconds of a proleptic Gregorian date and time in UTC; the fields are not checked.
    static func epochSeconds(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) -> Int64 {
        // Days from civil (H. Hinnant): count from 0000-03-01 so the leap day ends the year.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    private static func parseISO8601(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
        var cursor = Cursor(bytes: bytes)
        guard let year = cursor.number(digits: 4), cursor.skip("-"),
              let month = cursor.number(digits: 2), cursor.skip("-"),
              let day = cursor.number(digits: 2), cursor.skip("T") || cursor.skip("t"),
              let hour = cursor.number(digits: 2), cursor.skip(":"),
              let minute = cursor.number(digits: 2), cursor.skip(":"),
              let second = cursor.number(digits: 2)
        else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }
        if cursor.skip(".") {
            guard let digit = cursor.peek, isDigit(digit) else { return nil }
            while let digit = cursor.peek, isDigit(digit) {
                cursor.index += 1
            }
        }
        var offset: Int64 = 0
        if cursor.skip("Z") || cursor.skip("z") {
            offset = 0
        } else {
            let sign: Int64
            if cursor.skip("+") {
                sign = 1
            } else if cursor.skip("-") {
                sign = -1
            } else {
                return nil
            }
            guard let offsetHours = cursor.number(digits: 2) else { return nil }
            _ = cursor.skip(":")
            guard let offsetMinutes = cursor.number(digits: 2), offsetHours <= 23, offsetMinutes <= 59 else {
                return nil
            }
            offset = sign * (offsetHours * 3_600 + offsetMinutes * 60)
        }
        guard cursor.isAtEnd else { return nil }
        let local = epochSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        let seconds = local - offset
        return (0...latest).contains(seconds) ? seconds : nil
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var isAtEnd: Bool { self.index == self.bytes.count }
        var peek: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard self.peek == UInt8(ascii: character) else { return false }
            self.index += 1
            return true
        }

        mutating func number(digits: Int) -> Int64? {
            guard self.index + digits <= self.bytes.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<digits {
                let byte = self.bytes[self.index + offset]
                guard isDigit(byte) else { return nil }
                value = value * 10 + Int64(byte &- UInt8(ascii: "0"))
            }
            self.index += digits
            return value
        }
    }
}

@inline(__always)
private func isDigit(_ byte: UInt8) -> Bool {
    byte &- UInt8(ascii: "0") < 10
}

/// Why a registry operation failed. Messages never contain a whole token (at most its first 8
/// characters).
public enum LiveActivityRegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A required identifier (`activityID`, `deviceID`, `userID`, `app`, ...) is empty, too long
    /// or contains a control character; the message says which and why.
    case badIdentifier(field: String, problem: String)
    /// A token is not an even number of hex digits (the message from APNsCore's check).
    case badToken(String)
    /// A time or date is negative.
    case badTime(field: String, value: Int64)
    /// A scheduled end would not make a valid end push (its content state is not a JSON object,
    /// or the payload is too large).
    case badEndPayload(LiveActivityPayloadError)
    /// The token is already registered to another activity, device, user or app.
    case tokenConflict(token: String, registeredTo: String)
    /// The (activity, device) pair is registered for another app.
    case appMismatch(key: String, registeredApp: String, requestedApp: String)
    /// A scheduled end with this ID exists with other details.
    case scheduleConflict(id: String)
    /// The database's schema version is newer than this build understands.
    case unsupportedSchema(found: Int, supported: Int)
    /// The database was closed.
    case closed
    /// SQLite failed: what was being done, its result code and its message.
    case database(operation: String, code: Int32, message: String)
    /// PostgreSQL failed or could not be reached: what was being done, the server's SQLSTATE when it answered
    /// (`28P01` a wrong password, `3D000` no such database, ...), and what went wrong. Never holds a password.
    case postgres(operation: String, sqlState: String?, message: String)

    /// What is wrong, specific and human-readable.
    public var description: String {
        switch self {
        case .badIdentifier(let field, let problem):
            return "\(field) \(problem)"
        case .badToken(let message):
            return message
        case .badTime(let field, let value):
            return "\(field) \(value) is negative; times are epoch seconds"
        case .badEndPayload(let error):
            return "the scheduled end push would be invalid: \(error)"
        case .tokenConflict(let token, let registeredTo):
            return "token \(token) is already registered to \(registeredTo); unregister it there first"
        case .appMismatch(let key, let registeredApp, let requestedApp):
            return "\(key) is registered for app \(quoted(registeredApp)), not \(quoted(requestedApp))"
        case .scheduleConflict(let id):
            return "a scheduled end with id \(quoted(id)) already exists with other details"
        case .unsupportedSchema(let found, let supported):
            return "the registry database has schema version \(found); this build understands up to \(supported)"
        case .closed:
            return "the registry database is closed"
        case .database(let operation, let code, let message):
            return "SQLite error \(code) while \(operation): \(message)"
        case .postgres(let operation, let sqlState, let message):
            if let sqlState {
                return "PostgreSQL error \(sqlState) while \(operation): \(message)"
            }
            return "PostgreSQL unavailable while \(operation): \(message)"
        }
    }
}

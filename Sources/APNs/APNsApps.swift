import APNsCore

/// An app the gateway sends for: its name in requests (`"app"`), its bundle ID (the base of its topics) and
/// the client that carries its notifications.
public struct APNsApp: Sendable {
    /// The name requests use in `"app"`.
    public var name: String
    /// The bundle ID; a push type's default topic is this plus the type's suffix.
    public var bundleID: String
    /// The client that carries this app's notifications. Apps may share one client.
    public var client: APNsClient
    /// The environment of the tokens this client can reach (`production` for api.push.apple.com, `development`
    /// for the sandbox); `nil` for a custom endpoint such as the mock, which takes every token.
    public var tokenEnvironment: APNsTokenEnvironment?

    /// Creates an app entry.
    public init(name: String, bundleID: String, client: APNsClient, tokenEnvironment: APNsTokenEnvironment? = nil) {
        self.name = name
        self.bundleID = bundleID
        self.client = client
        self.tokenEnvironment = tokenEnvironment
    }
}

/// Why a request's `"app"` names no configured app.
public enum APNsAppLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No app has this name.
    case unknown(name: String, known: [String])
    /// The request names no app and several are configured.
    case required

    public var description: String {
        switch self {
        case .unknown(let name, let known):
            let shown = name.count > 40 ? String(name.prefix(40)) + "…" : name
            return "no app named \"\(shown)\" is configured; known: \(known.joined(separator: ", "))"
        case .required:
            return "\"app\" is required: several apps are configured"
        }
    }
}

/// The configured apps and which one serves requests that name none: the one place where a request's `"app"`
/// is resolved, for `send` and the Live Activity ops alike.
public struct APNsApps: Sendable {
    /// The apps by name.
    public let byName: [String: APNsApp]
    /// The app for requests that name none: the configured default, or the only app.
    public let defaultApp: APNsApp?
    /// Every distinct client once, in a stable order (by the name of its first app).
    public let clients: [(name: String, client: APNsClient)]

    /// The apps; `defaultApp` names the default (nil: the only app, if there is one).
    public init(_ apps: [APNsApp], defaultApp: String? = nil) {
        var table: [String: APNsApp] = [:]
        for app in apps { table[app.name] = app }
        self.byName = table
        if let defaultApp {
            self.defaultApp = table[defaultApp]
        } else {
            self.defaultApp = apps.count == 1 ? apps.first : nil
        }
        var seen: Set<ObjectIdentifier> = []
        var clients: [(String, APNsClient)] = []
        for app in apps.sorted(by: { $0.name < $1.name }) where seen.insert(ObjectIdentifier(app.client)).inserted {
            clients.append((app.name, app.client))
        }
        self.clients = clients
    }

    /// The app a request names, or the default app when it names none.
    public func app(named name: String?) throws(APNsAppLookupError) -> APNsApp {
        if let name {
            guard let app = byName[name] else { throw .unknown(name: name, known: byName.keys.sorted()) }
            return app
        }
        guard let defaultApp else { throw .required }
        return defaultApp
    }

    /// The app with a bundle ID: the default app first, then by name.
    public func app(forBundleID bundleID: String) -> APNsApp? {
        if let defaultApp, defaultApp.bundleID == bundleID { return defaultApp }
        return byName.values.sorted { $0.name < $1.name }.first { $0.bundleID == bundleID }
    }
}

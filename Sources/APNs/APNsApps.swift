import APNsCore

/// An app the gateway sends for: its name in requests (`"app"`), its bundle ID (the base of its topics) and
/// the client that carries its notifications.
///
/// A class, not a struct: every notification looks its app up, and handing a reference on costs one reference
/// count where a struct of these fields costs one per field.
public final class APNsApp: Sendable {
    /// The name requests use in `"app"`.
    public let name: String
    /// The bundle ID; a push type's default topic is this plus the type's suffix.
    public let bundleID: String
    /// The client that carries this app's notifications. Apps may share one client.
    public let client: APNsClient
    /// The environment of the tokens this client can reach (`production` for api.push.apple.com, `development`
    /// for the sandbox); `nil` for a custom endpoint such as the mock, which takes every token.
    public let tokenEnvironment: APNsTokenEnvironment?
    /// The clients of the app's other environment, when it has connections to both (`sandbox` and
    /// `production`): tokens of that environment go there instead of to ``client``.
    public let otherEnvironments: [APNsTokenEnvironment: APNsClient]
    /// The topic of each push type with a suffix: made once, not per notification.
    private let suffixedTopics: [APNsPushType: String]

    /// Creates an app entry.
    public init(
        name: String, bundleID: String, client: APNsClient, tokenEnvironment: APNsTokenEnvironment? = nil,
        otherEnvironments: [APNsTokenEnvironment: APNsClient] = [:]
    ) {
        self.name = name
        self.bundleID = bundleID
        self.client = client
        self.tokenEnvironment = tokenEnvironment
        self.otherEnvironments = otherEnvironments
        var topics: [APNsPushType: String] = [:]
        for type in APNsPushType.allCases where !type.topicSuffix.isEmpty {
            topics[type] = type.topic(forBundleID: bundleID)
        }
        self.suffixedTopics = topics
    }

    /// The `apns-topic` of a push type for this app (``APNsPushType/topic(forBundleID:)`` of ``bundleID``).
    public func topic(for pushType: APNsPushType) -> String {
        pushType.topicSuffix.isEmpty ? bundleID : suffixedTopics[pushType] ?? pushType.topic(forBundleID: bundleID)
    }

    /// The client for a token of `environment`: ``client`` when the token's environment is unknown (nil) or is
    /// its own, or when ``client`` takes every token (a custom endpoint); else the other environment's client;
    /// nil when the app has no connection that reaches such a token.
    public func client(for environment: APNsTokenEnvironment?) -> APNsClient? {
        guard let environment, let own = tokenEnvironment, environment != own else { return client }
        return otherEnvironments[environment]
    }

    /// Every client of the app with the environment it reaches: ``client`` first.
    public var allClients: [(environment: APNsTokenEnvironment?, client: APNsClient)] {
        [(tokenEnvironment, client)] + otherEnvironments.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value) }
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
    /// Every distinct client once, in a stable order (by the name of its first app); a client of an app's other
    /// environment is named `app/environment` (`demo/development`).
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
        for app in apps.sorted(by: { $0.name < $1.name }) {
            for (environment, client) in app.allClients where seen.insert(ObjectIdentifier(client)).inserted {
                // The first client keeps the app's name; another environment's is `name/environment`.
                clients.append((client === app.client ? app.name : "\(app.name)/\(environment?.rawValue ?? "custom")", client))
            }
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

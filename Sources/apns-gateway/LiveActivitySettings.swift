import APNs
import APNsCore
import Foundation
import JSON
import LiveActivity
import LiveActivityService
import NIOCore

/// The `liveActivities` section of the configuration:
///
/// ```json
/// "liveActivities": {
///   "registryPath": "/var/lib/apns-gateway/live-activities.sqlite",
///   (or "store": {"sqlite": {"path": ...}} or {"postgres": {...}}: ``RegistryStoreSettings``)
///   "maxUsersPerStart": 1000,
///   "maxTokensPerStart": 10000,
///   "schedulerIntervalSeconds": 1,
///   "endedRetentionSeconds": 86400,
///   "priorityBudgetPerHour": 10,
///   "lifecycle": {
///     "cancelled": {"event": "end", "contentState": {"status": "cancelled"}, "dismissal": "now"},
///     "started": {"event": "update", "contentState": {"status": "started", "eta": "{{eta}}"}, "priority": 10}
///   }
/// }
/// ```
struct LiveActivitySettings {
    var store: RegistryStoreSettings
    /// The SQLite file, when the store is one.
    var registryPath: String? {
        if case .sqlite(let path) = store { return path }
        return nil
    }
    var maxUsersPerStart = LiveActivityServiceConfiguration.defaultMaxUsersPerStart
    var maxTokensPerStart = LiveActivityServiceConfiguration.defaultMaxTokensPerStart
    var schedulerInterval = LiveActivityServiceConfiguration.defaultSchedulerInterval
    var lifecycle: [String: LifecycleRule] = [:]
    var endedRetentionSeconds = LiveActivityServiceConfiguration.defaultEndedRetentionSeconds
    var priorityBudgetPerHour = LiveActivityServiceConfiguration.defaultPriorityBudgetPerHour

    static func parse(_ object: inout ConfigObject, resolve: (String) -> String) throws -> LiveActivitySettings {
        var settings = LiveActivitySettings(store: try RegistryStoreSettings.parse(&object, resolve: resolve))
        settings.maxUsersPerStart =
            try object.int("maxUsersPerStart", in: LiveActivityServiceConfiguration.maxUsersPerStartRange) ?? settings.maxUsersPerStart
        settings.maxTokensPerStart =
            try object.int("maxTokensPerStart", in: LiveActivityServiceConfiguration.maxTokensPerStartRange)
            ?? settings.maxTokensPerStart
        settings.schedulerInterval =
            try duration(&object, "schedulerIntervalSeconds", in: LiveActivityServiceConfiguration.schedulerIntervalRange)
            ?? settings.schedulerInterval
        if let seconds = try object.int("endedRetentionSeconds", in: LiveActivityServiceConfiguration.endedRetentionSecondsRange) {
            settings.endedRetentionSeconds = Int64(seconds)
        }
        settings.priorityBudgetPerHour =
            try object.int("priorityBudgetPerHour", in: LiveActivityServiceConfiguration.priorityBudgetPerHourRange)
            ?? settings.priorityBudgetPerHour
        if var states = try object.object("lifecycle") {
            for state in states.keys {
                guard var rule = try states.object(state) else {
                    throw ConfigError(key: states.key(state), problem: "must be an object")
                }
                settings.lifecycle[state] = try parseRule(&rule)
                try rule.finish()
            }
            try states.finish()
        }
        try object.finish()
        return settings
    }

    private static func parseRule(_ rule: inout ConfigObject) throws -> LifecycleRule {
        let eventName = try rule.requiredString("event")
        guard let event = LiveActivityEvent(rawValue: eventName), event != .start else {
            throw ConfigError(key: rule.key("event"), problem: "must be \"update\" or \"end\"")
        }
        var contentState: JSONTemplate?
        if let value = rule.raw("contentState") {
            guard value.kind == .object else {
                throw ConfigError(key: rule.key("contentState"), problem: "must be a JSON object (the content-state template)")
            }
            do {
                contentState = try JSONTemplate(bytes: value.bytes)
            } catch {
                throw ConfigError(key: rule.key("contentState"), problem: "\(error)")
            }
        }
        var alert: AlertTemplate?
        if var alertObject = try rule.object("alert") {
            do {
                alert = try AlertTemplate(
                    title: try alertObject.string("title"), body: try alertObject.string("body"),
                    sound: try alertObject.string("sound"))
            } catch let error as LifecycleRuleError {
                throw ConfigError(key: rule.key("alert"), problem: "\(error)")
            }
            try alertObject.finish()
        }
        var dismissal = LifecycleRule.Dismissal.systemDefault
        if let value = rule.raw("dismissal") {
            if value.string == "now" {
                dismissal = .now
            } else if value.string == "default" {
                dismissal = .systemDefault
            } else if let object = value.object {
                var after = ConfigObject(JSONFields(object, path: rule.key("dismissal")))
                guard let seconds = try after.int("afterSeconds", in: 0...(4 * 3600)) else {
                    throw ConfigError(key: after.key("afterSeconds"), problem: "is required")
                }
                try after.finish()
                dismissal = .after(seconds: Int64(seconds))
            } else {
                throw ConfigError(
                    key: rule.key("dismissal"), problem: "must be \"now\", \"default\" or {\"afterSeconds\": N} (N up to 14400)")
            }
        }
        var priority: APNsPriority?
        if let value = try rule.int("priority", in: 1...10) {
            guard value == 5 || value == 10 else {
                throw ConfigError(key: rule.key("priority"), problem: "must be 5 or 10")
            }
            priority = value == 5 ? .conserve : .immediate
        }
        do {
            return try LifecycleRule(
                event: event, contentState: contentState, alert: alert, dismissal: dismissal, priority: priority)
        } catch {
            throw ConfigError(key: rule.path, problem: "\(error)")
        }
    }

    /// The service's settings; `environment` decides which token environment the clients reach.
    func serviceConfiguration(environment: APNsClientConfiguration.Environment) -> LiveActivityServiceConfiguration {
        LiveActivityServiceConfiguration(
            maxUsersPerStart: maxUsersPerStart,
            maxTokensPerStart: maxTokensPerStart,
            schedulerInterval: schedulerInterval,
            lifecycle: lifecycle,
            defaultTokenEnvironment: environment == .production ? .production : .development,
            endedRetentionSeconds: endedRetentionSeconds,
            priorityBudgetPerHour: priorityBudgetPerHour)
    }

    /// The token environment the gateway's clients reach; nil (any) for a custom endpoint.
    static func tokenEnvironment(for environment: APNsClientConfiguration.Environment) -> TokenEnvironment? {
        switch environment {
        case .production: .production
        case .sandbox: .development
        case .custom: nil
        }
    }
}

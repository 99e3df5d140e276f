import APNs
import APNsCore
import Foundation
import HTTP2Engine
import Logging
import NIOConcurrencyHelpers
import Observability

/// What a reload changes, decided from the running configuration and the file's new one, without side effects.
///
/// Applied in place: an app's provider-token key (`keyId`, `teamId`, the key itself: its clients sign new tokens
/// with the new key at once, requests already sent finish with the old one) and the log level. Everything else
/// that differs needs a restart and is only reported: apps added or removed, an app's bundle ID or kind of
/// authentication, a certificate, the environment, the proxy, the pool, the intake and the other sections.
struct ReloadPlan {
    /// A key to hand to an app's token cache.
    struct Rotation {
        var app: String
        var key: APNsSigningKey
        var keyID: String
        var teamID: String
    }

    var rotations: [Rotation] = []
    /// The new log level, when it changed.
    var logLevel: Logger.Level?
    /// What differs and is not applied, in words, for the log.
    var needsRestart: [String] = []

    var isEmpty: Bool { rotations.isEmpty && logLevel == nil && needsRestart.isEmpty }

    init(running: GatewayConfig, new: GatewayConfig) {
        if new.logLevel != running.logLevel { logLevel = new.logLevel }
        for app in new.apps {
            guard let old = running.apps.first(where: { $0.name == app.name }) else {
                needsRestart.append("app \(app.name) added")
                continue
            }
            if app.bundleID != old.bundleID { needsRestart.append("apps.\(app.name).bundleId") }
            switch (old.key, app.key) {
            case (let oldKey?, let newKey?):
                if oldKey.publicKeyPEM != newKey.publicKeyPEM || old.keyID != app.keyID || old.teamID != app.teamID {
                    rotations.append(Rotation(app: app.name, key: newKey, keyID: app.keyID, teamID: app.teamID))
                }
            case (nil, nil):
                if old.certificate != app.certificate { needsRestart.append("apps.\(app.name).certificate") }
            default:
                needsRestart.append("apps.\(app.name): key or certificate authentication")
            }
        }
        for app in running.apps where !new.apps.contains(where: { $0.name == app.name }) {
            needsRestart.append("app \(app.name) removed")
        }
        if new.defaultApp != running.defaultApp { needsRestart.append("defaultApp") }
        if new.environment != running.environment || new.proxy != running.proxy || new.otherEnvironment != running.otherEnvironment {
            needsRestart.append("environment")
        }
        if new.connections != running.connections || new.maxConcurrentStreams != running.maxConcurrentStreams
            || new.maxOutstanding != running.maxOutstanding || new.maxOutstandingBytes != running.maxOutstandingBytes
            || new.reconnectInitialBackoff != running.reconnectInitialBackoff
            || new.reconnectMaxBackoff != running.reconnectMaxBackoff
        {
            needsRestart.append("pool")
        }
        if new.requestTimeout != running.requestTimeout || new.connectTimeout != running.connectTimeout
            || new.pingInterval != running.pingInterval || new.pingTimeout != running.pingTimeout
            || new.shutdownGrace != running.shutdownGrace
        {
            needsRestart.append("timeouts")
        }
        if new.maxAttempts != running.maxAttempts { needsRestart.append("retry") }
        if new.intake.socketPath != running.intake.socketPath || new.intake.maxLineBytes != running.intake.maxLineBytes
            || new.intake.maxBatchSize != running.intake.maxBatchSize
            || new.intake.maxConnections != running.intake.maxConnections
        {
            needsRestart.append("intake")
        }
        if new.logFormat != running.logFormat { needsRestart.append("log.format") }
    }
}

/// Carries out reloads: reads the file again, and applies a ``ReloadPlan`` against what is running. A file
/// that does not validate changes nothing: the error is logged and the running configuration stays.
final class GatewayReloader: Sendable {
    private let configPath: String
    /// The configuration in force: the start's, with the reloads' applied parts.
    private let running: NIOLockedValueBox<GatewayConfig>
    /// Each app's clients (two with two environments).
    private let clients: [String: [APNsClient]]
    private let logger: Logger

    init(configPath: String, running: GatewayConfig, clients: [String: [APNsClient]], logger: Logger) {
        self.configPath = configPath
        self.running = NIOLockedValueBox(running)
        self.clients = clients
        self.logger = logger
    }

    /// Reloads once; also writes one line on standard output (`apns-gateway reloaded` or `apns-gateway reload
    /// failed: …`) for scripts and tests that wait for it.
    func reload() {
        logger.info("SIGHUP: reloading the configuration", metadata: ["config": "\(configPath)"])
        let new: GatewayConfig
        do {
            new = try GatewayConfig.load(path: configPath)
        } catch {
            logger.error(
                "reload failed: the running configuration stays", metadata: ["config": "\(configPath)", "error": "\(error)"])
            announce("apns-gateway reload failed: \(error)")
            return
        }
        let plan = running.withLockedValue { ReloadPlan(running: $0, new: new) }
        var applied: [String] = []
        for rotation in plan.rotations {
            let caches = (clients[rotation.app] ?? []).compactMap(\.tokens)
            guard !caches.isEmpty else { continue }
            do {
                for tokens in caches {
                    try tokens.rotate(key: rotation.key, keyID: rotation.keyID, teamID: rotation.teamID)
                }
            } catch {
                logger.error("key rotation failed: the app keeps its key", metadata: ["app": "\(rotation.app)", "error": "\(error)"])
                continue
            }
            running.withLockedValue { config in
                guard let index = config.apps.firstIndex(where: { $0.name == rotation.app }) else { return }
                config.apps[index].key = rotation.key
                config.apps[index].keyID = rotation.keyID
                config.apps[index].teamID = rotation.teamID
                config.apps[index].keySource = new.apps.first { $0.name == rotation.app }?.keySource ?? ""
            }
            applied.append("apps.\(rotation.app).key")
            logger.info("provider key rotated", metadata: ["app": "\(rotation.app)", "keyId": "\(rotation.keyID)"])
        }
        if let level = plan.logLevel {
            StructuredLogHandler.setProcessLogLevel(level)
            running.withLockedValue { $0.logLevel = level }
            applied.append("log.level")
        }
        if !plan.needsRestart.isEmpty {
            logger.warning(
                "reload: these changes take a restart and are not applied",
                metadata: ["changes": "\(plan.needsRestart.joined(separator: ", "))"])
        }
        logger.info("configuration reloaded", metadata: ["applied": "\(applied.isEmpty ? "nothing" : applied.joined(separator: ", "))"])
        announce("apns-gateway reloaded")
    }

    private func announce(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

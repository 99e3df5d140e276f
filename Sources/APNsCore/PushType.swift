/// The value of the `apns-push-type` header, and the `apns-topic` suffix APNs expects with it.
///
/// The raw value is the exact header value (`"liveactivity"`, `"voip"`, ...).
public enum APNsPushType: String, Sendable, CaseIterable, Hashable {
    /// A notification that shows an alert, plays a sound or badges the app icon.
    case alert
    /// Content delivered in the background (`content-available`); priority 5 or 1.
    case background
    /// An update for a watchOS complication (topic suffix `.complication`).
    case complication
    /// A reload of the app's Control Center controls (topic suffix `.push-type.controls`).
    case controls
    /// A File Provider extension signal (topic suffix `.pushkit.fileprovider`).
    case fileprovider
    /// A Live Activity start, update or end (topic suffix `.push-type.liveactivity`).
    case liveactivity
    /// A location query for a Location Push Service extension (topic suffix `.location-query`).
    case location
    /// A device-management wake-up; the topic comes from the MDM push certificate.
    case mdm
    /// A Push to Talk notification (topic suffix `.voip-ptt`).
    case pushtotalk
    /// An incoming VoIP call via PushKit (topic suffix `.voip`); payload up to 5120 bytes.
    case voip
    /// A widget reload (topic suffix `.push-type.widgets`).
    case widgets

    /// The suffix APNs requires on `apns-topic` after the app's bundle ID for this push type.
    ///
    /// Empty for `alert`, `background` and `mdm`, whose topic is the bundle ID (or, for MDM, the
    /// certificate's topic) itself.
    public var topicSuffix: String {
        switch self {
        case .alert, .background, .mdm: return ""
        case .complication: return ".complication"
        case .controls: return ".push-type.controls"
        case .fileprovider: return ".pushkit.fileprovider"
        case .liveactivity: return ".push-type.liveactivity"
        case .location: return ".location-query"
        case .pushtotalk: return ".voip-ptt"
        case .voip: return ".voip"
        case .widgets: return ".push-type.widgets"
        }
    }

    /// The largest payload, in bytes, APNs accepts for this push type: 5120 for VoIP, 4096 otherwise.
    public var maxPayloadSize: Int {
        self == .voip ? 5120 : 4096
    }

    /// The `apns-topic` for an app's bundle ID: the bundle ID followed by ``topicSuffix``.
    ///
    /// A bundle ID that already ends with the suffix is returned unchanged, so calling this on a
    /// topic that was already derived is harmless.
    public func topic(forBundleID bundleID: String) -> String {
        let suffix = self.topicSuffix
        if suffix.isEmpty || bundleID.utf8.hasSuffix(suffix.utf8) {
            return bundleID
        }
        return bundleID + suffix
    }
}

extension String.UTF8View {
    /// Whether the bytes end with `suffix`, compared byte by byte (no Unicode normalisation).
    func hasSuffix(_ suffix: String.UTF8View) -> Bool {
        let count = self.count
        let suffixCount = suffix.count
        guard suffixCount <= count else { return false }
        return self.dropFirst(count - suffixCount).elementsEqual(suffix)
    }
}

extension SQLiteLiveActivityRegistry {
    private static let channelColumns = "id, app, environment, storage_policy, created_at"

    public func saveChannel(_ channel: BroadcastChannelRecord) throws(LiveActivityRegistryError) {
        try channel.check()
        try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "INSERT OR REPLACE INTO broadcast_channels (\(Self.channelColumns)) VALUES (?1, ?2, ?3, ?4, ?5)"
            ).run("storing a channel", bind: [
                .text(channel.id), .text(channel.app), .text(channel.environment),
                .integer(Int64(channel.storagePolicy)), .integer(channel.createdAt),
            ])
        }
    }

    public func deleteChannel(id: String) throws(LiveActivityRegistryError) -> Bool {
        try RegistryInput.checkIdentifier(id, field: "channelId")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.transaction("deleting a channel") { () throws(LiveActivityRegistryError) in
                try connection.statement("DELETE FROM channel_bindings WHERE channel_id = ?1")
                    .run("unbinding a channel", bind: [.text(id)])
                try connection.statement("DELETE FROM broadcast_channels WHERE id = ?1")
                    .run("deleting a channel", bind: [.text(id)])
                return connection.changes > 0
            }
        }
    }

    public func channel(id: String) throws(LiveActivityRegistryError) -> BroadcastChannelRecord? {
        try RegistryInput.checkIdentifier(id, field: "channelId")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement("SELECT \(Self.channelColumns) FROM broadcast_channels WHERE id = ?1")
                .firstRow("reading a channel", bind: [.text(id)], map: Self.channelRecord)
        }
    }

    public func channels(app: String, environment: String) throws(LiveActivityRegistryError) -> [BroadcastChannelRecord] {
        try RegistryInput.checkIdentifier(app, field: "app")
        return try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement(
                "SELECT \(Self.channelColumns) FROM broadcast_channels WHERE app = ?1 AND environment = ?2 ORDER BY id"
            ).rows("reading channels", bind: [.text(app), .text(environment)], map: Self.channelRecord)
        }
    }

    public func bind(_ subject: ChannelSubject, to channelID: String?, at now: Int64) throws(LiveActivityRegistryError) {
        try RegistryInput.checkIdentifier(subject.identifier, field: subject.kind == "activity" ? "activityId" : "streamId")
        if let channelID { try RegistryInput.checkIdentifier(channelID, field: "channelId") }
        try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            if let channelID {
                try connection.statement(
                    "INSERT OR REPLACE INTO channel_bindings (kind, subject_id, channel_id, bound_at) VALUES (?1, ?2, ?3, ?4)"
                ).run("binding a channel", bind: [.text(subject.kind), .text(subject.identifier), .text(channelID), .integer(now)])
            } else {
                try connection.statement("DELETE FROM channel_bindings WHERE kind = ?1 AND subject_id = ?2")
                    .run("unbinding a channel", bind: [.text(subject.kind), .text(subject.identifier)])
            }
        }
    }

    public func boundChannel(of subject: ChannelSubject) throws(LiveActivityRegistryError) -> String? {
        try self.withConnection { (connection) throws(LiveActivityRegistryError) in
            try connection.statement("SELECT channel_id FROM channel_bindings WHERE kind = ?1 AND subject_id = ?2")
                .firstRow("reading a channel binding", bind: [.text(subject.kind), .text(subject.identifier)]) { $0.text(0) }
        }
    }

    static func channelRecord(_ row: SQLiteRow) throws(LiveActivityRegistryError) -> BroadcastChannelRecord {
        BroadcastChannelRecord(
            id: row.text(0), app: row.text(1), environment: row.text(2), storagePolicy: Int(row.integer(3)),
            createdAt: row.integer(4))
    }
}
